import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Whether a process runs (a zombie, dead but not yet reaped by init, does not). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}

/** A process of the test's own, standing for whatever program got the pid a stale pid file names. */
export async function startStranger(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  return child
}
