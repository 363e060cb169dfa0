import { spawn, type ChildProcess } from 'node:child_process'

/** Whether a process runs (a zombie, dead but not yet reaped by init, does not). */
export { isAlive as isRunning } from '../../src/lib/process.js'

/** A process of the test's own, standing for whatever program got the pid a stale pid file names. */
export async function startStranger(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  return child
}
