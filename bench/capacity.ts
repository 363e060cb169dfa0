/**
 * Benchmark of issue 7: `probe-ops capacity-report` on 5,000,000 task_results rows against the
 * guide's capacity-planning.py, and the fill forecast against synthetic histories whose fill
 * date is known.
 *
 *   npm run bench -- capacity [--rows 5000000] [--days 120] [--runs 5] [--build] [--out FILE] [--raw FILE]
 *
 * Run as root: starts a private PostgreSQL 15 (test/bed/postgres.ts, as the `postgres` OS user,
 * on 127.0.0.1, shared_buffers 128MB, PostgreSQL's default) and Redis (test/bed/redis.ts), and
 * builds the platform's schema (src/sandbox/schema.ts) with --rows task_results over --days days
 * and its indexes, twice: VACUUM ANALYZEd (as autovacuum leaves a table) and with autovacuum off
 * and only ANALYZE (the visibility map empty, as right after a burst of inserts). On each copy it
 * measures, in interleaved rounds after one verified warm-up of each:
 *   1. the guide's capacity-planning.py (bench/guide/capacity-planning.py, Debian's python3 with
 *      python3-psycopg2, -psutil, -redis), whole;
 *   2. its GROUP BY of task_results by day alone, in psql: as the planner chooses, and with the
 *      planner kept off indexes (the guide's schema has no index on execution_time), and for
 *      reference an exact count(*) of the whole table;
 *   3. `probe-ops capacity-report --json`, whole (and its database step's own time);
 * with the rows each read by sequential and index scans (pg_stat_user_tables) and the plans.
 * Then the forecast: end to end (29 days of saved reports for the mount of a temp dir, growing
 * so that it fills in a known number of days; `capacity-report --only disk`; the predicted fill
 * date against the truth), and on 1,000 random synthetic histories through the forecast module.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { stringify } from 'yaml'
import { configSchema } from '../src/config/schema.js'
import { DAY_MS, fillForecast } from '../src/lib/forecast.js'
import { seriesGrowth } from '../src/jobs/capacity/growth.js'
import { historyFileName } from '../src/report/history.js'
import type { Report, StepResult } from '../src/report/model.js'
import { INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../src/sandbox/schema.js'
import { pgClientConfig, startPostgres, type PostgresInfo } from '../test/bed/postgres.js'
import { startRedis, type RedisInfo } from '../test/bed/redis.js'
import { ROOT, integer, interleave, runIfMain, type Bench, type BenchDefinition, type Sample } from './lib/harness.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv, tail, timed, type TimedResult } from './lib/proc.js'
import { median, summarize, type Summary } from './lib/stats.js'

const GUIDE = path.join(ROOT, 'bench/guide/capacity-planning.py')
const PYTHON = '/usr/bin/python3'
const TARGET_MS = 5000
const GUIDE_GROUP_BY = `SELECT DATE_TRUNC('day', execution_time) as date, COUNT(*) as daily_records FROM task_results WHERE execution_time >= NOW() - INTERVAL '30 days' GROUP BY DATE_TRUNC('day', execution_time) ORDER BY date;`
/** The guide defines no index on execution_time: its GROUP BY on such a database reads the whole table. */
const NO_INDEX = 'SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;'
const COUNT_ALL = 'SELECT count(*) FROM task_results;'

interface Args {
  rows: number
  days: number
  runs: number
}

const fmtMs = (v: number): string => `${Math.round(v).toLocaleString('en-US')} ms`
const fmtN = (v: number): string => Math.round(v).toLocaleString('en-US')

function summaryRow(name: string, measure: string, s: Summary): string[] {
  return [name, measure, String(s.runs), fmtMs(s.median), fmtMs(s.min), fmtMs(s.max)]
}

/** The bench's own PostgreSQL and Redis, the config of probe-ops, and the helpers every part uses. */
interface Setup {
  bench: Bench
  args: Args
  work: string
  info: PostgresInfo
  redisInfo: RedisInfo
  rowsPerDay: number
  guideDir: string
  configPath: string
  sql<R extends pg.QueryResultRow>(database: string, text: string, params?: unknown[]): Promise<R[]>
  pgEnvOf(database: string): Record<string, string>
  probeEnvOf(database: string): Record<string, string>
}

