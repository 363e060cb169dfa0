import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'

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
  // No command between the fork and the exec: a shell that runs one (an echo of $!) may reap the
  // finished child first, and the test then looks at a pid that is gone. The child's pid is read
  // from the parent's /proc children list instead.
  const parent = spawn('sh', ['-c', 'true & exec sleep 1000'], { stdio: 'ignore' })
  await new Promise((resolve, reject) => {
    parent.once('spawn', resolve)
    parent.once('error', reject)
  })
  const stop = () => parent.kill('SIGKILL')
  const children = `/proc/${parent.pid}/task/${parent.pid}/children`
  for (let i = 0; i < 500; i++) {
    const pid = Number(readFileSync(children, 'utf8').trim().split(/\s+/)[0])
    if (
      pid > 0 &&
      readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .startsWith('Z')
    )
      return { pid, stop }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  stop()
  throw new Error(`the child of ${parent.pid} did not become a zombie`)
}
