import { closeSync, constants, openSync } from 'node:fs'
import { access } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { describeError, formatSeconds } from '../errors.js'
import { asUser, type OsUser } from './os-user.js'
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

export interface ProgramOptions {
  timeoutMs: number
  signal?: AbortSignal
  cwd?: string
  /** Added to this process's environment (after LC_ALL=C), or the whole environment with `replaceEnv`. */
  env?: Record<string, string | undefined>
  /** Give the program `env` and nothing else: nothing of ours (no PG*, no secrets, no NODE_OPTIONS). */
  replaceEnv?: boolean
  /** Run as this user when we are root (see asUser). */
  user?: OsUser
  /** In a session of its own, so that a daemon it starts (pg_ctl start) outlives us and our terminal's signals. */
  detached?: boolean
}

/**
 * Runs a program and returns its output whatever its exit code; throws a ProgramError (one line)
 * when it could not run, ran out of `timeoutMs`, or `signal` cancelled it. stdin is closed, the
 * locale is C so output parses the same everywhere. A daemon it starts must not hold its stdout
 * or stderr (pg_ctl start gets `-l FILE`), or this waits for the daemon.
 */
export async function runProgram(file: string, args: readonly string[], options: ProgramOptions): Promise<ProgramResult> {
  const name = programName(file)
  try {
    const result = await runInOwnGroup(file, args, {
      timeout: options.timeoutMs,
      ...(options.signal ? { cancelSignal: options.signal } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...asUser(options.user),
      reject: false,
      stdin: 'ignore',
      env: options.replaceEnv ? options.env : { LC_ALL: 'C', LANG: 'C', ...options.env },
      extendEnv: !options.replaceEnv,
      // In a group of its own always (process-group.ts); a daemon starter must not be killed when we exit.
      cleanup: !options.detached,
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

/** runProgram, and a ProgramError with the program's last line of output when it exits other than 0. */
export async function runProgramToSuccess(file: string, args: readonly string[], options: ProgramOptions): Promise<ProgramResult> {
  const result = await runProgram(file, args, options)
  if (result.exitCode !== 0) {
    const said = lastLine(result.stderr) ?? lastLine(result.stdout)
    throw new ProgramError(`${programName(file)} exited with ${result.exitCode}${said ? `: ${said}` : ''}`, 'failed')
  }
  return result
}

/** The last non-blank line of a text, trimmed. */
export function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .at(-1)
}

function programName(file: string): string {
  return file.split('/').at(-1) ?? file
}

export interface BackgroundOptions {
  /** stdout and stderr are appended to it (created 0640 when missing). */
  logFile: string
  cwd: string
  /** The whole environment the program gets. */
  env: NodeJS.ProcessEnv
  user?: OsUser
  /** In a session of its own: it outlives us and our terminal's Ctrl-C (a sandbox's services). */
  newSession?: boolean
}

export interface BackgroundProgram {
  pid: number
  /** Set once it has exited. */
  readonly exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
  /** Resolves when it has exited (never rejects). */
  readonly exitPromise: Promise<void>
}

/**
 * Starts a long-running program (a service) with its output appended to a log file, and returns
 * once it runs, without waiting for it to end. Throws a ProgramError when it cannot start.
 */
export async function startInBackground(file: string, args: readonly string[], options: BackgroundOptions): Promise<BackgroundProgram> {
  const { execa } = await import('execa')
  const log = openSync(options.logFile, 'a', 0o640)
  let child
  try {
    child = execa(file, args, {
      cwd: options.cwd,
      env: options.env,
      extendEnv: false,
      ...asUser(options.user),
      stdin: 'ignore',
      // Straight to the file (a daemon must not write through us). execa's types name only fds
      // 3 to 9 here, but any fd number goes to spawn as it is.
      stdout: log as 3,
      stderr: log as 3,
      detached: options.newSession ?? false,
      // Stopping it is the caller's business (with its identity checked), not an exit hook's.
      cleanup: false,
      reject: false,
    })
  } finally {
    closeSync(log)
  }
  let exited: BackgroundProgram['exited']
  const exitPromise = child.then((result) => {
    exited = { code: result.exitCode ?? null, signal: result.signal ?? null }
  })
  const pid = child.pid
  if (pid === undefined) {
    const result = await child
    throw new ProgramError(`${programName(file)} could not start: ${(result.shortMessage ?? result.message ?? '').split('\n')[0]}`, 'failed')
  }
  if (options.newSession) child.unref()
  return {
    pid,
    get exited() {
      return exited
    },
    exitPromise,
  }
}
