import { Command } from '@oclif/core'
import { LockHeldError, OperationFailure, UsageError, describeError } from '../errors.js'
import { writeStandardOutput } from './output.js'

/**
 * The base of every probe-ops command: whatever a command throws ends as one line on stderr
 * (and a hint) with the contract's exit code, never a stack trace. A user's mistake exits 2,
 * a held lock 3, a failed operation 1; anything else is our bug, said as such.
 */
export abstract class ProbeOpsCommand extends Command {
  /** Writes to stdout; false when it could not be written (said on stderr). */
  protected async print(text: string): Promise<boolean> {
    return writeStandardOutput(text)
  }

  protected override async catch(thrown: Error & { oclif?: { exit?: number } }): Promise<unknown> {
    const error: Error = thrown
    if (error instanceof UsageError) return this.fail(2, error.message, error.hint)
    if (error instanceof LockHeldError) return this.fail(3, error.message, 'wait for it to finish, or pass --wait-lock SECONDS')
    if (error instanceof OperationFailure) return this.fail(1, error.message, error.hint)
    if (thrown.oclif?.exit !== undefined) return super.catch(thrown)
    if (process.env.DEBUG) process.stderr.write(`${error.stack}\n`)
    return this.fail(1, `internal error: ${describeError(error)}`, 'this is a bug in probe-ops; run again with DEBUG=1 for the stack')
  }

  protected fail(code: number, message: string, hint?: string): never {
    process.stderr.write(`probe-ops: ${message}\n${hint ? `  ${hint}\n` : ''}`)
    this.exit(code)
  }
}
