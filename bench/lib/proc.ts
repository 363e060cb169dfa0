/**
 * Timed runs of child processes: wall time from spawn() to the child's exit, measured in this
 * process, with the output kept for verification (a benchmark of a broken run is worthless).
 * With `rusage`, the child runs under GNU time, which adds its CPU time (user + system, of every
 * process of its tree that was waited for) and its peak RSS (the largest process of the tree).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { processTree } from '../../test/bed/process.js'

export interface TimedResult {
  /** Wall time from spawn to exit. */
  ms: number
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
  /** User + system CPU time of the process tree, with `rusage` (10 ms resolution). */
  cpuMs?: number
  /** Peak resident set of the largest process of the tree, KiB, with `rusage`. */
  peakRssKb?: number
}

export interface TimedOptions {
  env: Record<string, string>
  cwd: string
  timeoutMs?: number
  /** Run even after stopAllRuns() (for teardown commands). */
  evenIfStopped?: boolean
  /** Also measure CPU time and peak RSS (under GNU time, TIME_BIN). */
  rusage?: boolean
}

/** GNU time (Debian package `time`): the shell's `time` keyword knows no peak RSS. */
export const TIME_BIN = '/usr/bin/time'

/** Says what to do when GNU time is missing; undefined when it is there. */
export function missingTime(): string | undefined {
  return existsSync(TIME_BIN) ? undefined : `CPU time and peak RSS are measured with GNU time, and ${TIME_BIN} is missing: apt-get install -y time`
}

/** Children running right now (timed runs and whatever a bench tracks), so that an interrupt can kill them. */
export const runningChildren = new Set<ChildProcess>()

/** Makes stopAllRuns() kill `child` (and its descendants) while it runs. */
export function trackChild(child: ChildProcess): void {
  runningChildren.add(child)
  child.once('exit', () => runningChildren.delete(child))
}

/** SIGKILL to `pid` and every descendant: a killed shell or GNU time would leave its children running. */
export function killTree(pid: number | undefined): void {
  if (pid === undefined) return
  for (const member of processTree(pid).reverse()) {
    try {
      process.kill(member, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
}

let stopped: string | undefined

/** Kills the running children and makes every later `timed()` reject (on SIGINT: no new runs). */
export function stopAllRuns(why: string): void {
  stopped = why
  for (const child of runningChildren) killTree(child.pid)
}

let timeFiles = 0

/** GNU time's last line, `%e %U %S %M`; the lines before say how the command ended. */
function readRusage(file: string): { cpuMs: number; peakRssKb: number; signal: NodeJS.Signals | null } | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  } finally {
    rmSync(file, { force: true })
  }
  const lines = text.trim().split('\n')
  const fields = (lines.at(-1) ?? '').trim().split(/\s+/).map(Number)
  if (fields.length !== 4 || fields.some((n) => !Number.isFinite(n))) return undefined
  const [, user, system, rss] = fields as [number, number, number, number]
  const bySignal = /terminated by signal (\d+)/.exec(text)
  const signal = bySignal
    ? ((Object.entries(os.constants.signals).find(([, n]) => n === Number(bySignal[1]))?.[0] as NodeJS.Signals | undefined) ?? null)
    : null
  return { cpuMs: Math.round((user + system) * 1000), peakRssKb: rss, signal }
}

export function timed(command: string, args: readonly string[], opts: TimedOptions): Promise<TimedResult> {
  if (stopped && !opts.evenIfStopped) return Promise.reject(new Error(`not running ${command}: ${stopped}`))
  const timeFile = opts.rusage ? path.join(os.tmpdir(), `po-bench-time-${process.pid}-${++timeFiles}`) : undefined
  const [file, argv] = timeFile ? [TIME_BIN, ['-f', '%e %U %S %M', '-o', timeFile, '--', command, ...args]] : [command, args]
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let exitedAt = 0
    let timedOut = false
    const child = spawn(file, argv, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    runningChildren.add(child)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    const timer = setTimeout(() => {
      timedOut = true
      killTree(child.pid)
    }, opts.timeoutMs ?? 60_000)
    child.once('exit', () => {
      exitedAt = performance.now()
    })
    child.once('error', (e) => {
      clearTimeout(timer)
      runningChildren.delete(child)
      reject(new Error(`cannot run ${file}: ${e.message}`))
    })
    // 'close' comes after 'exit' once the pipes are drained; the time is taken at 'exit'.
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer)
      runningChildren.delete(child)
      const rusage = timeFile ? readRusage(timeFile) : undefined
      // A run that ended as the bench was being stopped is not a result.
      if (stopped && !opts.evenIfStopped) {
        reject(new Error(`${command}: ${stopped}`))
        return
      }
      if (timeFile && !rusage) {
        reject(new Error(`${command}: GNU time wrote no figures (exit ${exitCode}${signal ? `, ${signal}` : ''})`))
        return
      }
      // Under GNU time, a command killed by a signal makes time exit 128 + N: report the signal.
      const bySignal = rusage?.signal ?? null
      resolve({
        ms: (exitedAt || performance.now()) - started,
        exitCode: bySignal ? null : exitCode,
        signal: bySignal ?? signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        ...(rusage ? { cpuMs: rusage.cpuMs, peakRssKb: rusage.peakRssKb } : {}),
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

/** A run that did not do its job: it fails the benchmark instead of being timed. */
export class RunFailed extends Error {}

/** Throws RunFailed saying what was run, why it does not count, and the end of its output. */
export function fail(what: string, why: string, r: TimedResult): never {
  const how = `exit ${r.exitCode}${r.signal ? `, ${r.signal}` : ''}${r.timedOut ? ', timed out' : ''}, ${Math.round(r.ms)} ms`
  throw new RunFailed(`${what}: ${why} (${how})\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`)
}
