/**
 * Shared plumbing for the test bed: spawning long-running services with their output in a log
 * file, waiting for readiness, stopping them, and looking up OS users.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface OsUser {
  name: string
  uid: number
  gid: number
  home: string
}

/** Look a user up in /etc/passwd (no getent: this must work without NSS tooling). */
export function osUser(name: string): OsUser {
  const passwd = readFileSync('/etc/passwd', 'utf8')
  for (const line of passwd.split('\n')) {
    const fields = line.split(':')
    if (fields[0] === name && fields.length >= 7) {
      return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '/' }
    }
  }
  throw new Error(`test bed: OS user "${name}" not found in /etc/passwd (is the package that creates it installed?)`)
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 })
}

/** The last `bytes` of a log file, for error messages. */
export async function logTail(file: string, bytes = 3000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8')
    return text.length > bytes ? `…${text.slice(-bytes)}` : text
  } catch {
    return '(no log)'
  }
}

export interface Service {
  name: string
  child: ChildProcess
  pid: number
  logFile: string
  /** Set once the process has exited. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
  /** Resolves when the process has exited (never rejects). */
  exitPromise: Promise<void>
}

export interface SpawnServiceOptions {
  name: string
  command: string
  args: string[]
  logFile: string
  cwd?: string
  env?: NodeJS.ProcessEnv
  uid?: number
  gid?: number
}

/** Start a long-running process with stdout+stderr appended to a log file. */
export async function spawnService(opts: SpawnServiceOptions): Promise<Service> {
  const fd = openSync(opts.logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', fd, fd],
    })
  } finally {
    closeSync(fd)
  }
  const service: Service = {
    name: opts.name,
    child,
    pid: -1,
    logFile: opts.logFile,
    exited: undefined,
    exitPromise: Promise.resolve(),
  }
  service.exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      service.exited = { code, signal }
      resolve()
    })
    child.once('error', (err) => {
      service.exited ??= { code: null, signal: null }
      void err
      resolve()
    })
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve())
    child.once('error', (err) => reject(new Error(`test bed: cannot start ${opts.name} (${opts.command}): ${err.message}`)))
  })
  if (child.pid === undefined) throw new Error(`test bed: ${opts.name} has no pid`)
  service.pid = child.pid
  return service
}

/** Thrown by a waitUntil probe to stop waiting at once (the thing waited for cannot come). */
export class GiveUp extends Error {}

/**
 * Poll `probe` until it returns true. Fails early if `service` exits, and with the log tail on
 * timeout.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; service?: Service },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs
  let lastError: unknown
  for (;;) {
    const s = opts.service
    if (s?.exited) {
      throw new Error(
        `test bed: ${s.name} exited (code ${s.exited.code}, signal ${s.exited.signal}) before ${what}.\n` + `--- ${s.logFile} ---\n${await logTail(s.logFile)}`,
      )
    }
    try {
      if (await probe()) return
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`test bed: gave up waiting for ${what}: ${err.message}`)
      lastError = err
    }
    if (Date.now() > deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      const log = s ? `\n--- ${s.logFile} ---\n${await logTail(s.logFile)}` : ''
      throw new Error(`test bed: timed out after ${opts.timeoutMs} ms waiting for ${what}${last}${log}`)
    }
    await sleep(opts.intervalMs ?? 100)
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Stop a service: send each signal in turn, waiting up to its timeout for the process to exit,
 * then SIGKILL. Sends SIGCONT first so a paused process can act on the signal.
 */
export async function stopService(service: Service, steps: ReadonlyArray<readonly [NodeJS.Signals, number]>): Promise<void> {
  try {
    process.kill(service.pid, 'SIGCONT')
  } catch {
    /* gone */
  }
  for (const [signal, timeoutMs] of [...steps, ['SIGKILL', 5000] as const]) {
    if (service.exited || !alive(service.pid)) return
    try {
      process.kill(service.pid, signal)
    } catch {
      return
    }
    // unref'd: a pending timer must not keep vitest's main process alive after teardown.
    await Promise.race([service.exitPromise, sleep(timeoutMs, undefined, { ref: false })])
  }
}