async function setup(bench: Bench, args: Args): Promise<Setup> {
  try {
    execFileSync(PYTHON, ['-c', 'import psycopg2, psutil, redis'], { stdio: 'ignore' })
  } catch {
    throw new Error(`the guide's script needs ${PYTHON} with psycopg2, psutil and redis: apt-get install -y python3-psycopg2 python3-psutil python3-redis`)
  }
  const work = await bench.tempDir('po-bench-cap-')
  bench.log('starting PostgreSQL 15 and Redis')
  const postgres = await startPostgres({ extraConf: { shared_buffers: "'128MB'" } })
  bench.teardown.add('postgres', () => postgres.stop())
  const redis = await startRedis()
  bench.teardown.add('redis', () => redis.stop())
  bench.watch({ pids: [postgres.info.pid, redis.info.pid] })
  const info = postgres.info
  const sql = async <R extends pg.QueryResultRow>(database: string, text: string, params: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ ...pgClientConfig(info, database), statement_timeout: 0 })
    await client.connect()
    try {
      return (await client.query<R>(text, params)).rows
    } finally {
      await client.end()
    }
  }
  const redisInfo: RedisInfo = redis.info
  const pgEnvOf = (database: string) => ({ PGHOST: info.host, PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGDATABASE: database })
  const guideDir = path.join(work, 'guide')
  mkdirSync(guideDir)
  const configPath = path.join(work, 'probe-ops.yaml')
  writeFileSync(
    configPath,
    stringify({
      host: 'bench',
      reports: { dir: path.join(work, 'reports') },
      log: { file: path.join(work, 'logs/maintenance.log') },
      lock: { dir: path.join(work, 'lock') },
      backup: { dir: path.join(work, 'backups') },
      disk: { paths: [work] },
    }),
  )
  return {
    bench,
    args,
    work,
    info,
    redisInfo,
    rowsPerDay: Math.ceil(args.rows / args.days),
    guideDir,
    configPath,
    sql,
    pgEnvOf,
    probeEnvOf: (database) => cleanEnv({ ...pgEnvOf(database), REDIS_URL: redisInfo.url }),
  }
}

