import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { sleep } from './time.js'

/**
 * Tests prove that a kill at the worst moment loses nothing; a failpoint is that moment, named.
 * PROBE_OPS_FAILPOINT=<name> kills the process there with SIGKILL, as `kill -9` would, and
 * PROBE_OPS_PAUSE=<name>:<file> holds it there (see pausepoint) for a test to signal it.
 */
export async function failpoint(name: string): Promise<void> {
  if (process.env.PROBE_OPS_FAILPOINT === name) process.kill(process.pid, 'SIGKILL')
  await pausepoint(name)
}

/**
 * With PROBE_OPS_PAUSE=<name>:<file>, the run creates <file> when it reaches the moment named
 * and waits there until the file is removed: a test can then send a signal (or let a timeout run
 * out) at exactly that moment. Undefined when the moment is not the one named, so that a hot path
 * pays nothing.
 */
export function pausepoint(name: string): Promise<void> | undefined {
  const setting = process.env.PROBE_OPS_PAUSE
  if (!setting?.startsWith(`${name}:`)) return undefined
  const file = setting.slice(name.length + 1)
  return (async () => {
    await writeFile(file, `${process.pid}\n`)
    while (existsSync(file)) await sleep(50)
  })()
}
