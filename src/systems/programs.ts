import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { describeError, formatSeconds } from '../errors.js'
import { runInOwnGroup } from './process-group.js'

/** External programs (apt, lynis, trivy, nmap): found on PATH, run with an argument array and a bound. */

/** The program's path on PATH (plus the sbin directories cron's PATH lacks), or undefined. */
export async function findExecutable(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin']
  for (const dir of [...new Set(dirs)]) {
    const candidate = join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

export interface ProgramResult {
  exitCode: number
  stdout: string
  stderr: string
}

export class ProgramError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'cancelled' | 'failed',
  ) {
    super(message)
    this.name = 'ProgramError'
  }
}

/**
 * Runs a program and returns its output whatever its exit code; throws a ProgramError (one line)
 * when it could not run, ran out of `timeoutMs`, or `signal` cancelled it. stdin is closed, the
 * locale is C so output parses the same everywhere.
 */
export async function runProgram(
  file: string,
  args: string[],
  options: { timeoutMs: number; signal?: AbortSignal; env?: Record<string, string> },
): Promise<ProgramResult> {
  const name = file.split('/').at(-1)
  try {
    const result = await runInOwnGroup(file, args, {
      timeout: options.timeoutMs,
      ...(options.signal ? { cancelSignal: options.signal } : {}),
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C', LANG: 'C', ...options.env },
      maxBuffer: 64 * 1024 * 1024,
      forceKillAfterDelay: 2000,
    })
    if (result.timedOut) throw new ProgramError(`${name} did not finish within ${formatSeconds(options.timeoutMs)}`, 'timeout')
    if (result.isCanceled) throw new ProgramError(`${name} was cancelled`, 'cancelled')
    if (result.exitCode === undefined) throw new ProgramError(`${name} could not run: ${(result.shortMessage ?? '').split('\n')[0]}`, 'failed')
    return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) }
  } catch (error) {
    if (error instanceof ProgramError) throw error
    throw new ProgramError(`${name} could not run: ${describeError(error)}`, 'failed')
  }
}