/** One data set: the same rows, vacuumed (the visibility map set) or straight after the load. */
async function runScenario(s: Setup, database: string, vacuumed: boolean): Promise<Scenario> {
  const { bench, args, info, sql, rowsPerDay, redisInfo, pgEnvOf, probeEnvOf, guideDir, configPath, work } = s
  const log = (line: string): void => bench.log(line)
  if (database !== info.database) await sql(info.database, `create database ${database}`)
  log(
    `${database}: loading ${fmtN(rowsPerDay * args.days)} task_results over ${args.days} days${vacuumed ? ', then VACUUM ANALYZE' : ', autovacuum off, ANALYZE only'}`,
  )
  const loadStarted = performance.now()
  await sql(database, SCHEMA_SQL)
  if (!vacuumed) await sql(database, 'alter table task_results set (autovacuum_enabled = false)')
  await sql(database, referenceDataSql({ agents: 10, tasks: 50 }))
  await sql(database, TASK_RESULTS_SQL, [args.days, rowsPerDay])
  await sql(database, INDEX_SQL)
  await sql(database, vacuumed ? 'vacuum analyze' : 'analyze')
  const loadMs = performance.now() - loadStarted
  const [facts] = await sql<{ n: string; bytes: string; db: string; window: string }>(
    database,
    `select (select count(*) from task_results) as n, pg_total_relation_size('task_results') as bytes, pg_database_size(current_database()) as db,
                (select count(*) from task_results where execution_time >= now() - interval '30 days') as window`,
  )
  log(`${database}: ${fmtN(Number(facts!.n))} rows (${(Number(facts!.bytes) / 2 ** 30).toFixed(2)} GiB with indexes) in ${(loadMs / 1000).toFixed(0)} s`)
  const plan = async (query: string, params: unknown[] = [], seqOff = false, indexOff = false): Promise<string> => {
    const client = new pg.Client(pgClientConfig(info, database))
    await client.connect()
    try {
      if (seqOff) await client.query('set enable_seqscan = off')
      if (indexOff) await client.query(NO_INDEX)
      const rows = (await client.query<{ 'QUERY PLAN': string }>(`explain ${query}`, params)).rows
      return rows
        .map((r) =>
          r['QUERY PLAN']
            .trim()
            .replace(/\s*\(cost=.*$/, '')
            .replace(/^->\s*/, ''),
        )
        .filter((l) => /Scan|Aggregate|Gather/.test(l))
        .join(' ← ')
    } finally {
      await client.end()
    }
  }
  const now = new Date()
  const guidePlan = await plan(GUIDE_GROUP_BY)
  const fullPlan = await plan(GUIDE_GROUP_BY, [], false, true)
  const countPlan = await plan(COUNT_ALL)
  const ourPlan = await plan(
    `select floor((extract(epoch from "execution_time"::timestamptz) - $3) / 86400)::int as bucket, count(*) as rows from "task_results" where "execution_time" >= $1 and "execution_time" < $2 group by 1`,
    [new Date(now.getTime() - 30 * DAY_MS).toISOString(), now.toISOString(), (now.getTime() - 30 * DAY_MS) / 1000],
    true,
  )
  const pgEnv = pgEnvOf(database)
  const guideEnv = cleanEnv({
    ...pgEnv,
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redisInfo.port),
    REDIS_PASSWORD: '',
    CAPACITY_REPORT_DIR: guideDir,
    PYTHONDONTWRITEBYTECODE: '1',
  })
  const scans = async (): Promise<{ seq: number; idx: number; heap: number }> => {
    const [r] = await sql<{ seq: string; idx: string; heap: string }>(
      database,
      `select s.seq_tup_read as seq, coalesce(i.idx_tup_read, 0) as idx, coalesce(io.heap_blks_read + io.heap_blks_hit, 0) as heap
             from pg_stat_user_tables s join pg_stat_user_indexes i using (relid) join pg_statio_user_tables io using (relid)
            where s.relname = 'task_results' and i.indexrelname = 'idx_task_results_execution_time'`,
    )
    return { seq: Number(r!.seq), idx: Number(r!.idx), heap: Number(r!.heap) }
  }
  let lastProbe: Report | undefined
  let guideOutput = ''
  const verifyProbe = (r: TimedResult): Report => {
    if (r.exitCode !== 0) throw new Error(`capacity-report exited ${r.exitCode}:\n${tail(r.stderr)}`)
    const report = JSON.parse(r.stdout) as Report
    const step = report.steps.find((x) => x.id === 'database') as StepResult
    const m = (step.data!.measured as { table: string; state: string; method: string; rowsPerDay: number }[]).find((x) => x.table === 'task_results')!
    if (step.status !== 'ok' || m.state !== 'measured' || m.method !== 'index-range-scan')
      throw new Error(`capacity-report did not measure task_results by its index: ${JSON.stringify(m)}`)
    if (Math.abs(m.rowsPerDay - rowsPerDay) / rowsPerDay > 0.01) throw new Error(`capacity-report measured ${m.rowsPerDay} rows/day, not ${rowsPerDay}`)
    if (report.steps.some((x) => x.status === 'failed')) throw new Error(`a step failed: ${JSON.stringify(report.steps.filter((x) => x.status === 'failed'))}`)
    return report
  }
  const contenders: Record<Contender, () => Promise<ScanSample>> = {
    guide: async () => {
      const r = await timed(PYTHON, [GUIDE], { env: guideEnv, cwd: work, timeoutMs: 300_000 })
      if (r.exitCode !== 0 || !r.stdout.includes('Capacity report generated successfully'))
        throw new Error(`capacity-planning.py failed (${r.exitCode}):\n${tail(r.stdout + r.stderr)}`)
      guideOutput = r.stdout
      return { ms: r.ms, seqRows: 0, idxRows: 0, heapBlocks: 0 }
    },
    groupBy: async () => {
      const r = await timed('psql', ['-X', '-q', '-A', '-t', '-c', GUIDE_GROUP_BY], { env: cleanEnv(pgEnv), cwd: work, timeoutMs: 300_000 })
      if (r.exitCode !== 0 || r.stdout.trim().split('\n').length < 30) throw new Error(`psql GROUP BY failed (${r.exitCode}):\n${tail(r.stdout + r.stderr)}`)
      return { ms: r.ms, seqRows: 0, idxRows: 0, heapBlocks: 0 }
    },
    fullGroupBy: async () => {
      const r = await timed('psql', ['-X', '-q', '-A', '-t', '-c', `${NO_INDEX} ${GUIDE_GROUP_BY}`], {
        env: cleanEnv(pgEnv),
        cwd: work,
        timeoutMs: 300_000,
      })
      if (r.exitCode !== 0 || r.stdout.trim().split('\n').length < 30)
        throw new Error(`psql full-table GROUP BY failed (${r.exitCode}):\n${tail(r.stdout + r.stderr)}`)
      return { ms: r.ms, seqRows: 0, idxRows: 0, heapBlocks: 0 }
    },
    countAll: async () => {
      const r = await timed('psql', ['-X', '-q', '-A', '-t', '-c', COUNT_ALL], { env: cleanEnv(pgEnv), cwd: work, timeoutMs: 300_000 })
      if (r.exitCode !== 0 || Number(r.stdout.trim()) < 1) throw new Error(`psql count(*) failed (${r.exitCode}):\n${tail(r.stdout + r.stderr)}`)
      return { ms: r.ms, seqRows: 0, idxRows: 0, heapBlocks: 0 }
    },
    probe: async () => {
      const r = await timed(process.execPath, [bench.cli.bin, 'capacity-report', '--config', configPath, '--json'], {
        env: probeEnvOf(database),
        cwd: work,
        timeoutMs: 300_000,
      })
      lastProbe = verifyProbe(r)
      return { ms: r.ms, seqRows: 0, idxRows: 0, heapBlocks: 0, stepMs: lastProbe.steps.find((x) => x.id === 'database')!.durationMs }
    },
  }
  const measure = async (name: Contender): Promise<ScanSample> => {
    const before = await scans()
    const sample = await contenders[name]()
    // The cumulative statistics are flushed when a backend exits; give them a moment.
    await new Promise((r) => setTimeout(r, 600))
    const after = await scans()
    return { ...sample, seqRows: after.seq - before.seq, idxRows: after.idx - before.idx, heapBlocks: after.heap - before.heap }
  }
  const measured = await interleave(
    bench,
    database,
    CONTENDERS.map((name) => ({ key: name, label: name, run: () => measure(name) })),
    args.runs,
    {
      order: 'alternate',
      describe: (x) => `${fmtMs(x.ms)} (seq rows ${fmtN(x.seqRows)}, index entries ${fmtN(x.idxRows)}, heap blocks ${fmtN(x.heapBlocks)})`,
    },
  )
  const samples = Object.fromEntries(measured) as Record<Contender, ScanSample[]>
  return {
    database,
    vacuumed,
    loadMs,
    totalRows: Number(facts!.n),
    windowRows: Number(facts!.window),
    tableBytes: Number(facts!.bytes),
    databaseBytes: Number(facts!.db),
    guidePlan,
    fullPlan,
    countPlan,
    ourPlan,
    samples,
    lastProbe: lastProbe!,
    guideOutput,
  }
}

