import { hostname } from 'node:os'
import { Command, Errors } from '@oclif/core'
import { loadConfig, type Config } from '../config/load.js'
import { LockHeldError, OperationFailure, UsageError, describeError, type ErrorCode } from '../errors.js'
import { errorDocument, type ErrorDocument } from '../report/model.js'
import { jsonRequested, toJson, writeStandardOutput } from './output.js'

interface Problem {
  exitCode: number
  code: ErrorCode
  message: string
  hint?: string
}

/** What a thrown value means to the user: the contract's exit code, a stable code, one line and a hint. */
function problemOf(thrown: Error, usage: string): Problem {
  const oclifExit = (thrown as { oclif?: { exit?: number } }).oclif?.exit
  if (thrown instanceof UsageError) return { exitCode: 2, code: thrown.code, message: thrown.message, hint: thrown.hint }
  if (thrown instanceof OperationFailure) return { exitCode: 1, code: 'operation-failed', message: thrown.message, hint: thrown.hint }
  if (thrown instanceof LockHeldError)
    return { exitCode: 3, code: 'lock-held', message: thrown.message, hint: 'wait for it to finish, or pass --wait-lock SECONDS' }
  // oclif's own: a flag or argument it could not parse.
  if (oclifExit === 2) return { exitCode: 2, code: 'usage', message: describeError(thrown), hint: usage }
  return {
    exitCode: oclifExit ?? 1,
    code: 'internal',
    message: `internal error: ${describeError(thrown)}`,
    hint: 'this is a bug in probe-ops; run again with DEBUG=1 for the stack',
  }
}

/**
 * The base of every probe-ops command: whatever a command throws ends as one line on stderr
 * (and a hint) with the contract's exit code, never a stack trace. A user's mistake exits 2,
 * a held lock 3, a failed operation 1; anything else is our bug, said as such. Under --json,
 * stdout also holds an error document then, so it is one JSON document on every exit.
 */
export abstract class ProbeOpsCommand extends Command {
  /** The host the error document names: the configuration's, once it is loaded. */
  private documentHost = hostname()
  private printed = false

  /** The configuration; whatever is wrong with it is a bad-config usage error (exit 2). */
  protected loadConfiguration(path: string | undefined): Config {
    try {
      const config = loadConfig(path)
      this.documentHost = config.host
      return config
    } catch (error) {
      if (error instanceof UsageError) throw new UsageError(error.message, error.hint, 'bad-config')
      throw error
    }
  }

  /** The error document names the configuration's host when the file can be read; nothing else is said of it. */
  protected nameHostFrom(path: string | undefined): void {
    try {
      this.documentHost = loadConfig(path).host
    } catch {
      // The run stops for another reason already: that one is the error said.
    }
  }

  /** Writes to stdout; false when it could not be written (said on stderr). */
  protected async print(text: string): Promise<boolean> {
    this.printed = true
    return writeStandardOutput(text)
  }

  protected override async catch(thrown: Error & { oclif?: { exit?: number } }): Promise<unknown> {
    // this.exit(): the command has printed what it had to say.
    if (thrown instanceof Errors.ExitError) return super.catch(thrown)
    const problem = problemOf(thrown, `${this.config.bin} ${this.commandName()} --help shows its usage`)
    if (jsonRequested(this.argv) && !this.printed) {
      await this.print(toJson(this.errorDocument(problem)))
    }
    // oclif's own errors keep oclif's line on stderr.
    if (thrown.oclif?.exit !== undefined) return super.catch(thrown)
    if (problem.code === 'internal' && process.env.DEBUG) process.stderr.write(`${thrown.stack}\n`)
    return this.fail(problem.exitCode, problem.message, problem.hint)
  }

  private commandName(): string {
    return (this.id ?? '').split(':').join(this.config.topicSeparator)
  }

  private errorDocument(problem: Problem): ErrorDocument {
    const { exitCode, code, message, hint } = problem
    return errorDocument(
      { command: this.commandName(), version: this.config.version, host: this.documentHost, exitCode },
      { code, message, ...(hint ? { hint } : {}) },
    )
  }

  protected fail(code: number, message: string, hint?: string): never {
    process.stderr.write(`probe-ops: ${message}\n${hint ? `  ${hint}\n` : ''}`)
    this.exit(code)
  }
}
