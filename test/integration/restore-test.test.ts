import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import type { Report, StepResult } from '../../src/report/model.js'
import { freePort, startPostgres, type PostgresServer } from '../bed/index.js'
import { parseReport, runCli } from '../helpers/cli.js'
import { archivingCluster, postgresProcessServices, walArchiveFiles } from '../helpers/postgres-service.js'
import { isProcessAlive } from '../../src/lib/process.js'
import { expectPromtoolAccepts, sampleValue } from '../helpers/promtool.js'

/**
 * `backup verify --restore-test`: the achieved restore time and data-loss window (RTO/RPO) of a
 * dump restored into a scratch database, and of a base backup restored into a scratch cluster in
 * backup.dir, recovered to the end of a real WAL archive (PostgreSQL 15 archiving through
 * `probe-ops wal push`), checked, stopped and removed; as figures, findings against
 * backup.objectives, and metrics. A kill -9 mid-test leaves nothing that restore --cleanup (or
 * the next test) does not remove, and the live cluster is never touched.
 */

const BIN = resolve(import.meta.dirname, '../../bin/run.js')

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

interface BaseTestData {
  kind: string
  startedAt: string
  repository: string
  rtoSeconds: number
  rpoSeconds: number
  recoveredTo: string | null
  scratchDirectory: string
  port: number
  lastSegment?: string
  lastSegmentArchivedAt?: string
  rows: number
}

