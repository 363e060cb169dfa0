import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, symlinkSync, utimesSync, writeFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import {
  bed,
  dockerCli,
  runSleeperContainer,
  startAlertmanager,
  startRefusedPort,
  uniqueName,
  type AlertmanagerServer,
  type RunningContainer,
} from '../bed/index.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { adminConfig, countOlderThan, createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

/** A file with an mtime `days` ago. */
function oldFile(path: string, days: number, content = 'x'.repeat(100)): string {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, content)
  const when = new Date(Date.now() - days * 86_400_000)
  utimesSync(path, when, when)
  return path
}

describe('probe-ops maintain daily against real PostgreSQL, Docker and AlertManager', () => {
  const databases: string[] = []
  const containers: RunningContainer[] = []
  let template: string
  let services: Record<string, unknown>
  let env: (database: string) => Record<string, string>
  // Its own AlertManager, so the alerts these tests push reach no other test file.
  let alertmanager: AlertmanagerServer['info']
  let stopAlertmanager: () => Promise<void>

  beforeAll(async () => {
    const { postgres, redis, docker } = bed()
    const am = await startAlertmanager()
    alertmanager = am.info
    stopAlertmanager = () => am.stop()
    template = await createPlatformDatabase(databaseName('daily_tpl'), { days: 120, rowsPerDay: 400 })
    databases.push(template)
    const pgName = uniqueName('pg')
    const redisName = uniqueName('redis')
    containers.push(await runSleeperContainer(docker, { name: pgName }), await runSleeperContainer(docker, { name: redisName }))
    services = { management: { enabled: false }, web: { enabled: false }, postgres: { container: pgName }, redis: { container: redisName } }
    env = (database) => ({
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password,
      PGDATABASE: database,
      REDIS_URL: redis.url,
      DOCKER_HOST: docker.host,
      ALERTMANAGER_URL: alertmanager.url,
    })
  })

  afterAll(async () => {
    await stopAlertmanager()
    for (const c of containers) await c.remove()
    for (const d of databases) await dropDatabase(d)
  })

  /** task_results partitioned by day, 120 days of 100 results. */
  async function partitionedDatabase(prefix: string): Promise<string> {
    const name = databaseName(prefix)
    databases.push(name)
    return createPlatformDatabase(name, { days: 120, rowsPerDay: 100, partitioned: true })
  }

  async function freshDatabase(): Promise<string> {
    const name = databaseName('daily')
    await sql('postgres', `create database ${name} template ${template}`)
    databases.push(name)
    return name
  }

  /** `maintain daily --only retention` while another session reads `table` in an open transaction. */
  async function retentionWhileReading(database: string, config: string, table: string): Promise<Awaited<ReturnType<typeof runCli>>> {
    const reader = new pg.Client(adminConfig(database))
    await reader.connect()
    try {
      await reader.query(`begin; select count(*) from ${table}`)
      return await runCli(['maintain', 'daily', '--config', config, '--json', '--only', 'retention'], env(database))
    } finally {
      await reader.query('rollback').catch(() => undefined)
      await reader.end()
    }
  }

  function settings(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      host: `bed-${Date.now()}`,
      services,
      cleanup: {
        logs: [
          { path: join(dir, 'logs'), pattern: '*.log', olderThanDays: 30 },
          { path: join(dir, 'logs'), pattern: '*.log.*', olderThanDays: 7 },
        ],
        temp: [{ path: join(dir, 'tmp'), pattern: 'network-probe-*', olderThanDays: 1 }],
      },
      retention: { batchRows: 1000 },
      reindex: { minIndexBytes: 0 },
      disk: { paths: [dir], warningPercent: 99.9, criticalPercent: 100 },
      ...extra,
    }
  }

  it('runs every step, deletes exactly the old rows in batches, and writes log and metrics', async () => {
    const database = await freshDatabase()
    await sql(database, 'create extension if not exists pg_stat_statements')
    const dir = tempDir('daily')
    const keepLog = oldFile(join(dir, 'logs/app.log'), 2)
    const oldLog = oldFile(join(dir, 'logs/management/app.log'), 45)
    const rotated = oldFile(join(dir, 'logs/app.log.3'), 10)
    const oldTemp = oldFile(join(dir, 'tmp/network-probe-upload'), 3)
    const otherTemp = oldFile(join(dir, 'tmp/someone-else'), 30)
    const now = new Date()
    const before = await countOlderThan(database, 90, now)
    expect(before.older).toBeGreaterThan(5000)

    const { path, dir: cfgDir } = writeConfig(settings(dir))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json'], env(database))
    const report = parseReport(result)
    expectValidReport(report)
    expect(
      result.exitCode,
      JSON.stringify(
        report.steps.filter((s) => s.status === 'failed'),
        null,
        1,
      ),
    ).toBe(0)
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['clean-logs', 'ok'],
      ['clean-temp', 'ok'],
      ['retention', 'ok'],
      ['vacuum', 'ok'],
      ['reindex', 'ok'],
      ['stats-reset', 'ok'],
      ['disk', 'ok'],
      ['services', 'ok'],
    ])

    const after = await countOlderThan(database, 90, now)
    expect(after.older).toBe(0)
    // Rows younger than the cutoff (fixed at the run's start) are all still there.
    expect(after.newer).toBeGreaterThanOrEqual(before.newer)
    const retention = step(report, 'retention').data!.rules as { deleted: number; batches: number; longestBatchMs: number; cutoff: string }[]
    expect(retention[0]!.deleted).toBeGreaterThanOrEqual(before.older)
    // Time windows aim at batchRows (1000) rows; none commits more than twice that.
    expect(retention[0]!.batches).toBeGreaterThanOrEqual(Math.ceil(before.older / 2000))

    expect(existsSync(oldLog)).toBe(false)
    expect(existsSync(rotated)).toBe(false)
    expect(existsSync(oldTemp)).toBe(false)
    expect(existsSync(keepLog)).toBe(true)
    expect(existsSync(otherTemp)).toBe(true)
    expect(step(report, 'clean-logs').data).toMatchObject({ files: 2, bytes: 200 })

    const log = readFileSync(join(cfgDir, 'maintenance.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(log.filter((l) => l.step).map((l) => l.step)).toEqual(report.steps.map((s) => s.id))
    const metrics = readFileSync(join(cfgDir, 'metrics', readdirSync(join(cfgDir, 'metrics'))[0]!), 'utf8')
    expect(metrics).toContain('probe_ops_job_status{job="maintain daily"} 0')
  })

  it('changes nothing with --dry-run, and says what it would do', async () => {
    const database = await freshDatabase()
    const dir = tempDir('daily-dry')
    const oldLog = oldFile(join(dir, 'logs/old.log'), 40)
    const now = new Date()
    const before = await countOlderThan(database, 90, now)
    const { path, dir: cfgDir } = writeConfig(settings(dir))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--dry-run'], env(database))
    const report = parseReport(result)
    expect(report.dryRun).toBe(true)
    expect(step(report, 'clean-logs').summary).toMatch(/^would delete 1 files/)
    // Counted at the run's own cutoff: a row can cross the 90-day line between the test's clock and the run's.
    const cutoff = new Date((step(report, 'retention').data!.rules as { cutoff: string }[])[0]!.cutoff)
    expect(Math.abs(cutoff.getTime() - (now.getTime() - 90 * 86_400_000))).toBeLessThan(60_000)
    const atCutoff = await countOlderThan(database, 90, new Date(cutoff.getTime() + 90 * 86_400_000))
    expect(step(report, 'retention').summary).toMatch(new RegExp(`would delete ${atCutoff.older.toLocaleString('en-US')} rows`))
    expect(step(report, 'reindex').summary).toMatch(/^would rebuild/)
    expect(step(report, 'stats-reset').status).toBe('skipped')
    expect(existsSync(oldLog)).toBe(true)
    expect(existsSync(join(cfgDir, 'metrics')), 'a dry run writes no metrics').toBe(false)
    expect(await countOlderThan(database, 90, now)).toEqual(before)
  })

  it('never follows a symlink out of the directory and never deletes a file open for writing', async () => {
    const dir = tempDir('daily-files')
    const outside = oldFile(join(dir, 'outside/secret.log'), 90)
    mkdirSync(join(dir, 'logs'), { recursive: true })
    symlinkSync(join(dir, 'outside'), join(dir, 'logs/link-to-outside'))
    symlinkSync(outside, join(dir, 'logs/linked.log'))
    const written = oldFile(join(dir, 'logs/being-written.log'), 60)
    const writer = openSync(written, 'a')
    try {
      const { path } = writeConfig(settings(dir))
      const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'clean-logs'], env(template))
      const cleaned = step(parseReport(result), 'clean-logs')
      expect(cleaned.status).toBe('ok')
      expect(cleaned.data).toMatchObject({ files: 0, keptOpen: [written] })
      expect(existsSync(outside)).toBe(true)
      expect(existsSync(written)).toBe(true)
    } finally {
      closeSync(writer)
    }
  })

  it('fails a retention rule that names a missing table or column, and runs the other steps', async () => {
    const dir = tempDir('daily-bad-rule')
    for (const [rule, message] of [
      [{ table: 'task_resultz', column: 'execution_time', days: 90 }, 'table "task_resultz" does not exist'],
      [{ table: 'task_results', column: 'executed_at', days: 90 }, 'table "task_results" has no column "executed_at"'],
      [{ table: 'task_results', column: 'status', days: 90 }, '"task_results.status" is text, not a timestamp or date'],
    ] as const) {
      const { path } = writeConfig(settings(dir, { retention: { rules: [rule] } }))
      const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention,disk'], env(template))
      expect(result.exitCode).toBe(1)
      const report = parseReport(result)
      expect(step(report, 'retention')).toMatchObject({ status: 'failed', error: { message: `retention rule: ${message}` } })
      expect(step(report, 'disk').status).toBe('ok')
    }
    // One rule's failure neither stops nor hides the next rule.
    const database = await freshDatabase()
    const rules = [
      { table: 'task_resultz', column: 'execution_time', days: 90 },
      { table: 'public.task_results', column: 'execution_time', days: 90 },
    ]
    const { path } = writeConfig(settings(dir, { retention: { rules } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(result.exitCode).toBe(1)
    const failed = step(parseReport(result), 'retention')
    expect(failed).toMatchObject({ status: 'failed', error: { message: 'retention rule: table "task_resultz" does not exist' } })
    const [missing, done] = failed.data!.rules as { error?: string; deleted: number }[]
    expect(missing!.error).toBe('retention rule: table "task_resultz" does not exist')
    expect(done!.error).toBeUndefined()
    expect(done!.deleted).toBeGreaterThan(5000)
    expect((await countOlderThan(database, 90, new Date())).older).toBe(0)
  })

  it('deletes by a date column and by a timestamp(3) column, and a burst of one timestamp in batches no bigger than the cap', async () => {
    const database = await freshDatabase()
    // A date column: windows are whole days (a narrower one would cover [D, D) and never advance).
    // One day holds 60 rows, more than twice batchRows.
    await sql(database, `create table events_daily (id bigserial primary key, day date not null)`)
    await sql(database, `create index on events_daily (day)`)
    await sql(database, `insert into events_daily (day) select current_date - d from generate_series(100, 300) d, generate_series(1, 15)`)
    await sql(database, `insert into events_daily (day) select current_date - 150 from generate_series(1, 60)`)
    await sql(database, `insert into events_daily (day) select current_date - d from generate_series(0, 80) d, generate_series(1, 3)`)
    // timestamp(3) without time zone (Prisma's default), with 100 rows sharing one timestamp.
    await sql(database, `create table bursts (id bigserial primary key, at timestamp(3) without time zone not null)`)
    await sql(database, `create index on bursts (at)`)
    await sql(database, `insert into bursts (at) select '2020-01-01 12:00:00.123' from generate_series(1, 100)`)
    await sql(database, `insert into bursts (at) select '2020-01-01 12:00:00'::timestamp - make_interval(mins => n) from generate_series(1, 30) n`)
    await sql(database, `insert into bursts (at) select localtimestamp - make_interval(days => n) from generate_series(0, 4) n`)
    await sql(database, 'analyze events_daily, bursts')
    const rules = [
      { table: 'events_daily', column: 'day', days: 90 },
      { table: 'bursts', column: 'at', days: 90 },
    ]
    const { path } = writeConfig(settings(tempDir('daily-kinds'), { retention: { batchRows: 10, rules } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    const retention = step(parseReport(result), 'retention')
    expect(result.exitCode, result.stdout).toBe(0)
    expect(retention.status).toBe('ok')
    const [daily, burst] = retention.data!.rules as { deleted: number; batches: number; largestBatchRows: number; stoppedBy?: string }[]
    expect(daily).toMatchObject({ deleted: 201 * 15 + 60 })
    expect(daily!.stoppedBy).toBeUndefined()
    expect(daily!.largestBatchRows).toBeLessThanOrEqual(20)
    expect(daily!.batches).toBeGreaterThanOrEqual(Math.ceil((201 * 15 + 60) / 20))
    expect(burst).toMatchObject({ deleted: 130 })
    expect(burst!.largestBatchRows).toBeLessThanOrEqual(20)
    expect(burst!.batches).toBeGreaterThanOrEqual(Math.ceil(130 / 20))
    expect(await sql(database, `select count(*)::int as n from events_daily`)).toEqual([{ n: 81 * 3 }])
    expect(await sql(database, `select count(*)::int as n from bursts`)).toEqual([{ n: 5 }])
  })

  it('drops whole partitions of a table partitioned by the time column', async () => {
    const database = await partitionedDatabase('daily_part')
    const partitionsBefore = await sql<{ n: string }>(database, `select count(*) as n from pg_inherits where inhparent = 'task_results'::regclass`)
    const now = new Date()
    const before = await countOlderThan(database, 90, now)
    const dir = tempDir('daily-part')
    const { path } = writeConfig(settings(dir))
    // The dry run says what the run will do: the partitions, their rows and size, and the rows left for batches.
    const dry = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention', '--dry-run'], env(database))
    expect(dry.exitCode, dry.stdout).toBe(0)
    const plan = (
      step(parseReport(dry), 'retention').data!.rules as { wouldDropPartitions: string[]; wouldDropRows: number; wouldDropBytes: number; wouldDelete: number }[]
    )[0]!
    expect(plan.wouldDropPartitions.length).toBeGreaterThanOrEqual(29)
    expect(plan.wouldDropRows + plan.wouldDelete).toBe(before.older)
    expect(plan.wouldDropBytes).toBeGreaterThan(0)
    expect(await countOlderThan(database, 90, now)).toEqual(before)

    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(result.exitCode, result.stdout).toBe(0)
    const rule = (step(parseReport(result), 'retention').data!.rules as { partitionsDropped: string[]; deleted: number }[])[0]!
    expect(rule.partitionsDropped).toEqual(plan.wouldDropPartitions)
    expect(rule.deleted).toBe(plan.wouldDelete)
    expect(rule.partitionsDropped.length).toBeGreaterThanOrEqual(29)
    const partitionsAfter = await sql<{ n: string }>(database, `select count(*) as n from pg_inherits where inhparent = 'task_results'::regclass`)
    expect(Number(partitionsAfter[0]!.n)).toBe(Number(partitionsBefore[0]!.n) - rule.partitionsDropped.length)
    const after = await countOlderThan(database, 90, now)
    expect(after.older).toBe(0)
    expect(after.newer).toBe(before.newer)
    // Only the one partition that straddles the cutoff needed row deletes.
    expect(rule.deleted).toBeLessThanOrEqual(100)

    // A run that died between detaching and dropping left a marked table: the next run drops it.
    const [victim] = await sql<{ name: string }>(
      database,
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'task_results'::regclass order by c.relname limit 1`,
    )
    await sql(database, `comment on table ${victim!.name} is 'probe-ops retention: detached, to be dropped'`)
    await sql(database, `alter table task_results detach partition ${victim!.name}`)
    const next = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(next.exitCode).toBe(0)
    expect((step(parseReport(next), 'retention').data!.rules as { partitionsDropped: string[] }[])[0]!.partitionsDropped).toEqual([victim!.name])
    expect(await sql(database, `select 1 from pg_class where relname = $1`, [victim!.name])).toHaveLength(0)

    // A partition detached by a version that did not mark it yet: pointed out, not dropped.
    await sql(database, `create table task_results_20200101 (like task_results including all)`)
    await sql(
      database,
      `insert into task_results_20200101 (task_id, agent_id, execution_time, status) select task_id, agent_id, '2020-01-01', status from task_results limit 3`,
    )
    const legacy = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(legacy.exitCode, legacy.stdout).toBe(0)
    const warned = step(parseReport(legacy), 'retention')
    expect(warned.status).toBe('warning')
    expect((warned.data!.rules as { unmarkedDetachedTables: string[] }[])[0]!.unmarkedDetachedTables).toEqual(['task_results_20200101'])
    expect(warned.error!.message).toContain('task_results_20200101 looks like a partition an older probe-ops detached')
    expect(warned.error!.hint).toContain(`comment on table task_results_20200101 is 'probe-ops retention: detached from public.task_results, to be dropped'`)
    expect(await sql(database, `select count(*)::int as n from task_results_20200101`)).toEqual([{ n: 3 }])
  })

  it('leaves a partition detached and marked while another session holds tasks, says which, and the next run drops it', async () => {
    const database = await partitionedDatabase('daily_part_held')
    const now = new Date()
    const before = await countOlderThan(database, 90, now)
    const cutoff = new Date(now.getTime() - 90 * 86_400_000)
    const expired = await sql<{ name: string; rows: number }>(
      database,
      `select c.relname as name, (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I', c.relname), false, true, '')))[1]::text::int as rows
         from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'task_results'::regclass and substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''([^'']+)''\\)')::timestamptz <= $1
        order by c.relname`,
      [cutoff.toISOString()],
    )
    expect(expired.length).toBeGreaterThanOrEqual(29)
    const oldest = expired[0]!
    const { path } = writeConfig(settings(tempDir('daily-part-held')))

    // A report reading tasks in a transaction: its lock on tasks is held until it ends.
    const held = await retentionWhileReading(database, path, 'tasks')
    // A warning, not a failure and not a silent success.
    expect(held.exitCode, held.stdout).toBe(0)
    const report = parseReport(held)
    expect(report.status).toBe('warning')
    const retention = step(report, 'retention')
    expect(retention.status).toBe('warning')
    const rule = (
      retention.data!.rules as {
        partitionsDropped: string[]
        partitionsLeftAttached: string[]
        blockedDrop: { partition: string; lockedTable: string; holders: { pid: number }[] }
        deleted: number
      }[]
    )[0]!
    expect(rule.partitionsDropped).toEqual([])
    expect(rule.blockedDrop).toMatchObject({ partition: oldest.name, lockedTable: 'tasks' })
    expect(rule.blockedDrop.holders.length).toBeGreaterThanOrEqual(1)
    expect(rule.partitionsLeftAttached).toEqual(expired.slice(1).map((p) => p.name))
    expect(retention.error!.message).toContain(`partition ${oldest.name} is detached but not dropped: tasks stayed locked by pid`)
    expect(retention.error!.hint).toContain('the next run drops it')

    // Nothing is lost: the detached partition keeps its rows and its mark, the other expired
    // partitions are still attached, and only the old rows of the partition the cutoff falls in
    // were deleted.
    const [detached] = await sql<{ mark: string; attached: boolean; rows: number }>(
      database,
      `select obj_description(c.oid, 'pg_class') as mark, c.relispartition as attached, (select count(*)::int from ${oldest.name}) as rows from pg_class c where c.relname = $1`,
      [oldest.name],
    )
    expect(detached).toEqual({ mark: 'probe-ops retention: detached from public.task_results, to be dropped', attached: false, rows: oldest.rows })
    const mid = await countOlderThan(database, 90, now)
    expect(mid.newer).toBe(before.newer)
    expect(mid.older).toBe(before.older - oldest.rows - rule.deleted)
    expect(mid.older).toBe(expired.slice(1).reduce((sum, p) => sum + p.rows, 0))

    // The lock released, the next run drops the marked partition and the others.
    const next = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(next.exitCode, next.stdout).toBe(0)
    const finished = step(parseReport(next), 'retention')
    expect(finished.status).toBe('ok')
    const done = (finished.data!.rules as { partitionsDropped: string[]; partitionRowsDropped: number; partitionBytesDropped: number }[])[0]!
    expect(done.partitionsDropped).toEqual(expired.map((p) => p.name))
    expect(done.partitionRowsDropped).toBe(expired.reduce((sum, p) => sum + p.rows, 0))
    expect(done.partitionBytesDropped).toBeGreaterThan(0)
    expect(await sql(database, `select 1 from pg_class where relname = $1`, [oldest.name])).toHaveLength(0)
    const after = await countOlderThan(database, 90, now)
    expect(after).toEqual({ older: 0, newer: before.newer })
  })

  it('leaves alone a partition someone else left detach pending, and tables marked for another parent', async () => {
    const database = await partitionedDatabase('daily_part_pending')
    const [{ name: recent, rows }] = (await sql<{ name: string; rows: number }>(
      database,
      `select 'task_results_' || to_char(current_date - 1, 'YYYYMMDD') as name, (select count(*)::int from task_results where execution_time >= current_date - 1 and execution_time < current_date) as rows`,
    )) as [{ name: string; rows: number }]
    expect(rows).toBeGreaterThan(0)
    // A DBA's DETACH ... CONCURRENTLY of yesterday's partition, cancelled while it waited for a
    // transaction that has the parent open: the partition stays "detach pending".
    const reader = new pg.Client(adminConfig(database))
    const dba = new pg.Client(adminConfig(database))
    await reader.connect()
    await dba.connect()
    try {
      await reader.query(`begin; select count(*) from task_results`)
      const [{ pid }] = (await dba.query<{ pid: number }>('select pg_backend_pid() as pid')).rows as [{ pid: number }]
      const detach = dba.query(`alter table task_results detach partition ${recent} concurrently`).then(
        () => 'finished',
        (error: { code?: string }) => error.code,
      )
      for (;;) {
        const [waiting] = await sql<{ waiting: boolean }>(database, `select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = $1`, [pid])
        if (waiting?.waiting) break
      }
      await sql(database, 'select pg_cancel_backend($1)', [pid])
      expect(await detach).toBe('57014')
    } finally {
      await reader.query('rollback').catch(() => undefined)
      await reader.end()
      await dba.end()
    }
    expect(await sql(database, `select inhdetachpending as pending from pg_inherits where inhrelid = $1::regclass`, [recent])).toEqual([{ pending: true }])
    // Marks that are not this table's: another parent's, and the old mark on a table not named like its partitions.
    await sql(database, `create table other_archive (like task_results)`)
    await sql(database, `comment on table other_archive is 'probe-ops retention: detached from public.other, to be dropped'`)
    await sql(database, `create table results_archive (like task_results)`)
    await sql(database, `comment on table results_archive is 'probe-ops retention: detached, to be dropped'`)

    // And a look-alike an older version may have detached, under a schema-qualified rule.
    await sql(database, `create table task_results_20200101 (like task_results including all)`)
    await sql(
      database,
      `insert into task_results_20200101 (task_id, agent_id, execution_time, status) select task_id, agent_id, '2020-01-01', status from task_results limit 3`,
    )

    const rules = [{ table: 'public.task_results', column: 'execution_time', days: 90 }]
    const { path } = writeConfig(settings(tempDir('daily-part-pending'), { retention: { batchRows: 1000, rules } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(result.exitCode, result.stdout).toBe(0)
    const retention = step(parseReport(result), 'retention')
    expect(retention.status).toBe('warning')
    const rule = (retention.data!.rules as { partitionsDropped: string[]; pendingDetachLeftAlone: string[] }[])[0]!
    expect(rule.pendingDetachLeftAlone).toEqual([recent])
    expect(rule.partitionsDropped.length).toBeGreaterThanOrEqual(29)
    expect(rule.partitionsDropped).not.toContain(recent)
    // The detach someone else left pending weighs more than a look-alike table worth a look.
    expect(retention.findings!.map((f) => [f.severity, f.id])).toEqual([
      ['medium', 'foreign-detach-pending:public.task_results'],
      ['low', 'unmarked-detached:public.task_results'],
    ])
    expect(retention.error!.message).toContain(`${recent} is left "detach pending"`)
    const lookAlike = retention.findings![1]!
    expect(lookAlike.fix).toContain(`comment on table task_results_20200101 is 'probe-ops retention: detached from public.task_results, to be dropped'`)
    expect(lookAlike.fix).toContain('a name that does not start with "task_results_"')
    expect(
      await sql(database, `select inhdetachpending as pending, (select count(*)::int from ${recent}) as rows from pg_inherits where inhrelid = $1::regclass`, [
        recent,
      ]),
    ).toEqual([{ pending: true, rows }])
    expect(await sql(database, `select relname from pg_class where relname in ('other_archive', 'results_archive') order by relname`)).toEqual([
      { relname: 'other_archive' },
      { relname: 'results_archive' },
    ])
  })

  it('leaves a partition detach pending while a transaction has the table open, reports it, and the next run finalizes and drops it', async () => {
    const database = await partitionedDatabase('daily_part_open')
    const now = new Date()
    const before = await countOlderThan(database, 90, now)
    const { path } = writeConfig(settings(tempDir('daily-part-open'), { retention: { batchRows: 1000, lockTimeoutMs: 200 } }))
    const [oldest] = await sql<{ name: string }>(
      database,
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'task_results'::regclass order by c.relname limit 1`,
    )
    const held = await retentionWhileReading(database, path, 'task_results')
    expect(held.exitCode, held.stdout).toBe(0)
    const retention = step(parseReport(held), 'retention')
    expect(retention.status).toBe('warning')
    const rule = (
      retention.data!.rules as {
        partitionsDropped: string[]
        partitionsLeftAttached: string[]
        blockedDrop: { partition: string; stage: string; lockedTable: string }
      }[]
    )[0]!
    expect(rule.blockedDrop).toMatchObject({ partition: oldest!.name, stage: 'detach pending', lockedTable: 'task_results' })
    expect(rule.partitionsLeftAttached.length).toBeGreaterThanOrEqual(28)
    expect(retention.error!.message).toContain(`partition ${oldest!.name} is left detach pending`)
    expect(
      await sql(database, `select inhdetachpending as pending, obj_description(inhrelid, 'pg_class') as mark from pg_inherits where inhrelid = $1::regclass`, [
        oldest!.name,
      ]),
    ).toEqual([{ pending: true, mark: 'probe-ops retention: detached from public.task_results, to be dropped' }])

    const next = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(next.exitCode, next.stdout).toBe(0)
    const finished = step(parseReport(next), 'retention')
    expect(finished.status).toBe('ok')
    expect((finished.data!.rules as { partitionsDropped: string[] }[])[0]!.partitionsDropped[0]).toBe(oldest!.name)
    expect(await sql(database, `select 1 from pg_class where relname = $1`, [oldest!.name])).toHaveLength(0)
    expect(await countOlderThan(database, 90, now)).toEqual({ older: 0, newer: before.newer })
  })

  it('reads the cutoff of a timestamp without time zone as UTC for partitions and rows alike, whatever the session time zone', async () => {
    const database = await freshDatabase()
    // Hourly partitions around the cutoff, read in a time zone 14 hours ahead of UTC: a bound
    // cast to timestamptz there would expire partitions holding rows up to 14 hours too young.
    await sql('postgres', `alter database ${database} set timezone = 'Pacific/Kiritimati'`)
    await sql(database, `create table hourly (id bigserial, at timestamp without time zone not null, primary key (id, at)) partition by range (at)`)
    await sql(
      database,
      `do $$ declare h timestamp; begin
         for h in select generate_series(date_trunc('hour', (now() at time zone 'UTC') - interval '92 days'), (now() at time zone 'UTC') - interval '88 days', interval '1 hour') loop
           execute format('create table hourly_%s partition of hourly for values from (%L) to (%L)', to_char(h, 'YYYYMMDDHH24'), h, h + interval '1 hour');
         end loop; end $$`,
    )
    await sql(
      database,
      `insert into hourly (at) select g from generate_series(date_trunc('hour', (now() at time zone 'UTC') - interval '92 days'), (now() at time zone 'UTC') - interval '88 days', interval '10 minutes') g`,
    )
    await sql(database, 'analyze hourly')
    await sql(database, 'create table snapshot as select at from hourly')
    const rules = [{ table: 'hourly', column: 'at', days: 90 }]
    const { path } = writeConfig(settings(tempDir('daily-tz'), { retention: { batchRows: 1000, rules } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(result.exitCode, result.stdout).toBe(0)
    const rule = (step(parseReport(result), 'retention').data!.rules as { cutoff: string; partitionsDropped: string[]; deleted: number }[])[0]!
    expect(rule.partitionsDropped.length).toBeGreaterThanOrEqual(40)
    // Every row older than the cutoff (as UTC) is gone, every younger one is still there.
    const [left] = await sql<{ older: number; newer: number; before: number }>(
      database,
      `select count(*) filter (where at < $1::timestamptz at time zone 'UTC')::int as older, count(*) filter (where at >= $1::timestamptz at time zone 'UTC')::int as newer,
              (select count(*)::int from snapshot where at >= $1::timestamptz at time zone 'UTC') as before
         from hourly`,
      [rule.cutoff],
    )
    expect(left!.older).toBe(0)
    expect(left!.newer).toBeGreaterThan(0)
    expect(left!.newer).toBe(left!.before)
  })

  it('leaves only whole batches done when killed with -9, and the next run finishes', async () => {
    const database = await freshDatabase()
    const now = new Date()
    const before = await countOlderThan(database, 90, now)
    const dir = tempDir('daily-kill')
    const { path, dir: cfgDir } = writeConfig(settings(dir, { retention: { batchRows: 250, pauseMs: 100 } }))
    const root = join(import.meta.dirname, '../..')
    const child = execa(process.execPath, [join(root, 'bin/run.js'), 'maintain', 'daily', '--config', path, '--only', 'retention'], {
      env: env(database),
      reject: false,
    })
    let deleted = 0
    for (let i = 0; i < 200 && deleted < 1000; i++) {
      await new Promise((r) => setTimeout(r, 50))
      deleted = before.older - (await countOlderThan(database, 90, now)).older
    }
    child.kill('SIGKILL')
    await child
    const mid = await countOlderThan(database, 90, now)
    const done = before.older - mid.older
    expect(done).toBeGreaterThan(0)
    expect(done).toBeLessThan(before.older)
    expect(mid.newer).toBe(before.newer)
    // Only whole time windows are done: what is left of the old rows is exactly the template's
    // rows from the oldest one left up to the cutoff, with no hole left by a half-done batch.
    const cutoff = new Date(now.getTime() - 90 * 86_400_000).toISOString()
    const [oldestLeft] = await sql<{ t: Date }>(database, `select min(execution_time) as t from task_results where execution_time < $1`, [cutoff])
    const [expected] = await sql<{ n: string }>(template, `select count(*) as n from task_results where execution_time >= $1 and execution_time < $2`, [
      oldestLeft!.t,
      cutoff,
    ])
    expect(mid.older).toBe(Number(expected!.n))
    // The lock the killed run left is taken over; the next run finishes the job.
    expect(readdirSync(join(cfgDir, 'lock'))).toContain('maintain-daily.lock')
    const next = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'retention'], env(database))
    expect(next.exitCode, next.stderr).toBe(0)
    expect((await countOlderThan(database, 90, now)).older).toBe(0)
  })

  it('exits 3 while another run holds the lock, also after --wait-lock', async () => {
    const dir = tempDir('daily-lock')
    const { path, dir: cfgDir } = writeConfig(settings(dir))
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((r) => holder.once('spawn', r))
    try {
      mkdirSync(join(cfgDir, 'lock'), { recursive: true })
      writeFileSync(join(cfgDir, 'lock/maintain-daily.lock'), JSON.stringify({ pid: holder.pid, command: 'maintain daily', since: new Date().toISOString() }))
      const result = await runCli(['maintain', 'daily', '--config', path, '--only', 'disk'], env(template))
      expect(result.exitCode).toBe(3)
      expect(result.stderr).toMatch(new RegExp(`maintain daily is already running: process ${holder.pid}`))
      expect(result.stdout).toBe('')
      const waited = await runCli(['maintain', 'daily', '--config', path, '--only', 'disk', '--wait-lock', '1'], env(template))
      expect(waited.exitCode).toBe(3)
    } finally {
      holder.kill('SIGKILL')
    }
    const free = await runCli(['maintain', 'daily', '--config', path, '--only', 'disk'], env(template))
    expect(free.exitCode).toBe(0)
  })

  it('fails the database steps when PostgreSQL is down, and still runs the file and disk steps', async () => {
    const refused = await startRefusedPort()
    const dir = tempDir('daily-pgdown')
    const oldLog = oldFile(join(dir, 'logs/old.log'), 40)
    const { path } = writeConfig(settings(dir, { services: { ...services, postgres: { enabled: false } } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json'], { ...env(template), PGPORT: String(refused) })
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    for (const id of ['retention', 'vacuum', 'reindex', 'stats-reset'])
      expect(step(report, id)).toMatchObject({ status: 'failed', summary: expect.stringMatching(/refused the connection/) })
    for (const id of ['clean-logs', 'clean-temp', 'disk']) expect(step(report, id).status).toBe('ok')
    expect(existsSync(oldLog)).toBe(false)
  })

  it('pushes a disk alert through API v2, resolves it when usage drops, and survives a dead AlertManager', async () => {
    const dir = tempDir('daily-disk')
    const host = `disk-${Date.now()}`
    const active = async () => {
      const res = await fetch(`${alertmanager.url}/api/v2/alerts?active=true&filter=${encodeURIComponent(`instance="${host}"`)}`)
      return ((await res.json()) as { labels: Record<string, string>; endsAt: string }[]).map((a) => a.labels.alertname)
    }
    const full = writeConfig(settings(dir, { host, disk: { paths: [dir], warningPercent: 1, criticalPercent: 100 } }))
    const warned = parseReport(await runCli(['maintain', 'daily', '--config', full.path, '--json', '--only', 'disk'], env(template)))
    expect(step(warned, 'disk').status).toBe('warning')
    expect(warned.alerts).toEqual([{ alertname: 'DiskSpaceWarning', severity: 'warning', delivered: true }])
    expect(await active()).toEqual(['DiskSpaceWarning'])

    const fine = writeConfig(settings(dir, { host, disk: { paths: [dir], warningPercent: 99.9, criticalPercent: 100 } }))
    const resolved = parseReport(await runCli(['maintain', 'daily', '--config', fine.path, '--json', '--only', 'disk'], env(template)))
    expect(step(resolved, 'disk').status).toBe('ok')
    expect(resolved.alerts).toEqual([{ alertname: 'DiskSpaceWarning', severity: 'warning', delivered: true, resolved: true }])
    expect(await active()).toEqual([])

    const refused = await startRefusedPort()
    const deaf = await runCli(['maintain', 'daily', '--config', full.path, '--json', '--only', 'disk,clean-logs'], {
      ...env(template),
      ALERTMANAGER_URL: `http://127.0.0.1:${refused}`,
    })
    expect(deaf.exitCode).toBe(0)
    const report = parseReport(deaf)
    expect(report.alerts[0]).toMatchObject({ alertname: 'DiskSpaceWarning', delivered: false, error: expect.stringMatching(/refused/) })
    expect(step(report, 'clean-logs').status).toBe('ok')
    const log = readFileSync(join(full.dir, 'maintenance.log'), 'utf8')
    expect(log).toContain('DiskSpaceWarning')
  })

  it('fails and alerts for a stopped service, naming the recover command', async () => {
    const { docker } = bed()
    const name = uniqueName('web')
    const web = await runSleeperContainer(docker, { name })
    containers.push(web)
    await dockerCli(docker, ['stop', '-t', '1', name])
    const dir = tempDir('daily-svc')
    const host = `svc-${Date.now()}`
    const { path } = writeConfig(settings(dir, { host, services: { ...services, web: { container: name, readiness: 'running' } } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'services'], env(template))
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    expect(step(report, 'services')).toMatchObject({ status: 'failed', error: { hint: 'probe-ops recover web' } })
    expect(report.alerts).toEqual([{ alertname: 'ServiceDown', severity: 'critical', delivered: true }])
    const res = await fetch(`${alertmanager.url}/api/v2/alerts?active=true&filter=${encodeURIComponent(`instance="${host}"`)}`)
    expect(((await res.json()) as { labels: Record<string, string> }[]).map((a) => a.labels.service)).toEqual(['web'])
  })

  it('rebuilds a bloated index concurrently and drops the leftover of an interrupted rebuild', async () => {
    const database = await freshDatabase()
    await sql(database, `create table bloated (id bigint primary key, v text)`)
    await sql(database, `insert into bloated select g, md5(g::text) from generate_series(1, 200000) g`)
    await sql(database, `create index bloated_v on bloated (v)`)
    await sql(database, `delete from bloated where id % 10 <> 0`)
    await sql(database, `vacuum analyze bloated`)
    // What an interrupted REINDEX CONCURRENTLY leaves: an invalid index named *_ccnew.
    await sql(database, `create table dup (x int)`)
    await sql(database, `insert into dup values (1), (1)`)
    await sql(database, `create unique index concurrently dup_x_ccnew on dup (x)`).catch(() => undefined)
    const sizeBefore = Number((await sql<{ b: string }>(database, `select pg_relation_size('bloated_v') as b`))[0]!.b)
    const dir = tempDir('daily-reindex')
    const { path } = writeConfig(settings(dir, { reindex: { minIndexBytes: 1024 * 1024, minBloatPercent: 50 } }))
    const result = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'reindex'], env(database))
    expect(result.exitCode, result.stdout).toBe(0)
    const data = step(parseReport(result), 'reindex').data as { rebuilt: { index: string }[]; dropped: string[]; method: string }
    expect(data.method).toBe('estimate')
    expect(data.rebuilt.map((r) => r.index)).toEqual(expect.arrayContaining(['public.bloated_v', 'public.bloated_pkey']))
    expect(data.dropped).toEqual(['public.dup_x_ccnew'])
    const sizeAfter = Number((await sql<{ b: string }>(database, `select pg_relation_size('bloated_v') as b`))[0]!.b)
    expect(sizeAfter).toBeLessThan(sizeBefore / 3)
    expect(await sql(database, `select 1 from pg_class where relname = 'dup_x_ccnew'`)).toHaveLength(0)

    // With pgstattuple installed the exact figures are used instead of the estimate.
    await sql(database, 'create extension pgstattuple')
    const exact = await runCli(['maintain', 'daily', '--config', path, '--json', '--only', 'reindex', '--dry-run'], env(database))
    expect((step(parseReport(exact), 'reindex').data as { method: string }).method).toBe('pgstattuple')
  })
})
