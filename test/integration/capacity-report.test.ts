import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import { historyFileName } from '../../src/report/history.js'
import { INDEX_SQL, SCHEMA_SQL } from '../../src/sandbox/schema.js'
import { bed, startRedis, startRefusedPort, type RedisServer } from '../bed/index.js'
import { parseReport, runCli, runRecords, writeConfig } from '../helpers/cli.js'
import { createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { expectPromtoolAccepts, sampleValue } from '../helpers/promtool.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

const DAY = 86_400_000
const MiB = 1024 * 1024

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

interface Disk {
  mount: string
  sizeBytes: number
  usedBytes: number
  freeBytes: number
  usedPercent: number
  paths: { path: string; role: string }[]
  growth: { perDay: number | null; source: string }
  forecast: { state: string; daysUntilFull?: number; fillDate?: string; reason?: string }
}

/** A capacity report of `daysAgo` days ago with the figures the forecast reads. */
function pastReport(
  now: number,
  daysAgo: number,
  figures: { databaseBytes?: number; disks?: { mount: string; usedBytes: number }[]; redisUsed?: number },
): { name: string; text: string } {
  const at = new Date(now - daysAgo * DAY)
  const steps: StepResult[] = [
    {
      id: 'database',
      title: 'database',
      status: 'ok',
      durationMs: 1,
      summary: '',
      data: figures.databaseBytes === undefined ? {} : { databaseBytes: figures.databaseBytes, tables: [] },
    },
    { id: 'disk', title: 'disk', status: 'ok', durationMs: 1, summary: '', data: { disks: figures.disks ?? [] } },
    {
      id: 'redis',
      title: 'redis',
      status: figures.redisUsed === undefined ? 'warning' : 'ok',
      durationMs: 1,
      summary: '',
      data: figures.redisUsed === undefined ? {} : { usedMemoryBytes: figures.redisUsed },
    },
  ]
  const report: Report = {
    schemaVersion: 1,
    command: 'capacity-report',
    version: '0.1.0',
    host: 'bed',
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    durationMs: 1,
    status: 'ok',
    dryRun: false,
    steps,
    alerts: [],
  }
  return { name: historyFileName('capacity', at), text: JSON.stringify(report) }
}

describe('probe-ops capacity-report against real PostgreSQL and Redis', () => {
  const databases: string[] = []
  let growing: string
  let env: (database: string, extra?: Record<string, string>) => Record<string, string>
  let redis: RedisServer

  beforeAll(async () => {
    const { postgres } = bed()
    // 20 days of 500 rows a day: younger than the 90-day retention, so the table still grows.
    growing = await createPlatformDatabase(databaseName('cap_grow'), { days: 20, rowsPerDay: 500 })
    databases.push(growing)
    // A Redis of its own, with a maxmemory to fill.
    redis = await startRedis()
    const client = new Redis(redis.info.url, { lazyConnect: true })
    await client.connect()
    await client.config('SET', 'maxmemory', String(64 * MiB))
    await client.set('capacity-test', 'x'.repeat(100_000))
    client.disconnect()
    env = (database, extra = {}) => ({
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password,
      PGDATABASE: database,
      REDIS_URL: redis.info.url,
      ...extra,
    })
  })

  afterAll(async () => {
    await redis?.stop()
    for (const d of databases) await dropDatabase(d)
  })

  function settings(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { host: 'bed', reports: { dir: join(dir, 'reports') }, backup: { dir: join(dir, 'backups') }, disk: { paths: [dir] }, ...extra }
  }

  async function run(database: string, dir: string, extra: Record<string, unknown> = {}, args: string[] = [], envExtra: Record<string, string> = {}) {
    const { path, dir: configDir } = writeConfig(settings(dir, extra))
    const result = await runCli(['capacity-report', '--config', path, '--json', ...args], env(database, envExtra))
    const report = parseReport(result)
    expectValidReport(report)
    return { result, report, configDir }
  }

  it('measures sizes, rows per day and bytes per row with index range scans only, and saves the report', async () => {
    const dir = tempDir('cap')
    const [before] = await sql<{ seq: string; idx: string }>(
      growing,
      `select seq_tup_read as seq, idx_scan as idx from pg_stat_user_tables where relname = 'task_results'`,
    )
    const { result, report } = await run(growing, dir)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(report.command).toBe('capacity-report')
    expect(report.steps.map((s) => s.id)).toEqual(['database', 'growth', 'disk', 'redis', 'recommendations'])

    // Never a scan of the whole table: only index scans touched task_results.
    const [after] = await sql<{ seq: string; idx: string }>(
      growing,
      `select seq_tup_read as seq, idx_scan as idx from pg_stat_user_tables where relname = 'task_results'`,
    )
    expect(Number(after!.seq) - Number(before!.seq)).toBe(0)
    expect(Number(after!.idx)).toBeGreaterThan(Number(before!.idx))

    const database = step(report, 'database')
    expect(database.status).toBe('ok')
    const [truth] = await sql<{ db: string; total: string; heap: string; idx: string; n: string }>(
      growing,
      `select pg_database_size(current_database()) as db, pg_total_relation_size('task_results') as total, pg_table_size('task_results') as heap, pg_indexes_size('task_results') as idx, (select count(*) from task_results) as n`,
    )
    expect(database.data!.databaseBytes).toBe(Number(truth!.db))
    const table = (database.data!.tables as { name: string; totalBytes: number; indexBytes: number; rows: number }[]).find((t) => t.name === 'task_results')!
    expect(table).toMatchObject({ totalBytes: Number(truth!.total), indexBytes: Number(truth!.idx), rows: 10_000 })
    const measured = (
      database.data!.measured as {
        table: string
        state: string
        method: string
        windowRows: number
        rowsPerDay: number
        bytesPerRow: number
        perDay: { rows: number }[]
      }[]
    )[0]!
    expect(measured).toMatchObject({ table: 'task_results', state: 'measured', method: 'index-range-scan', windowRows: Number(truth!.n) })
    expect(measured.perDay).toHaveLength(30)
    expect(measured.perDay.reduce((a, d) => a + d.rows, 0)).toBe(10_000)
    expect(measured.rowsPerDay).toBeGreaterThan(485)
    expect(measured.rowsPerDay).toBeLessThan(515)
    expect(measured.bytesPerRow).toBeCloseTo(Number(truth!.total) / 10_000, 6)

    // Younger than its 90-day retention: every row that arrives stays, so the database grows by all of them.
    const growth = step(report, 'growth')
    const db = growth.data!.database as { source: string; perDay: number }
    expect(db.source).toBe('measured')
    expect(db.perDay).toBeCloseTo(measured.rowsPerDay * measured.bytesPerRow, 0)
    const retention = (
      growth.data!.retention as { table: string; retentionDays: number; leavingRowsPerDay: number; steadyStateBytes: number; options: { days: number }[] }[]
    )[0]!
    expect(retention).toMatchObject({ table: 'task_results', retentionDays: 90, leavingRowsPerDay: 0 })
    expect(retention.steadyStateBytes).toBeCloseTo(measured.rowsPerDay * 90 * measured.bytesPerRow, 0)
    expect(retention.options.map((o) => o.days)).toEqual([7, 30, 60, 90, 180, 365])

    // PostgreSQL's data directory is on this host: its growth counts on its disk.
    const disks = step(report, 'disk').data!.disks as Disk[]
    const data = disks.find((d) => d.paths.some((p) => p.role === 'data'))!
    expect(data.growth.source).toBe('measured')
    expect(data.forecast.state).toBe('not-filling')

    const redisStep = step(report, 'redis')
    expect(redisStep.status).toBe('ok')
    expect(redisStep.data).toMatchObject({ reachable: true, maxMemoryBytes: 64 * MiB })

    const saved = join(dir, 'reports', historyFileName('capacity', new Date(report.startedAt)))
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toEqual(report)
  })

  it('forecasts from saved history: the fill date within a day of the truth, database and Redis growth from their history', async () => {
    const dir = tempDir('cap-hist')
    const first = (await run(growing, dir)).report
    const disk = (step(first, 'disk').data!.disks as Disk[]).find((d) => d.paths.some((p) => p.path === dir))!
    const databaseBytes = step(first, 'database').data!.databaseBytes as number
    const redisUsed = step(first, 'redis').data!.usedMemoryBytes as number
    const now = Date.now()
    // A disk that the history says fills in 20 days, a database growing 2 MiB a day, Redis filling its maxmemory in 40 days.
    const diskPerDay = disk.freeBytes / 20
    const redisPerDay = (64 * MiB - redisUsed) / 40
    for (let daysAgo = 1; daysAgo <= 29; daysAgo++) {
      const { name, text } = pastReport(now, daysAgo, {
        databaseBytes: databaseBytes - 2 * MiB * daysAgo,
        disks: [{ mount: disk.mount, usedBytes: Math.round(disk.usedBytes - diskPerDay * daysAgo) }],
        redisUsed: Math.round(redisUsed - redisPerDay * daysAgo),
      })
      writeFileSync(join(dir, 'reports', name), text)
    }
    const { result, report, configDir } = await run(growing, dir)
    expect(result.exitCode).toBe(0)
    expect(report.status).toBe('warning')
    const now2 = (step(report, 'disk').data!.disks as Disk[]).find((d) => d.mount === disk.mount)!
    expect(now2.growth.source).toBe('history')
    expect(now2.forecast.state).toBe('filling')
    // The truth: the disk's free space now, used up at the history's rate.
    const truth = Date.parse(report.startedAt) + (now2.freeBytes / diskPerDay) * DAY
    expect(Math.abs(Date.parse(now2.forecast.fillDate!) - truth) / DAY).toBeLessThan(1)
    expect(step(report, 'disk').status).toBe('warning')

    const db = step(report, 'growth').data!.database as { source: string; perDay: number; history: { points: number } }
    expect(db).toMatchObject({ source: 'history', history: { points: 30 } })
    expect(db.perDay / MiB).toBeCloseTo(2, 1)

    const redisData = step(report, 'redis').data as { growth: { source: string }; forecast: { state: string; daysUntilFull: number } }
    expect(redisData.growth.source).toBe('history')
    expect(redisData.forecast.state).toBe('filling')
    expect(Math.abs(redisData.forecast.daysUntilFull - 40)).toBeLessThan(1)

    const recommendations = step(report, 'recommendations')
    expect(recommendations.status).toBe('warning')
    const list = recommendations.data!.recommendations as { id: string; priority: string; figure: string }[]
    expect(list[0]).toMatchObject({ id: `disk-fills:${disk.mount}`, priority: 'high' })
    expect(list.find((r) => r.id === 'redis-memory')).toMatchObject({ priority: 'medium' })

    // The same forecasts as gauges for the shipped alerts and dashboard: when each fills, as a time.
    const metrics = runRecords(configDir, 'capacity-report').metrics
    await expectPromtoolAccepts(metrics)
    const days = (seconds: number | undefined) => ((seconds ?? NaN) * 1000 - Date.parse(report.finishedAt)) / DAY
    expect(Math.abs(days(sampleValue(metrics, 'probe_ops_disk_full_timestamp_seconds', `mount="${disk.mount}"`)) - now2.forecast.daysUntilFull!)).toBeLessThan(
      0.01,
    )
    expect(Math.abs(days(sampleValue(metrics, 'probe_ops_redis_memory_full_timestamp_seconds', '')) - 40)).toBeLessThan(1)
    expect(sampleValue(metrics, 'probe_ops_redis_memory_max_bytes', '')).toBe(64 * MiB)
    expect(sampleValue(metrics, 'probe_ops_database_growth_bytes_per_day', '')! / MiB).toBeCloseTo(2, 1)
    expect(sampleValue(metrics, 'probe_ops_disk_used_percent', `mount="${disk.mount}"`)).toBe(now2.usedPercent)

    const strict = await runCli(['capacity-report', '--config', writeConfig(settings(dir)).path, '--json', '--fail-on', 'warning'], env(growing))
    expect(strict.exitCode).toBe(1)
  })

  it('says "not filling" for a shrinking or a flat disk, never a date in the past', async () => {
    for (const shape of ['shrinking', 'flat'] as const) {
      const dir = tempDir(`cap-${shape}`)
      const first = (await run(growing, dir)).report
      const disk = (step(first, 'disk').data!.disks as Disk[]).find((d) => d.paths.some((p) => p.path === dir))!
      mkdirSync(join(dir, 'reports'), { recursive: true })
      for (let daysAgo = 1; daysAgo <= 20; daysAgo++) {
        const used = shape === 'shrinking' ? disk.usedBytes + 500 * MiB * daysAgo : disk.usedBytes + (daysAgo % 2 ? 1 : -1) * 50 * MiB
        writeFileSync(
          join(dir, 'reports', pastReport(Date.now(), daysAgo, { disks: [{ mount: disk.mount, usedBytes: used }] }).name),
          pastReport(Date.now(), daysAgo, { disks: [{ mount: disk.mount, usedBytes: used }] }).text,
        )
      }
      const { report } = await run(growing, dir, {}, ['--only', 'disk'])
      const now = (step(report, 'disk').data!.disks as Disk[]).find((d) => d.mount === disk.mount)!
      expect(now.growth.source).toBe('history')
      expect(now.forecast, shape).toMatchObject({ state: 'not-filling', reason: shape })
      expect(now.forecast).not.toHaveProperty('fillDate')
      expect(step(report, 'disk').summary).toContain(`not filling (${shape})`)
    }
  })

  it('gives a clear line, never a crash, for no task_results table, an empty one, and a window without rows', async () => {
    const bare = databaseName('cap_bare')
    await sql('postgres', `create database ${bare}`)
    databases.push(bare)
    const empty = databaseName('cap_empty')
    await sql('postgres', `create database ${empty}`)
    databases.push(empty)
    await sql(empty, SCHEMA_SQL)
    await sql(empty, INDEX_SQL)
    const old = await createPlatformDatabase(databaseName('cap_old'), { days: 10, rowsPerDay: 100 })
    databases.push(old)
    await sql(old, `update task_results set execution_time = execution_time - interval '60 days'`)
    await sql(old, 'vacuum analyze task_results')

    const cases: Array<[string, RegExp]> = [
      [bare, /no table task_results in this database/],
      [empty, /task_results is empty/],
      [old, /no task_results rows in the last 30 days \(newest: \d{4}-\d\d-\d\d\)/],
    ]
    for (const [database, message] of cases) {
      const { result, report } = await run(database, tempDir('cap-bad'))
      expect(result.exitCode, `${database}: ${result.stderr}`).toBe(0)
      expect(result.stderr).not.toMatch(/internal error|TypeError|NaN|Infinity/)
      expect(JSON.stringify(report)).not.toMatch(/NaN|Infinity/)
      expect(step(report, 'database')).toMatchObject({ status: 'warning' })
      expect(step(report, 'database').summary).toMatch(message)
      expect(step(report, 'growth').status).toBe('warning')
      expect(step(report, 'growth').summary).toBe('database growth unknown')
      for (const id of ['disk', 'redis', 'recommendations']) expect(step(report, id).status, id).not.toBe('failed')
    }
  })

  it('reads a partitioned task_results as one table, and falls back to planner estimates above capacity.maxScanRows', async () => {
    const parted = await createPlatformDatabase(databaseName('cap_part'), { days: 12, rowsPerDay: 400, partitioned: true })
    databases.push(parted)
    const { report } = await run(parted, tempDir('cap-part'), { capacity: { maxScanRows: 1000 } }, ['--days', '10'])
    const database = step(report, 'database')
    expect(database.status).toBe('ok')
    const table = (database.data!.tables as { name: string; kind: string; partitions: number; rows: number }[]).find((t) => t.name === 'task_results')!
    expect(table.kind).toBe('partitioned')
    expect(table.partitions).toBeGreaterThan(10)
    expect(table.rows).toBeGreaterThan(4000)
    expect((database.data!.tables as { name: string }[]).some((t) => /^task_results_/.test(t.name))).toBe(false)
    const measured = (database.data!.measured as { method: string; rowsPerDay: number; perDay: unknown[] }[])[0]!
    expect(measured.method).toBe('planner-estimate')
    expect(measured.perDay).toHaveLength(10)
    expect(measured.rowsPerDay).toBeGreaterThan(300)
    expect(measured.rowsPerDay).toBeLessThan(500)
  })

  it('warns when Redis is down, fails only the database steps when PostgreSQL is, and keeps going without a writable reports dir', async () => {
    const refused = await startRefusedPort()
    const redisDown = await run(growing, tempDir('cap-redis'), {}, [], { REDIS_URL: `redis://127.0.0.1:${refused}` })
    expect(redisDown.result.exitCode).toBe(0)
    expect(step(redisDown.report, 'redis')).toMatchObject({ status: 'warning', error: { hint: 'Redis is down: run `probe-ops recover redis`' } })
    expect(step(redisDown.report, 'redis').summary).toMatch(/^not measured: Redis refused the connection/)

    const pgDown = await run(growing, tempDir('cap-pg'), {}, [], { PGPORT: String(refused) })
    expect(pgDown.result.exitCode).toBe(1)
    expect(step(pgDown.report, 'database')).toMatchObject({ status: 'failed', summary: expect.stringMatching(/PostgreSQL refused the connection/) })
    expect(step(pgDown.report, 'growth').status).toBe('failed')
    expect(step(pgDown.report, 'disk').status).toBe('ok')
    expect(step(pgDown.report, 'redis').status).toBe('ok')
    expect(step(pgDown.report, 'recommendations').status).not.toBe('failed')

    const dir = tempDir('cap-ro')
    writeFileSync(join(dir, 'not-a-dir'), '')
    const unwritable = await run(growing, dir, { reports: { dir: join(dir, 'not-a-dir', 'reports') } }, ['--only', 'redis'])
    expect(unwritable.result.exitCode).toBe(0)
    expect(unwritable.result.stderr).toMatch(/could not write the report history/)
    expect(existsSync(join(dir, 'not-a-dir', 'reports'))).toBe(false)
  })

  it('prints readable tables without --json', async () => {
    const { path } = writeConfig(settings(tempDir('cap-text')))
    const result = await runCli(['capacity-report', '--config', path], env(growing))
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/table\s+rows\s+heap\s+index\s+toast\s+total\s+dead/)
    expect(result.stdout).toMatch(/task_results\s+10,000\s/)
    expect(result.stdout).toMatch(/mount\s+holds\s+size\s+used\s+free\s+growth\s+from\s+forecast/)
    expect(result.stdout).toContain('under other retentions: 7 d')
    expect(result.stdout).toMatch(/capacity-report: (ok|warning)/)
    expect(result.stdout).not.toContain(bed().postgres.password)
  })
})
