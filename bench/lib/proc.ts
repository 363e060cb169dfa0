/**
 * Timed runs of child processes: wall time from spawn() to the child's exit, measured in this
 * process, with the output kept for verification (a benchmark of a broken run is worthless).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'

export interface TimedResult {
  /** Wall time from spawn to exit. */
  ms: number
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
}

export interface TimedOptions {
  env: Record<string, string>
  cwd: string
  timeoutMs?: number
  /** Run even after stopAllRuns() (for teardown commands). */
  evenIfStopped?: boolean
}

/** Children running right now, so that an interrupt can kill them. */
export const runningChildren = new Set<ChildProcess>()

let stopped: string | undefined

/** Kills the running children and makes every later `timed()` reject (on SIGINT: no new runs). */
export function stopAllRuns(why: string): void {
  stopped = why
  for (const child of runningChildren) child.kill('SIGKILL')
}

export function timed(command: string, args: readonly string[], opts: TimedOptions): Promise<TimedResult> {
  if (stopped && !opts.evenIfStopped) return Promise.reject(new Error(`not running ${command}: ${stopped}`))
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let exitedAt = 0
    let timedOut = false
    const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    runningChildren.add(child)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 60_000)
    child.once('exit', () => {
      exitedAt = performance.now()
    })
    child.once('error', (e) => {
      clearTimeout(timer)
      runningChildren.delete(child)
      reject(new Error(`cannot run ${command}: ${e.message}`))
    })
    // 'close' comes after 'exit' once the pipes are drained; the time is taken at 'exit'.
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer)
      runningChildren.delete(child)
      // A run that ended as the bench was being stopped is not a result.
      if (stopped && !opts.evenIfStopped) {
        reject(new Error(`${command}: ${stopped}`))
        return
      }
      resolve({
        ms: (exitedAt || performance.now()) - started,
        exitCode,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      })
    })
  })
}

/** Variables that would point a child somewhere other than where the bench says. */
const CONNECTION_VARS = [
  'PGHOST',
  'PGPORT',
  'PGUSER',
  'PGPASSWORD',
  'PGDATABASE',
  'PGSERVICE',
  'PGPASSFILE',
  'DATABASE_URL',
  'REDIS_URL',
  'REDISCLI_AUTH',
  'DOCKER_HOST',
  'DOCKER_CONTEXT',
  'DOCKER_CONFIG',
  'DOCKER_TLS_VERIFY',
  'DOCKER_CERT_PATH',
  'ALERTMANAGER_URL',
  'PROBE_OPS_CONFIG',
  'PROBE_OPS_SANDBOX_DIR',
  'NODE_OPTIONS',
  'FORCE_COLOR',
]

/** This process's environment without connection settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !CONNECTION_VARS.includes(k)) env[k] = v
  return { ...env, ...extra }
}

/** The last lines of a child's output, for an error message. */
export function tail(text: string, lines = 25): string {
  const all = text.trimEnd().split('\n')
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n')
}
