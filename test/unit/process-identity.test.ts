import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { processStart } from '../../src/lib/process.js'
import { inspectPidFile, startProcess, stopProcess, type ProcessService } from '../../src/systems/process.js'
import { isRunning, killLater, killStrangers, startStranger } from '../helpers/processes.js'
import { tempDir } from '../helpers/temp.js'

const run = startStranger

/** A service whose start command is a node one-liner that writes its own pid file and sleeps. */
function service(start?: string[]): ProcessService {
  const dir = tempDir('po-proc')
  const pidFile = join(dir, 'svc.pid')
  return {
    name: 'svc',
    pidFile,
    recordFile: join(dir, 'records', 'svc.json'),
    start: start ?? [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`],
  }
}

afterEach(killStrangers)

describe('process services: only a process proven to be the service is signalled', () => {
  it('records the process it starts, and stops it', async () => {
    const svc = service()
    await startProcess({ ...svc, start: svc.start! }, undefined, 10_000)
    const pid = Number(readFileSync(svc.pidFile, 'utf8'))
    killLater(pid)
    const record = JSON.parse(readFileSync(svc.recordFile, 'utf8'))
    expect(record).toMatchObject({ pid, start: processStart(pid), pidFile: svc.pidFile })
    expect(await inspectPidFile(svc)).toMatchObject({ kind: 'service', pid, proof: expect.stringMatching(/^probe-ops started it/) })
    await stopProcess(svc, 5000)
    expect(isRunning(pid)).toBe(false)
  })

  it('refuses to signal a process that does not run the start command, and says why', async () => {
    const svc = service()
    const sleeper = await run('sleep', ['1000'])
    writeFileSync(svc.pidFile, `${sleeper.pid}\n`)
    expect(await inspectPidFile(svc)).toMatchObject({ kind: 'other', reused: false })
    await expect(stopProcess(svc, 1000)).rejects.toThrow(new RegExp(`svc not stopped: its pid file names pid ${sleeper.pid} \\(sleep\\), which is not svc`))
    expect(isRunning(sleeper.pid!)).toBe(true)
  })

  it('takes a pid whose start differs from the record for a reused pid: the service is down, nothing is signalled', async () => {
    const svc = service()
    const stranger = await run(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    writeFileSync(svc.pidFile, `${stranger.pid}\n`)
    mkdirSync(join(svc.recordFile, '..'))
    writeFileSync(
      svc.recordFile,
      JSON.stringify({
        service: 'svc',
        pidFile: svc.pidFile,
        pid: stranger.pid,
        start: '1',
        commandLine: [process.execPath],
        executable: process.execPath,
        recordedAt: '2026-01-01T00:00:00.000Z',
      }),
    )
    expect(await inspectPidFile(svc)).toMatchObject({ kind: 'other', reused: true, reason: expect.stringMatching(/the pid was reused/) })
    await stopProcess(svc, 1000)
    expect(isRunning(stranger.pid!)).toBe(true)
  })

  it('takes a process that started after its pid file was written for a reused pid, even running the same program', async () => {
    const svc = service([process.execPath, '-e', 'setInterval(() => {}, 1000)'])
    const sameProgram = await run(process.execPath, ['-e', 'setInterval(() => {}, 2000)'])
    writeFileSync(svc.pidFile, `${sameProgram.pid}\n`)
    expect(await inspectPidFile(svc)).toMatchObject({ kind: 'service', proof: "it runs svc's start command" })
    const anHourAgo = new Date(Date.now() - 3600_000)
    utimesSync(svc.pidFile, anHourAgo, anHourAgo)
    expect(await inspectPidFile(svc)).toMatchObject({ kind: 'other', reused: true })
    await stopProcess(svc, 1000)
    expect(isRunning(sameProgram.pid!)).toBe(true)
  })

  it('knows a process the start command launched through another program by the directory it was given', async () => {
    const dataDir = tempDir('po-data')
    const svc = service(['runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', 'start', '-D', dataDir])
    const unrelated = await run('sleep', ['1000'])
    writeFileSync(svc.pidFile, `${unrelated.pid}\n`)
    expect((await inspectPidFile(svc)).kind).toBe('other')
    // A process whose arguments name the data directory, as `postgres -D DIR` does.
    const named = await run('sh', ['-c', 'while sleep 1; do :; done', 'postgres', '-D', dataDir])
    writeFileSync(svc.pidFile, `${named.pid}\n`)
    expect(await inspectPidFile(svc)).toMatchObject({ kind: 'service', proof: "it runs svc's start command" })
  })

  it('refuses to signal a process it can neither trace to its record nor compare with a start command', async () => {
    const svc = { ...service(), start: undefined }
    const unknown = await run('sleep', ['1000'])
    writeFileSync(svc.pidFile, `${unknown.pid}\n`)
    const found = await inspectPidFile(svc)
    expect(found.kind === 'service' && found.proof === undefined).toBe(true)
    await expect(stopProcess(svc, 1000)).rejects.toThrow(/has no start command to compare with/)
    expect(isRunning(unknown.pid!)).toBe(true)
  })
})
