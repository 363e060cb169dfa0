/**
 * The test bed's last resort: what a bed started is registered here, and killed, unmounted and
 * removed synchronously should the test process exit (vitest interrupted or killed) before the
 * bed's teardown released it.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { isAlive, parentOf, pidsWithCommandLine, processTree } from '../../src/lib/process.js'

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
  for (let i = 0; i < 40 && graceful.some(([pid]) => isAlive(pid)); i++) sleepSync(50)
  const victims = new Set<number>()
  const roots = [...what.pids.filter(ours), ...what.cmdlineNeedles.flatMap((n) => pidsWithCommandLine(n))]
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
