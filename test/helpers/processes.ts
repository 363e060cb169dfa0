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

/**
 * A real zombie: a process that has exited but is not reaped, because its parent (a `sleep`,
 * which never waits for children) does not collect it, as a slow init may not. stop() ends the
 * parent.
 */
export async function startZombie(): Promise<{ pid: number; stop(): void }> {
  const parent = spawn('sh', ['-c', 'true & echo $!; exec sleep 1000'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString('utf8').trim())))
    parent.once('error', reject)
  })
  const stop = () => parent.kill('SIGKILL')
  for (let i = 0; i < 200 && isRunning(pid); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  if (isRunning(pid)) {
    stop()
    throw new Error(`process ${pid} did not become a zombie`)
  }
  return { pid, stop }
}