interface EndToEnd {
  truthDays: number
  noise: number
  predictedDays: number
  errorDays: number
  growthPerDay: number
  state: string
}

interface MonteCarlo {
  noise: number
  n: number
  within1: number
  median: number
  p95: number
  max: number
}

/** The forecast, end to end: saved histories of a known growth, then `capacity-report --only disk`. */
async function forecastEndToEnd(s: Setup): Promise<EndToEnd[]> {
  s.bench.log('forecast: synthetic histories through the CLI')
  const e2e: EndToEnd[] = []
  const rand = mulberry32(42)
  for (const [truthDays, noise] of [
    [10, 0.05],
    [25, 0.05],
    [60, 0.05],
    [25, 0.2],
  ] as const) {
    const dir = path.join(s.work, `forecast-${truthDays}-${noise}`)
    const cfg = path.join(dir, 'probe-ops.yaml')
    mkdirSync(path.join(dir, 'reports'), { recursive: true })
    writeFileSync(
      cfg,
      stringify({
        host: 'bench',
        reports: { dir: path.join(dir, 'reports') },
        log: { file: '' },
        lock: { dir: path.join(dir, 'lock') },
        backup: { dir: path.join(dir, 'backups') },
        disk: { paths: [dir] },
      }),
    )
    const run = async (): Promise<Report> => {
      const r = await timed(process.execPath, [s.bench.cli.bin, 'capacity-report', '--config', cfg, '--json', '--only', 'disk'], {
        env: s.probeEnvOf(s.info.database),
        cwd: s.work,
        timeoutMs: 120_000,
      })
      if (r.exitCode !== 0) throw new Error(`capacity-report --only disk exited ${r.exitCode}:\n${tail(r.stderr)}`)
      return JSON.parse(r.stdout) as Report
    }
    type Disk = {
      mount: string
      usedBytes: number
      freeBytes: number
      paths: { path: string }[]
      growth: { source: string; perDay: number }
      forecast: { state: string; fillDate?: string; daysUntilFull?: number }
    }
    const diskOf = (report: Report): Disk =>
      (report.steps.find((s) => s.id === 'disk')!.data!.disks as Disk[]).find((d) => d.paths.some((p) => p.path === dir))!
    const first = diskOf(await run())
    const perDay = first.freeBytes / truthDays
    const at = Date.now()
    for (let daysAgo = 1; daysAgo <= 29; daysAgo++) {
      const when = new Date(at - daysAgo * DAY_MS)
      const used = Math.round(first.usedBytes - perDay * daysAgo + noise * perDay * normal(rand))
      const steps: StepResult[] = [
        { id: 'disk', title: 'disk', status: 'ok', durationMs: 1, summary: '', data: { disks: [{ mount: first.mount, usedBytes: used }] } },
      ]
      const report: Report = {
        schemaVersion: 1,
        command: 'capacity-report',
        version: '0',
        host: 'bench',
        startedAt: when.toISOString(),
        finishedAt: when.toISOString(),
        durationMs: 1,
        status: 'ok',
        dryRun: false,
        steps,
        alerts: [],
      }
      writeFileSync(path.join(dir, 'reports', historyFileName('capacity', when)), JSON.stringify(report))
    }
    const second = await run()
    const disk = diskOf(second)
    if (disk.growth.source !== 'history' || !disk.forecast.fillDate) throw new Error(`no history forecast: ${JSON.stringify(disk)}`)
    // The truth: today's free space used up at the history's known rate.
    const truth = Date.parse(second.startedAt) + (disk.freeBytes / perDay) * DAY_MS
    const predicted = Date.parse(disk.forecast.fillDate)
    e2e.push({
      truthDays: disk.freeBytes / perDay,
      noise,
      predictedDays: disk.forecast.daysUntilFull!,
      errorDays: (predicted - truth) / DAY_MS,
      growthPerDay: perDay,
      state: disk.forecast.state,
    })
  }

  return e2e
}

