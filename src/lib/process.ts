import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

/** The fields of /proc/PID/stat that say who a process is and what it is doing. */
function procStat(pid: number): { state: string; start: string; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses; fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0]!, start: fields[19]!, parent: Number(fields[1]) }
  } catch {
    return undefined
  }
}

/** The process's start in clock ticks since boot (/proc/PID/stat field 22): with the pid, who it is. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start
}

/**
 * Whether the process that recorded (pid, start) still runs: a pid alone may have been reused
 * since (always pid 1 in a container), so a recorded start must match too. A zombie does not run:
 * it has exited and only waits for its parent (an init that reaps slowly) to collect it.
 */
export function isProcessAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const now = procStat(pid)
  if (now?.state === 'Z') return false
  return start === undefined || now === undefined || now.start === start
}

/** This process as an owner file records it ("pid start"): what ownerLineRuns reads back. */
export function ownerLine(): string {
  return `${process.pid} ${processStart(process.pid) ?? ''}\n`
}

/** Whether the run an owner line names (see ownerLine) still runs; false for anything else. */
export function ownerLineRuns(text: string): boolean {
  const [pid, start] = text.trim().split(' ')
  return pid !== undefined && /^\d+$/.test(pid) && isProcessAlive(Number(pid), start || undefined)
}

/** A live process as /proc shows it: enough to tell it from another that later gets its pid. */
export interface ProcessIdentity {
  pid: number
  /** Clock ticks since boot, as processStart gives it. */
  start: string
  /** When it started, from the ticks and the uptime (precise to a tick, unlike /proc/stat's btime). */
  startedAt: Date
  /** /proc/PID/stat's state: R, S, D, T (stopped by a signal), t (stopped by a debugger)... */
  state: string
  /** Its arguments (a program may rewrite them, as redis-server does), and its executable's path. */
  commandLine: string[]
  executable?: string
}

/** USER_HZ, the unit of /proc's tick counts: 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100

/** The process behind a pid now, or undefined when there is none (a zombie is a process that is gone). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const stat = procStat(pid)
  if (!stat || stat.state === 'Z') return undefined
  let uptime: number
  let commandLine: string[]
  try {
    uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
  const startedAt = new Date(Date.now() - (uptime - Number(stat.start) / TICKS_PER_SECOND) * 1000)
  return { pid, start: stat.start, startedAt, state: stat.state, commandLine, executable: executableOf(pid) }
}

function executableOf(pid: number): string | undefined {
  try {
    // An executable replaced since it started (a package upgrade) reads "... (deleted)".
    return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')
  } catch {
    return undefined
  }
}

/** Whether a process is stopped by a signal (SIGSTOP, SIGTSTP) or a debugger: alive, answering nothing. */
export function isStoppedState(state: string): boolean {
  return state === 'T' || state === 't'
}

/** Clock ticks since boot now, in the unit of a process's start. */
export function clockTicksNow(): number {
  return Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * TICKS_PER_SECOND)
}

/** Whether a process runs: a zombie (dead, not yet reaped) or one being torn down does not. */
export function isAlive(pid: number): boolean {
  const state = procStat(pid)?.state
  return state !== undefined && state !== 'Z' && state !== 'X'
}

/** The arguments a process runs with (a program may rewrite them, as redis-server does); undefined when it is gone. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

/** The pid of a process's parent, or undefined when it is gone. */
export function parentOf(pid: number): number | undefined {
  return procStat(pid)?.parent
}

/** Every pid /proc lists now. */
function allPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
}

/** The direct children of a process. */
export function childPids(pid: number): number[] {
  return allPids().filter((candidate) => parentOf(candidate) === pid)
}

/** A process and all its descendants, parents before their children. */
export function processTree(pid: number): number[] {
  return [pid, ...childPids(pid).flatMap((child) => processTree(child))]
}

/** The processes (other than this one) whose command line contains `needle`. */
export function pidsWithCommandLine(needle: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && (commandLine(pid)?.join(' ') ?? '').includes(needle))
}