/** Direct children of `pid`, from a /proc scan. */
export function childPids(pid: number): number[] {
  const result: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(rest[1]) === pid) result.push(Number(entry))
    } catch {
      /* exited meanwhile */
    }
  }
  return result
}

/** Pids of processes whose command line contains `needle` (used to reap leftovers of a private dockerd). */
export function pidsWithCmdline(needle: string): number[] {
  const result: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmdline.includes(needle)) result.push(Number(entry))
    } catch {
      /* exited meanwhile */
    }
  }
  return result
}

/** pid and all its descendants (depth first, parents before children). */
export function processTree(pid: number): number[] {
  const result = [pid]
  for (const child of childPids(pid)) result.push(...processTree(child))
  return result
}

export interface EmergencyCleanup {
  /** Signalled first (e.g. postgres: SIGQUIT = immediate shutdown, which frees shared memory). */
  graceful: Array<[pid: number, signal: NodeJS.Signals]>
  /** Processes to kill, with all their descendants. */
  pids: number[]
  /** Processes whose command line contains one of these are killed too, with descendants. */
  cmdlineNeedles: string[]
  /** Everything mounted at or under these dirs is unmounted (lazily). */
  mountRoots: string[]
  /** Removed last. */
  dirs: string[]
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Synchronous last-resort cleanup, for process exit (vitest interrupted or killed, when the
 * global teardown never runs): graceful signals (bounded wait), SIGKILL of process trees, lazy
 * unmounts, removal of dirs.
 */
export function emergencyCleanupSync(what: EmergencyCleanup): void {
  // Tracked pids are children we spawned: never signal a pid that has since been reused.
  const ours = (pid: number): boolean => parentOf(pid) === process.pid
  const graceful = what.graceful.filter(([pid]) => ours(pid))
  for (const [pid, signal] of graceful) {
    try {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, signal)
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 40 && graceful.some(([pid]) => alive(pid) && !isZombie(pid)); i++) sleepSync(50)
  const victims = new Set<number>()
  const roots = [...what.pids.filter(ours), ...what.cmdlineNeedles.flatMap((n) => pidsWithCmdline(n))]
  for (const root of roots) for (const pid of processTree(root)) victims.add(pid)
  victims.delete(process.pid)
  // Freeze first so nothing respawns while we kill.
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGSTOP')
    } catch {
      /* gone */
    }
  }
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
  for (const root of what.mountRoots) {
    const prefix = `${root}/`
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((mp): mp is string => mp !== undefined && (mp === root || mp.startsWith(prefix)))
      .sort((a, b) => b.length - a.length)
    for (const mp of mounts) spawnSync('umount', ['-l', mp], { stdio: 'ignore', timeout: 5000 })
  }
  for (const dir of what.dirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      /* best effort */
    }
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

const tracked = new Set<EmergencyCleanup>()
let exitHooksInstalled = false

function runEmergencyCleanup(): void {
  for (const e of tracked) {
    try {
      emergencyCleanupSync(e)
    } catch {
      /* best effort */
    }
  }
  tracked.clear()
}

function installExitHooks(): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  // Prepended: vitest's own handlers call process.exit() from their 'exit'/signal listeners,
  // and listeners after such a call never run.
  process.prependListener('exit', runEmergencyCleanup)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runEmergencyCleanup()
      process.off(signal, onSignal)
      // Nobody else handles it: die of it as we would have without this listener.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.prependListener(signal, onSignal)
  }
}

/**
 * Register resources for cleanup should this process exit, or be interrupted, before releasing
 * them properly (mutate the returned entry as more appear); call `untrack` once released.
 */
export function track(initial: Partial<EmergencyCleanup> = {}): { entry: EmergencyCleanup; untrack: () => void } {
  const entry: EmergencyCleanup = {
    graceful: [...(initial.graceful ?? [])],
    pids: [...(initial.pids ?? [])],
    cmdlineNeedles: [...(initial.cmdlineNeedles ?? [])],
    mountRoots: [...(initial.mountRoots ?? [])],
    dirs: [...(initial.dirs ?? [])],
  }
  tracked.add(entry)
  installExitHooks()
  return { entry, untrack: () => tracked.delete(entry) }
}
