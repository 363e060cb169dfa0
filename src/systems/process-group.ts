import type { ChildProcess } from 'node:child_process'
import type { Options } from 'execa'

/**
 * Every program probe-ops runs (systemctl, pg_ctl, pg_dump, psql, tar, apt...) starts in a process
 * group of its own. Ctrl-C on a terminal sends SIGINT to the whole foreground process group: in
 * probe-ops' group, the pg_ctl or systemctl that a restore's swap or a PITR switch runs would die
 * with it, half way through the very phase probe-ops lets finish. In a group of its own, the
 * signal reaches probe-ops alone, which decides: a dangerous phase ends, the rest is stopped
 * through its abort signal (execa's cancelSignal and timeout kill the program, as they did).
 *
 * A program must not outlive probe-ops, and execa leaves a detached one running when its parent
 * exits. So while programs run, those still running when probe-ops exits are ended here, each
 * with its group; and a signal that ends probe-ops because nothing else handles it (outside a
 * job, whose own handling decides) ends them too, as it used to reach them directly.
 */

/** The programs running now, by pid: each leads its own group. */
const running = new Set<number>()

const ENDING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function endLeftRunning(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGTERM')
    } catch {
      // ended meanwhile
    }
  }
}

function onEndingSignal(signal: NodeJS.Signals): void {
  // A running job handles its signals itself: it lets a dangerous phase end, then stops the rest.
  if (process.listenerCount(signal) > 1) return
  // Nothing else does: the signal ends probe-ops, as without this listener, and its programs with it.
  unwatch()
  endLeftRunning()
  process.kill(process.pid, signal)
}

function watch(): void {
  process.on('exit', endLeftRunning)
  for (const signal of ENDING_SIGNALS) process.on(signal, onEndingSignal)
}

function unwatch(): void {
  process.removeListener('exit', endLeftRunning)
  for (const signal of ENDING_SIGNALS) process.removeListener(signal, onEndingSignal)
}

/**
 * Starts a program as execa would, in a process group of its own (see above). Returned in an
 * object: the subprocess is a promise of its result, which an async function would wait for.
 */
export async function startProgram<Settings extends Options>(file: string, args: readonly string[], options: Settings) {
  const { execa } = await import('execa')
  const subprocess = execa(file, args, { ...options, detached: true as const })
  // execa's generic type hides the ChildProcess events from TypeScript; they are there.
  endsWithUs(subprocess as unknown as ChildProcess)
  return { subprocess }
}

/**
 * A child spawned `detached` (a group of its own) by other means than startProgram, ended with
 * probe-ops as startProgram's are: for the few callers that must not pay execa's load time
 * (200 ms of a cold start: `wal push`'s age filter).
 */
export function endsWithUs(child: ChildProcess): void {
  const { pid } = child
  if (pid === undefined) return
  if (running.size === 0) watch()
  running.add(pid)
  child.once('exit', () => {
    running.delete(pid)
    if (running.size === 0) unwatch()
  })
}

/** Runs a program to its end in a group of its own (see startProgram) and returns execa's result. */
export async function runInOwnGroup<Settings extends Options>(file: string, args: readonly string[], options: Settings) {
  const { subprocess } = await startProgram(file, args, options)
  return subprocess
}