describe('backup verify --restore-test: RTO and RPO of a dump and of a base backup', () => {
  let root: string
  let local: string
  let server: PostgresServer
  let port: number
  let metricsDir: string
  const env = (): Record<string, string> => ({ PGPASSWORD: server.info.password })

  /** probe-ops for the test's cluster, archiving into a local repository; `extra` goes into backup and restore. */
  function writeTestConfig(name: string, extra: { objectives?: Record<string, number>; reserveBytes?: number } = {}): string {
    const path = join(root, name)
    const settings = {
      host: 'restore-test',
      log: { file: join(root, 'maintenance.log') },
      metrics: { textfileDir: metricsDir },
      // Private: another test file's restore on this machine must not hold ours.
      lock: { dir: join(root, 'lock') },
      postgres: { host: '127.0.0.1', port, user: 'postgres', database: 'network_probe' },
      services: server
        ? postgresProcessServices(server.info.dataDir)
        : { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: { enabled: false } },
      backup: { dir: local, wal: { pushTimeoutSeconds: 10 }, ...(extra.objectives ? { objectives: extra.objectives } : {}) },
      ...(extra.reserveBytes !== undefined ? { restore: { reserveBytes: extra.reserveBytes } } : {}),
    }
    writeFileSync(path, stringify(settings), { mode: 0o644 })
    return path
  }

  const { query, archiveNow } = archivingCluster(() => ({ ...server.info, port }))

  async function count(): Promise<number> {
    return Number((await query<{ n: string }>('select count(*) as n from events'))[0]!.n)
  }

  async function run(args: string[], config: string, extraEnv: Record<string, string> = {}) {
    return runCli([...args, '--config', config], { ...env(), ...extraEnv })
  }

  /** What a restore test may leave in backup.dir: its scratch directories and its note. */
  function scratchLeft(): string[] {
    return readdirSync(local).filter((name) => name.startsWith('.restore-test'))
  }

  function metrics(): string {
    return readFileSync(join(metricsDir, 'probe_ops_backup_verify.prom'), 'utf8')
  }

  let config: string

  beforeAll(async () => {
    ;({ root, local } = await walArchiveFiles('/tmp/po-rtest-'))
    metricsDir = join(root, 'metrics')
    port = await freePort()
    const archiveConfig = writeTestConfig('archive.yaml')
    server = await startPostgres({
      port,
      extraConf: { wal_level: 'replica', archive_mode: 'on', archive_command: `'${process.execPath} ${BIN} wal push %p --config ${archiveConfig}'` },
    })
    config = writeTestConfig('probe-ops.yaml')
    await query('create table events (n int primary key, at timestamptz not null default clock_timestamp())')
    await query('insert into events (n) select g from generate_series(1, 100) g')
    await archiveNow()
  }, 120_000)

  afterAll(async () => {
    await server?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it("a dump: restored in a scratch database; RPO from the dump's start; above backup.objectives a warning, and --fail-on warning exits 1; the metrics say so", async () => {
    const taken = parseReport(await run(['backup', 'database', '--json'], config))
    const dump = step(taken, 'dump').data as { id: string }
    const manifest = JSON.parse(readFileSync(join(local, `${dump.id}.manifest.json`), 'utf8')) as { startedAt: string }
    // So that the window is over a second whatever the machine's speed.
    await new Promise((r) => setTimeout(r, 1100))

    const strict = writeTestConfig('strict.yaml', { objectives: { rpoSeconds: 1, rtoSeconds: 3600 } })
    const verified = await run(['backup', 'verify', 'latest', '--restore-test', '--fail-on', 'warning', '--json'], strict)
    const report = parseReport(verified)
    expect(verified.exitCode, JSON.stringify(report.steps, null, 1)).toBe(1)
    const test = step(report, 'restore-test')
    expect(test.status).toBe('warning')
    expect(test.summary).toMatch(/^restored in [\d.]+ m?s; a loss now would lose [\d.]+ s of data; \d+ tables' row counts match the manifest$/)
    const data = test.data as { kind: string; repository: string; rtoSeconds: number; rpoSeconds: number; recoveredTo: string; startedAt: string }
    expect(data).toMatchObject({ kind: 'database', repository: 'local', recoveredTo: manifest.startedAt, objectives: { rpoSeconds: 1, rtoSeconds: 3600 } })
    expect(data.rtoSeconds).toBeGreaterThan(0)
    expect(data.rpoSeconds).toBe(Math.round((Date.parse(data.startedAt) - Date.parse(manifest.startedAt)) / 1000))
    expect(test.findings!.map((f) => [f.id, f.severity])).toEqual([['rpo-above-objective', 'medium']])

    const text = metrics()
    await expectPromtoolAccepts(text)
    const labels = 'kind="database",repository="local"'
    expect(sampleValue(text, 'probe_ops_restore_test_ok', labels)).toBe(1)
    expect(sampleValue(text, 'probe_ops_restore_test_rpo_seconds', labels)).toBe(data.rpoSeconds)
    expect(sampleValue(text, 'probe_ops_restore_test_rto_seconds', labels)).toBe(data.rtoSeconds)
    expect(sampleValue(text, 'probe_ops_restore_test_rpo_objective_seconds', labels)).toBe(1)
    expect(sampleValue(text, 'probe_ops_restore_test_timestamp_seconds', labels)).toBe(Date.parse(report.finishedAt) / 1000)

    // Without objectives: ok, exit 0, and the objectives NaN (no alert compares against them).
    const plain = await run(['backup', 'verify', 'latest', '--restore-test', '--fail-on', 'warning', '--json'], config)
    expect(plain.exitCode, plain.stdout).toBe(0)
    expect(sampleValue(metrics(), 'probe_ops_restore_test_rpo_objective_seconds', labels)).toBeNaN()
  }, 120_000)

  it('a base backup: recovered to the end of the WAL archive in a scratch cluster, checked and removed; the live cluster untouched; recorded, and in the metrics', async () => {
    await query('insert into events (n) select g from generate_series(101, 200) g')
    const taken = parseReport(await run(['backup', 'base', '--json'], config))
    expect(taken.status, JSON.stringify(taken.steps, null, 1)).toBe('ok')
    const base = (step(taken, 'base').data as { id: string }).id
    await query('insert into events (n) select g from generate_series(201, 300) g')
    const [written] = await query<{ at: Date }>('select max(at) as at from events')
    await archiveNow()
    const rows = await count()
    const livePid = readFileSync(join(server.info.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]

    const verified = await run(['backup', 'verify', 'latest-base', '--restore-test', '--json'], config)
    const report = parseReport(verified)
    expect(verified.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['checksum', 'ok'],
      ['archive', 'skipped'],
      ['restore-test', 'ok'],
      // The WAL the base was taken over is in the repository: the restore test replayed past it.
      ['wal', 'ok'],
    ])
    const test = step(report, 'restore-test')
    const data = test.data as unknown as BaseTestData
    expect(test.summary).toMatch(
      /^restored in [\d.]+ m?s; a loss now would lose .+ of data; recovered to the end of the WAL archive, last transaction .*: 1 tables, 300 rows$/,
    )
    expect(data).toMatchObject({ kind: 'base', repository: 'local', rows })
    // The rows written after the base were replayed: the last transaction is the last insert's.
    expect(Date.parse(data.recoveredTo!)).toBeGreaterThanOrEqual(written!.at.getTime())
    expect(data.lastSegment).toMatch(/^[0-9A-F]{24}$/)
    expect(data.lastSegmentArchivedAt).toBeDefined()
    // Never more than since the last row replayed was written: the newest archived segment counts.
    expect(data.rpoSeconds).toBeGreaterThanOrEqual(0)
    expect(data.rpoSeconds).toBeLessThanOrEqual(Math.ceil((Date.parse(data.startedAt) - written!.at.getTime()) / 1000))
    expect(data.rtoSeconds).toBeGreaterThan(0)
    expect(existsSync(data.scratchDirectory)).toBe(false)
    expect(scratchLeft()).toEqual([])
    expect(await count()).toBe(rows)
    expect(readFileSync(join(server.info.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]).toBe(livePid)

    const manifest = JSON.parse(readFileSync(join(local, `${base}.manifest.json`), 'utf8')) as {
      verifications: { method: string; ok: boolean; detail: string }[]
    }
    expect(manifest.verifications.at(-1)).toMatchObject({
      method: 'restore-test',
      ok: true,
      detail: expect.stringMatching(/^restored in .*a loss now would lose/),
    })
    const text = metrics()
    await expectPromtoolAccepts(text)
    expect(sampleValue(text, 'probe_ops_restore_test_ok', 'kind="base",repository="local"')).toBe(1)
    expect(sampleValue(text, 'probe_ops_restore_test_rpo_seconds', 'kind="base",repository="local"')).toBe(data.rpoSeconds)
    // The dump's rehearsal is kept beside it.
    expect(sampleValue(text, 'probe_ops_restore_test_ok', 'kind="database",repository="local"')).toBe(1)
  }, 300_000)

  it('killed (kill -9) with its scratch cluster running: restore --cleanup stops it and removes it; killed again, the next test does', async () => {
    const rows = await count()
    const scratchServer = (): number => {
      const [dir] = scratchLeft().filter((name) => name !== '.restore-test.json')
      return Number(readFileSync(join(local, dir!, 'postmaster.pid'), 'utf8').split('\n')[0])
    }
    // A stopped server nobody reaps (the killed run was its parent) is a zombie: not alive.
    const alive = (pid: number): boolean => isProcessAlive(pid)
    const kill = async () => {
      const killed = await run(['backup', 'verify', 'latest-base', '--restore-test'], config, { PROBE_OPS_FAILPOINT: 'restore-test-recovered' })
      expect(killed.exitCode, killed.stderr).toBe(-1)
      const pid = scratchServer()
      expect(alive(pid)).toBe(true)
      return pid
    }

    const first = await kill()
    // diagnose says it waits for the cleanup.
    const diagnosed = parseReport(await run(['diagnose', '--only', 'backups', '--json'], config))
    expect(step(diagnosed, 'backups').findings!.find((f) => f.id === 'restore-interrupted')?.message).toMatch(/a restore test was interrupted/)
    const cleaned = await run(['restore', '--cleanup', '--json'], config)
    expect(cleaned.exitCode, cleaned.stdout + cleaned.stderr).toBe(0)
    expect(step(parseReport(cleaned), 'cleanup').summary).toMatch(/remove the abandoned restore test .*\.restore-test-/)
    expect(scratchLeft()).toEqual([])
    expect(alive(first)).toBe(false)
    expect(await count()).toBe(rows)

    const second = await kill()
    const next = await run(['backup', 'verify', 'latest-base', '--restore-test', '--json'], config)
    const report = parseReport(next)
    expect(next.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(step(report, 'restore-test').findings!.map((f) => f.id)).toEqual(['abandoned-restore-test'])
    expect(alive(second)).toBe(false)
    expect(scratchLeft()).toEqual([])
    expect(await count()).toBe(rows)
  }, 300_000)

  it('a disk too small for the scratch cluster: one line, nothing made, recorded as a failed rehearsal', async () => {
    const short = writeTestConfig('short.yaml', { reserveBytes: 2 ** 52 })
    const refused = await run(['backup', 'verify', 'latest-base', '--restore-test', '--json'], short)
    const report = parseReport(refused)
    expect(refused.exitCode).toBe(1)
    const test = step(report, 'restore-test')
    expect(test.status).toBe('failed')
    expect(test.error!.message).toMatch(/^the restore test of base-.* needs .* in .*, which has .* free and must keep .*$/)
    expect(scratchLeft()).toEqual([])
    expect(sampleValue(metrics(), 'probe_ops_restore_test_ok', 'kind="base",repository="local"')).toBe(0)
  }, 120_000)
})
