import { spawn, type ChildProcess } from 'node:child_process'

import { isAlive as isRunning } from '../../src/lib/process.js'

/** Whether a process runs (a zombie, dead but not yet reaped by init, does not). */
export { isRunning }

const leftovers: number[] = []

/** A process of the test's own, standing for whatever program got the pid a stale pid file names; killed by killStrangers. */
export async function startStranger(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  killLater(child.pid!)
  return child
}

/** Has killStrangers kill this process too (one a test made start). */
export function killLater(pid: number): void {
  leftovers.push(pid)
}

/** SIGKILL to every process startStranger started and killLater named since the last call: for afterEach. */
export function killStrangers(): void {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
}