/** The forecast module (as the disk step calls it) on random synthetic histories. */
function forecastModule(): MonteCarlo[] {
  // The defaults the disk step runs with.
  const capacityConfig = configSchema.parse({}).capacity
  return [0.05, 0.2].map((noise) => {
    const r = mulberry32(noise === 0.05 ? 1 : 2)
    const errors: number[] = []
    for (let i = 0; i < 1000; i++) {
      const capacity = (100 + r() * 900) * 2 ** 30
      const perDay = (0.2 + r() * 20) * 2 ** 30
      const truthDays = 3 + r() * 117
      const days = 14 + Math.floor(r() * 31)
      const t0 = Date.UTC(2026, 10, 25)
      const usedNow = capacity - truthDays * perDay
      const pts = Array.from({ length: days }, (_, k) => ({
        at: t0 - (days - 1 - k) * DAY_MS,
        value: usedNow - perDay * (days - 1 - k) + noise * perDay * normal(r),
      }))
      const current = pts.pop()!
      const g = seriesGrowth(pts, current, null, capacityConfig)
      const f = fillForecast({ capacity, used: current.value, perDay: g.perDay, slopeError: g.slopeError, now: current.at })
      errors.push(f.state === 'filling' ? Math.abs(Date.parse(f.fillDate) - (t0 + truthDays * DAY_MS)) / DAY_MS : Infinity)
    }
    const sorted = [...errors].sort((a, b) => a - b)
    return {
      noise,
      n: errors.length,
      within1: errors.filter((e) => e < 1).length,
      median: median(errors),
      p95: sorted[Math.ceil(0.95 * sorted.length) - 1]!,
      max: sorted[sorted.length - 1]!,
    }
  })
}

