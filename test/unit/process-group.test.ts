import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { startProgram } from '../../src/systems/process-group.js'
import { isRunning } from '../helpers/processes.js'

/** The process group of a process, from /proc/PID/stat (the third field after the command). */
function groupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}

describe('programs probe-ops runs', () => {
  it('run in a process group of their own, which a terminal’s Ctrl-C to probe-ops’ group does not reach', async () => {
    const { subprocess } = await startProgram('sleep', ['1000'], { reject: false, stdin: 'ignore' })
    const pid = subprocess.pid!
    try {
      expect(groupOf(pid)).toBe(pid)
      expect(groupOf(pid)).not.toBe(groupOf(process.pid))
    } finally {
      subprocess.kill('SIGKILL')
      await subprocess
    }
  })

  it('are still ended when their run is cancelled or runs out of time', async () => {
    const controller = new AbortController()
    const { subprocess: cancelled } = await startProgram('sleep', ['1000'], { reject: false, stdin: 'ignore', cancelSignal: controller.signal })
    controller.abort()
    expect((await cancelled).isCanceled).toBe(true)
    expect(isRunning(cancelled.pid!)).toBe(false)
    const { subprocess: timedOut } = await startProgram('sleep', ['1000'], { reject: false, stdin: 'ignore', timeout: 200 })
    expect((await timedOut).timedOut).toBe(true)
    expect(isRunning(timedOut.pid!)).toBe(false)
  })
})
