import { readFileSync } from 'node:fs'

/** The process's start in clock ticks since boot (/proc/PID/stat field 22): with the pid, who it is. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses; fields are counted after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/**
 * Whether the process that recorded (pid, start) still runs: a pid alone may have been reused
 * since (always pid 1 in a container), so a recorded start must match too.
 */
export function isProcessAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const now = processStart(pid)
  return start === undefined || now === undefined || now === start
}
