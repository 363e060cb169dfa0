import { readFile } from 'node:fs/promises'
import { OperationFailure, describeError, formatSeconds } from '../errors.js'
import { isAlive, processStart } from '../lib/process.js'
import { sleep } from '../lib/time.js'
import type { OsUser } from '../systems/os-user.js'
import { lastLine, startInBackground, type BackgroundProgram } from '../systems/programs.js'

/**
 * A local platform's services (the sandbox's, the test bed's, the benchmarks'): long-running
 * programs started with their output in a log file, waited on until they really answer, and
 * stopped with escalating signals, only while they are still the process that was started.
 */

/** A service would not start, or not stop: one line, and where to look. */
export class PlatformFailure extends OperationFailure {
  constructor(
    message: string,
    /** The log that tells more, when there is one. */
    readonly logFile?: string,
    hint: string | undefined = logFile ? `read ${logFile}` : undefined,
  ) {
    super(message, hint)
  }
}

export interface ServiceSpec {
  /** A name for messages: `redis-server`, `postgres`. */
  name: string
  command: string
  args: readonly string[]
  /** stdout and stderr are appended here. */
  logFile: string
  cwd: string
  /** The whole environment; serviceEnvironment(cwd) when not given. */
  env?: NodeJS.ProcessEnv
  /** Run as this user when we are root. */
  user?: OsUser
  /** In a session of its own, outliving us (the sandbox); otherwise it stays in ours (the test bed). */
  newSession?: boolean
}

export interface RunningService extends BackgroundProgram {
  name: string
  logFile: string
}

/** The environment a service gets: nothing of ours (no PG*, no NODE_OPTIONS, no secrets). */
export function serviceEnvironment(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: home }
  if (process.env.TZ) env.TZ = process.env.TZ
  return env
}

/** Starts a service and returns once it runs (not once it is ready: see waitUntilReady). */
export async function startService(spec: ServiceSpec): Promise<RunningService> {
  let program: BackgroundProgram
  try {
    program = await startInBackground(spec.command, spec.args, {
      logFile: spec.logFile,
      cwd: spec.cwd,
      env: spec.env ?? serviceEnvironment(spec.cwd),
      user: spec.user,
      newSession: spec.newSession,
    })
  } catch (error) {
    throw new PlatformFailure(`cannot start ${spec.name}: ${describeError(error)}`)
  }
  return {
    name: spec.name,
    logFile: spec.logFile,
    pid: program.pid,
    get exited() {
      return program.exited
    },
    exitPromise: program.exitPromise,
  }
}

/** Thrown by a readiness probe to stop waiting at once: what is waited for cannot come. */
export class GiveUp extends Error {}

export interface WaitOptions {
  timeoutMs: number
  intervalMs?: number
  /** Waiting ends early, with its log's last line, when this service exits. */
  service?: RunningService
  /** The log to point at when there is no service (a daemon pg_ctl started). */
  logFile?: string
}

/** Polls `probe` until it returns true; `what` completes "waiting for …" (`redis on 127.0.0.1:6379 to answer PING`). */
export async function waitUntilReady(what: string, probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  const { service } = options
  const logFile = service?.logFile ?? options.logFile
  let lastError: unknown
  for (;;) {
    if (service?.exited) {
      const { code, signal } = service.exited
      const said = lastLine(await logTail(service.logFile, 2000))
      throw new PlatformFailure(`${service.name} exited (${signal ? `signal ${signal}` : `code ${code}`}) before ${what}${said ? `: ${said}` : ''}`, logFile)
    }
    try {
      if (await probe()) return
    } catch (error) {
      if (error instanceof GiveUp) throw new PlatformFailure(`gave up waiting for ${what}: ${error.message}`, logFile)
      lastError = error
    }
    if (Date.now() >= deadline) {
      const last = lastError === undefined ? '' : ` (last error: ${describeError(lastError)})`
      throw new PlatformFailure(`timed out after ${formatSeconds(options.timeoutMs)} waiting for ${what}${last}`, logFile)
    }
    await sleep(options.intervalMs ?? 100)
  }
}

export interface Readiness {
  what: string
  probe: () => Promise<boolean>
  timeoutMs: number
  intervalMs?: number
}

/**
 * Starts a service and waits until it is ready; a service that does not get ready is stopped
 * again. `onStarted` runs as soon as it runs, before the wait (to record its pid).
 */
export async function startReadyService(
  spec: ServiceSpec,
  readiness: Readiness,
  onStarted?: (service: RunningService) => void | Promise<void>,
): Promise<RunningService> {
  const service = await startService(spec)
  try {
    await onStarted?.(service)
    await waitUntilReady(readiness.what, readiness.probe, { timeoutMs: readiness.timeoutMs, intervalMs: readiness.intervalMs, service })
  } catch (error) {
    await stopService(service, [['SIGTERM', 5000]])
    throw error
  }
  return service
}

/** Whether an HTTP GET of `url` answers 2xx within `timeoutMs`. */
export async function answersHttp(url: string, headers?: Record<string, string>, timeoutMs = 1000): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers })
  await response.arrayBuffer()
  return response.ok
}

/** Each signal with how long to wait for the process to exit after it; SIGKILL comes last by itself. */
export type StopSteps = ReadonlyArray<readonly [NodeJS.Signals, number]>

/** How long a SIGKILLed process may take to go (its memory freed, a core written). */
const KILL_WAIT_MS = 5000
const POLL_MS = 50

/** A process to stop: one we started (still ours until it has exited), or a pid with the start it had when recorded. */
export type StopTarget = RunningService | { pid: number; start?: string }

/**
 * Stops a process: SIGCONT (a stopped process cannot act on a signal), then each step's signal
 * and wait, then SIGKILL. Every signal goes only to the process that was meant: a service we
 * started that has not exited, or a pid whose start time is still the one recorded (or, when
 * none was, the one it had when this was called). Returns whether it is gone.
 */
export async function stopService(target: StopTarget, steps: StopSteps): Promise<boolean> {
  const { pid } = target
  const ours = 'exitPromise' in target
  const start = ours ? undefined : (target.start ?? processStart(pid))
  const running = (): boolean => isAlive(pid) && (ours ? target.exited === undefined : start !== undefined && processStart(pid) === start)
  if (!running()) return true
  send(pid, 'SIGCONT')
  for (const [signal, waitMs] of [...steps, ['SIGKILL', KILL_WAIT_MS] as const]) {
    if (!running()) return true
    send(pid, signal)
    const deadline = Date.now() + waitMs
    while (running() && Date.now() < deadline) await sleep(POLL_MS)
  }
  return !running()
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM') throw new PlatformFailure(`not allowed to signal process ${pid}: another user runs it`)
    // ESRCH: gone meanwhile
  }
}

/** The last `bytes` of a log file, for messages; '(no log)' when it cannot be read. */
export async function logTail(file: string, bytes = 3000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8')
    return text.length > bytes ? `…${text.slice(-bytes)}` : text
  } catch {
    return '(no log)'
  }
}
