import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { isAlive } from '../../src/lib/process.js'
import { redisConfig } from '../../src/local-platform/redis.js'
import { GiveUp, PlatformFailure, startReadyService, stopService, waitUntilReady } from '../../src/local-platform/services.js'
import { keepJobsInside } from '../../src/sandbox/config-file.js'
import { sandboxLayout } from '../../src/sandbox/layout.js'
import { killStrangers, startStranger } from '../helpers/processes.js'
import { tempDir } from '../helpers/temp.js'

async function run(command: string, args: string[]): Promise<number> {
  return (await startStranger(command, args)).pid!
}

afterEach(killStrangers)

describe('stopping a service', () => {
  it('signals nothing when the pid now belongs to another process than the one recorded', async () => {
    const pid = await run('sleep', ['30'])
    expect(await stopService({ pid, start: '1' }, [['SIGTERM', 1000]])).toBe(true)
    expect(isAlive(pid)).toBe(true)
  })

  it('goes on to SIGKILL when the process ignores the signals before it', async () => {
    const pid = await run(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"])
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await stopService({ pid }, [['SIGTERM', 300]])).toBe(true)
    expect(isAlive(pid)).toBe(false)
  })
})

describe('waiting for a service', () => {
  it('ends early when the service exits, with the last line of its log and where the log is', async () => {
    const logFile = join(tempDir('service'), 'service.log')
    const failure = await startReadyService(
      { name: 'broken', command: '/bin/sh', args: ['-c', 'echo starting; echo "fatal: no configuration" >&2; exit 3'], logFile, cwd: '/' },
      { what: 'broken to answer', probe: () => Promise.resolve(false), timeoutMs: 30_000 },
    ).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(PlatformFailure)
    expect((failure as PlatformFailure).message).toBe('broken exited (code 3) before broken to answer: fatal: no configuration')
    expect((failure as PlatformFailure).hint).toBe(`read ${logFile}`)
  })

  it('stops at once when the probe gives up, and says why', async () => {
    const probe = () => Promise.reject(new GiveUp('the container is gone'))
    await expect(waitUntilReady('the database to answer', probe, { timeoutMs: 30_000 })).rejects.toThrow(
      'gave up waiting for the database to answer: the container is gone',
    )
  })

  it('names the last error when the time is up', async () => {
    const probe = () => Promise.reject(new Error('connection refused'))
    await expect(waitUntilReady('redis to answer PING', probe, { timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(
      /timed out after 50 ms waiting for redis to answer PING \(last error: connection refused\)/,
    )
  })
})

describe('redis configuration', () => {
  it('holds the password (never argv) and keeps no snapshots unless asked', () => {
    const config = redisConfig({ port: 6400, dir: '/srv/redis "x"', password: 'se"cret', users: ['probe on >pass ~* +@all'] })
    expect(config).toContain('requirepass "se\\"cret"')
    expect(config).toContain('\nuser probe on >pass ~* +@all\n')
    expect(config).toContain('dir "/srv/redis \\"x\\""')
    expect(config).toContain('save ""')
    expect(redisConfig({ port: 6400, dir: '/srv/redis', persist: true })).not.toMatch(/requirepass|save ""/)
  })
})

describe('the sandbox configuration', () => {
  it("points every job's files inside the sandbox, and validates", async () => {
    const paths = sandboxLayout(tempDir('sandbox'))
    const notes: string[] = []
    const document = await keepJobsInside(paths, { host: 'sandbox', log: { file: paths.maintenanceLog } }, notes)
    expect(configSchema.safeParse(document).success).toBe(true)
    expect(notes).toEqual([])
    const inside = JSON.stringify({ cleanup: document.cleanup, backup: document.backup, reports: document.reports })
    for (const path of inside.match(/"\/[^"]*"/g) ?? []) expect(path.startsWith(`"${paths.dir}/`), path).toBe(true)
  })
})