function wallSection(scenarios: Scenario[]): string[] {
  const [first] = scenarios
  const out: string[] = []
  out.push(`### 1. Wall time on ${fmtN(first!.totalRows)} rows (target: capacity-report under 5 s)`, '')
  const rows: string[][] = []
  for (const sc of scenarios) {
    const label = sc.vacuumed ? 'vacuumed' : 'unvacuumed'
    const sum = (name: Contender) => summarize(sc.samples[name].map((x) => x.ms))
    rows.push([label, ...summaryRow('guide: capacity-planning.py', 'spawn to exit', sum('guide'))])
    rows.push([label, ...summaryRow('guide: its GROUP BY in psql', 'spawn to exit', sum('groupBy'))])
    rows.push([label, ...summaryRow('guide: its GROUP BY in psql, no execution_time index', 'spawn to exit', sum('fullGroupBy'))])
    rows.push([label, ...summaryRow('reference: `count(*)` of the whole table in psql', 'spawn to exit', sum('countAll'))])
    rows.push([label, ...summaryRow('`probe-ops capacity-report`', 'spawn to exit', sum('probe'))])
    rows.push([label, ...summaryRow('`probe-ops capacity-report`', 'its database step (report)', summarize(sc.samples.probe.map((x) => x.stepMs!)))])
  }
  out.push(table(['data', 'contender', 'measure', 'runs', 'median', 'min', 'max'], rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r']))
  out.push('')
  for (const sc of scenarios) {
    const p = summarize(sc.samples.probe.map((x) => x.ms)).median
    const g = summarize(sc.samples.guide.map((x) => x.ms)).median
    const f = summarize(sc.samples.fullGroupBy.map((x) => x.ms)).median
    out.push(
      `- ${sc.vacuumed ? 'vacuumed' : 'unvacuumed'}: target ${p < TARGET_MS ? 'met' : '**missed**'}, probe-ops median ${fmtMs(p)} against ${fmtMs(TARGET_MS)}; time as a share of probe-ops' (medians): guide script ${(g / p).toFixed(2)}×, full-table GROUP BY alone ${(f / p).toFixed(2)}×.`,
    )
  }
  out.push('')
  out.push(
    'What each run read of task_results (medians of the deltas of pg_stat_user_tables.seq_tup_read, idx_tup_read of idx_task_results_execution_time, and heap blocks hit or read from pg_statio_user_tables), and the plan of the per-day count:',
    '',
  )
  const scanRows: string[][] = []
  for (const sc of scenarios) {
    const label = sc.vacuumed ? 'vacuumed' : 'unvacuumed'
    const med = (name: Contender, key: 'seqRows' | 'idxRows' | 'heapBlocks') => fmtN(median(sc.samples[name].map((x) => x[key])))
    scanRows.push([label, 'guide: capacity-planning.py', med('guide', 'seqRows'), med('guide', 'idxRows'), med('guide', 'heapBlocks'), sc.guidePlan])
    scanRows.push([label, 'guide: its GROUP BY in psql', med('groupBy', 'seqRows'), med('groupBy', 'idxRows'), med('groupBy', 'heapBlocks'), sc.guidePlan])
    scanRows.push([
      label,
      'guide: its GROUP BY, no execution_time index',
      med('fullGroupBy', 'seqRows'),
      med('fullGroupBy', 'idxRows'),
      med('fullGroupBy', 'heapBlocks'),
      sc.fullPlan,
    ])
    scanRows.push([
      label,
      'reference: `count(*)` of the whole table',
      med('countAll', 'seqRows'),
      med('countAll', 'idxRows'),
      med('countAll', 'heapBlocks'),
      sc.countPlan,
    ])
    scanRows.push([label, '`probe-ops capacity-report`', med('probe', 'seqRows'), med('probe', 'idxRows'), med('probe', 'heapBlocks'), sc.ourPlan])
  }
  out.push(table(['data', 'contender', 'rows read by sequential scans', 'index entries read', 'heap blocks', 'plan'], scanRows, ['l', 'l', 'r', 'r', 'r', 'l']))
  out.push('')
  const m = (first!.lastProbe.steps.find((x) => x.id === 'database')!.data!.measured as { rowsPerDay: number; bytesPerRow: number }[])[0]!
  const guideEstimate = /Estimated monthly growth: ([\d.]+) GB/.exec(first!.guideOutput)?.[1]
  const guideDaily = /Average daily records: (\d+)/.exec(first!.guideOutput)?.[1]
  out.push(
    `probe-ops reads the window's ${fmtN(first!.windowRows)} index entries for the per-day counts and as many again for the rows that age past the 90-day retention over the next 30 days (the same index, sequential scans off for these two queries), two index end lookups for the oldest and newest row, and planner statistics for every size and row total. The guide's GROUP BY is left to the planner: with the index this bench's schema has (src/sandbox/schema.ts), it chose the same index; the guide's own schema defines none, and then the same query reads all ${fmtN(first!.totalRows)} rows. What each says: the guide's script printed ${code(`Average daily records: ${guideDaily ?? '?'}`)} (31 calendar-day buckets, the first and last partial) and ${code(`Estimated monthly growth: ${guideEstimate ?? '?'} GB`)} (1 KB a row assumed, and a unit slip: the figure is MB); probe-ops measured ${fmtN(m.rowsPerDay)} rows/day at ${Math.round(m.bytesPerRow)} B a row (table, TOAST and indexes over the planner's row count), ${((m.rowsPerDay * m.bytesPerRow * 30) / 2 ** 30).toFixed(2)} GiB a month arriving.`,
  )
  out.push('')
  return out
}

function forecastSection(e2e: EndToEnd[], monteCarlo: MonteCarlo[]): string[] {
  const out: string[] = []
  out.push('### 2. Fill forecast against a known truth (target: within 1 day)', '')
  out.push(
    `End to end: for a temp dir's mount, 29 days of saved capacity reports whose used bytes grow at a rate that fills the disk's free space in the given days (plus Gaussian noise with the given share of a day's growth), then ${code('probe-ops capacity-report --only disk')}; the truth is the run's free space used up at that rate.`,
    '',
  )
  out.push(
    table(
      ['fills in (truth)', 'noise', 'growth', 'predicted', 'error', 'state'],
      e2e.map((e) => [
        `${e.truthDays.toFixed(2)} days`,
        `${Math.round(e.noise * 100)}% of a day`,
        `${(e.growthPerDay / 2 ** 30).toFixed(2)} GiB/day`,
        `${e.predictedDays} days`,
        `${e.errorDays >= 0 ? '+' : ''}${(e.errorDays * 24).toFixed(1)} h`,
        e.state,
      ]),
      ['r', 'r', 'r', 'r', 'r', 'l'],
    ),
  )
  out.push('')
  out.push(
    'The forecast module (src/lib/forecast.ts, as the disk step calls it) on 1,000 random histories each: capacity 100-1,000 GiB, growth 0.2-20 GiB/day, 14-44 daily points, true fill 3-120 days away:',
    '',
  )
  out.push(
    table(
      ["noise (share of a day's growth)", 'histories', 'within 1 day', 'median error', 'p95 error', 'max error'],
      monteCarlo.map((c) => [
        `${Math.round(c.noise * 100)}%`,
        String(c.n),
        `${c.within1} (${((c.within1 / c.n) * 100).toFixed(1)}%)`,
        `${(c.median * 24).toFixed(1)} h`,
        `${(c.p95 * 24).toFixed(1)} h`,
        `${(c.max * 24).toFixed(1)} h`,
      ]),
      ['r', 'r', 'r', 'r', 'r', 'r'],
    ),
  )
  out.push('')
  return out
}

async function run(bench: Bench, args: Args): Promise<void> {
  const s = await setup(bench, args)
  const scenarios = [await runScenario(s, s.info.database, true), await runScenario(s, 'network_probe_unvacuumed', false)]
  const e2e = await forecastEndToEnd(s)
  bench.log('forecast: 1,000 random synthetic histories per noise level')
  const monteCarlo = forecastModule()
  bench.raw.scenarios = scenarios.map(({ lastProbe: _report, ...rest }) => rest)
  bench.raw.forecast = { e2e, monteCarlo, rowsPerDay: s.rowsPerDay }
  const { rowsPerDay } = s
  const [first] = scenarios
  const out = bench.out
  out.push(
    `- Data: a private PostgreSQL 15 (test bed: shared_buffers 128MB, fsync off) with the platform schema (src/sandbox/schema.ts): ${fmtN(first!.totalRows)} task_results rows, ${fmtN(rowsPerDay)} a day over ${args.days} days, ${fmtN(first!.windowRows)} in the last 30 days; task_results ${(first!.tableBytes / 2 ** 30).toFixed(2)} GiB with its indexes, the database ${(first!.databaseBytes / 2 ** 30).toFixed(2)} GiB. Two copies: **vacuumed** (VACUUM ANALYZE after the load, as autovacuum leaves a table between bursts of writes) and **unvacuumed** (autovacuum off, ANALYZE only: the visibility map empty, as right after a burst of inserts). A private Redis.`,
  )
  out.push(
    `- Contenders: the guide's capacity-planning.py (bench/guide/capacity-planning.py, changed only for connection settings and the report's directory, each change marked \`BENCH CHANGE\`; Debian's python3 with psycopg2, psutil, redis), whole; its GROUP BY alone in psql, as the planner chose and with the planner kept off indexes (the guide's schema defines no index on execution_time: a full-table GROUP BY); for reference, an exact \`count(*)\` of the whole table in psql (the row total probe-ops takes from planner statistics instead); \`probe-ops capacity-report\`, whole (all five steps, Redis included). For each copy: 1 verified warm-up of each, then ${args.runs} rounds, the order reversed every other round. Every run is verified: the script's "Capacity report generated successfully"; psql's 30+ day rows; probe-ops exit 0, no failed step, task_results measured by \`index-range-scan\` at ${fmtN(rowsPerDay)} rows/day ±1%.`,
  )
  out.push('')
  out.push(...wallSection(scenarios), ...forecastSection(e2e, monteCarlo))
}

const CONTENDERS = ['guide', 'groupBy', 'fullGroupBy', 'countAll', 'probe'] as const
type Contender = (typeof CONTENDERS)[number]

/** A run, and what it read of task_results. */
interface ScanSample extends Sample {
  ms: number
  seqRows: number
  idxRows: number
  heapBlocks: number
  stepMs?: number
}

interface Scenario {
  database: string
  vacuumed: boolean
  loadMs: number
  totalRows: number
  windowRows: number
  tableBytes: number
  databaseBytes: number
  guidePlan: string
  fullPlan: string
  countPlan: string
  ourPlan: string
  samples: Record<Contender, ScanSample[]>
  lastProbe: Report
  guideOutput: string
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

export const definition: BenchDefinition<Args> = {
  name: 'capacity',
  title: 'Issue 7: capacity-report',
  summary: "issue 7: `capacity-report` on 5 M rows against the guide's capacity-planning.py, forecast accuracy",
  root: 'it starts PostgreSQL as the postgres OS user',
  cli: true,
  options: {
    rows: { type: 'string', value: 'N', default: '5000000', help: 'task_results rows, spread evenly over --days days ending now' },
    days: { type: 'string', value: 'N', default: '120', help: 'days of data (a quarter older than the 90-day retention)' },
    runs: { type: 'string', value: 'N', default: '5', help: 'measured rounds of each contender' },
  },
  notes: ['It needs PostgreSQL 15, redis-server and python3-psycopg2, python3-psutil, python3-redis.'],
  parse: (values) => ({ rows: integer(values, 'rows', { min: 1000 }), days: integer(values, 'days', { min: 31 }), runs: integer(values, 'runs') }),
  run,
}

runIfMain(import.meta, definition)
