/**
 * Benchmark of issue 3: `probe-ops maintain daily` against the guide's daily-maintenance.sh.
 *
 *   node --import tsx bench/maintain-daily.ts [--rows 2000000] [--runs 3] [--small-rows 500000]
 *        [--part-runs 5] [--batch-rows 5000,20000] [--writer-interval 10] [--build] [--raw FILE]
 *
 * Run as root: starts a private PostgreSQL 15 (test/bed/postgres.ts, as the `postgres` OS user,
 * on 127.0.0.1, default durability settings: fsync and synchronous_commit on, shared_buffers
 * 128MB) and builds the demo schema with `--rows` task_results over 120 days (a quarter older
 * than 90 days) once, as template databases (bench/maintain/data.ts). Every measured run works
 * on a fresh CREATE DATABASE ... TEMPLATE copy, dropped afterwards, while a separate process
 * (bench/maintain/writer.ts) inserts one result every --writer-interval ms and records how long
 * each insert takes. It measures, interleaved run by run:
 *   A. the guide's `DELETE FROM task_results WHERE execution_time < now() - interval '90 days'`
 *      (psql, as the script runs it) against `probe-ops maintain daily --only retention` with each
 *      --batch-rows: wall time, the longest transaction (the DELETE's one statement; the
 *      report's data.rules[0].longestBatchMs), the writer's insert latency; then chooses a batch
 *      size by issue 3's targets, and kills each contender with SIGKILL at half its median time
 *      to count the deleted rows that stayed deleted (and lets probe-ops run again to finish);
 *   B. the guide's `VACUUM ANALYZE;` + `REINDEX DATABASE` (two psql calls, as the script does)
 *      against `--only vacuum,reindex` (reindex.minIndexBytes 0, minBloatPercent 10), on a copy
 *      where the DELETE has left dead rows and bloated indexes, once with probe-ops' own bloat
 *      estimate and once with pgstattuple installed (its pgstatindex method): the writer's
 *      longest wait, what each method finds bloated;
 *   C. `--only retention` on the same rows partitioned by day (and on a --small-rows subset),
 *      with the server log's ERROR lines (and their DETAIL/STATEMENT) of every run;
 *   C′. the partition drops while another session holds a lock on `tasks` (a report's open
 *      transaction): probe-ops' run then (outcome, the writer's longest wait) and the next run
 *      after the lock is gone; beside it, the statement the code before sent (ALTER TABLE … DROP
 *      CONSTRAINT under lock_timeout 2 s), and which locks each way of dropping needs;
 *   D. the whole `maintain daily` run, step by step.
 * Prints markdown on stdout, progress on stderr; writes nothing into the repository. Tears
 * everything down at the end, on failure and on SIGINT/SIGTERM too.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { Report, StepResult } from '../src/report/model.js'
import { pgClientConfig, startPostgres, type PostgresInfo } from '../test/bed/postgres.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv, runningChildren, tail, timed, type TimedResult } from './lib/proc.js'
import { median, percentile } from './lib/stats.js'
import { snapshotCli } from './lib/snapshot.js'
import { Teardown } from './lib/teardown.js'
import { RETENTION_DAYS, buildBloated, buildFlat, buildPartitioned, copyDatabase, countRows, dropDatabase, sqlRunner, type Sql } from './maintain/data.js'
import type { WriterSamples } from './maintain/writer.js'
import { runShape, type Shape, type ShapeResult } from './maintain/batch-shapes.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const WRITER = path.join(ROOT, 'bench/maintain/writer.ts')
const DAY_MS = 86_400_000
const GUIDE_DELETE = `DELETE FROM task_results WHERE execution_time < NOW() - INTERVAL '${RETENTION_DAYS} days';`
/** Writer latency before each contender starts, and after it ends. */
const BASELINE_MS = 3000
const AFTER_MS = 1000
const RUN_TIMEOUT_MS = 15 * 60_000

/** Issue 3's targets. */
const TARGET_RATIO = 1.5
const TARGET_BATCH_MS = 1000
const TARGET_WAIT_MS = 1000
const TARGET_PARTITIONED_MS = 1000

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}
const epochNow = (): number => performance.timeOrigin + performance.now()

interface Args {
  rows: number
  smallRows: number
  runs: number
  partRuns: number
  batchRows: number[]
  writerInterval: number
  build: boolean
  raw?: string
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '2000000' },
      'small-rows': { type: 'string', default: '500000' },
      runs: { type: 'string', default: '3' },
      'part-runs': { type: 'string', default: '5' },
      'batch-rows': { type: 'string', default: '5000,20000' },
      'writer-interval': { type: 'string', default: '10' },
      build: { type: 'boolean', default: false },
      raw: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(
      'usage: node --import tsx bench/maintain-daily.ts [--rows N] [--runs N] [--small-rows N] [--part-runs N] [--batch-rows A,B] [--writer-interval MS] [--build] [--raw FILE]\n' +
        '  --rows N            task_results rows of the data set (default 2000000; 120 days, a quarter older than 90)\n' +
        '  --small-rows N      rows of the smaller partitioned set (default 500000)\n' +
        '  --runs N            measured runs of each contender (default 3)\n' +
        '  --part-runs N       runs of each partitioned retention (default 5; they take seconds)\n' +
        '  --batch-rows A,B    retention.batchRows values to compare (default 5000,20000)\n' +
        "  --writer-interval   ms between the concurrent writer's inserts (default 10)\n" +
        '  --build             build src/ into a private copy instead of copying dist/\n' +
        '  --raw FILE          also write every measurement as JSON to FILE\n',
    )
    process.exit(0)
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
    return n
  }
  const batchRows = values['batch-rows'].split(',').map((s) => int('batch-rows', s.trim(), 1))
  return {
    rows: int('rows', values.rows, 1200),
    smallRows: int('small-rows', values['small-rows'], 1200),
    runs: int('runs', values.runs, 1),
    partRuns: int('part-runs', values['part-runs'], 1),
    batchRows,
    writerInterval: int('writer-interval', values['writer-interval'], 1),
    build: values.build,
    raw: values.raw,
  }
}

// ---------------------------------------------------------------------------------------------
// State shared by the phases (set up by main()).

let info: PostgresInfo
let sql: Sql
let BIN = ''
let WORK = ''
let AM_URL = ''
let args: Args
let dbCounter = 0
const writers = new Set<ChildProcess>()
const killables = new Set<ChildProcess>()

// ---------------------------------------------------------------------------------------------
// Latency bookkeeping.

interface Window {
  start: number
  end: number
}

interface LatencyStats {
  n: number
  p50: number
  p99: number
  max: number
}

function latenciesIn(samples: WriterSamples, w: Window): number[] {
  const out: number[] = []
  for (let i = 0; i < samples.starts.length; i++) {
    const s = samples.starts[i]!
    const l = samples.latencies[i]!
    if (s < w.end && s + l > w.start) out.push(l)
  }
  return out
}

function stats(values: number[]): LatencyStats {
  if (values.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN }
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values) }
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (value < 10) return `${value.toFixed(1)} ms`
  return `${Math.round(value).toLocaleString('en-US')} ms`
}
const fmtX = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–')
const fmtN = (value: number): string => Math.round(value).toLocaleString('en-US')
const lat = (s: LatencyStats): string => `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}`

// ---------------------------------------------------------------------------------------------
// The concurrent writer.

interface WriterHandle {
  stop(): Promise<WriterSamples>
}

async function startWriter(db: string): Promise<WriterHandle> {
  const child = fork(WRITER, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: cleanEnv({ WRITER_PG: JSON.stringify(pgClientConfig(info, db)), WRITER_INTERVAL: String(args.writerInterval), WRITER_MAX_MS: String(30 * 60_000) }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  writers.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exited.then(() => writers.delete(child))
  let ready: () => void = () => undefined
  const readyP = new Promise<void>((resolve) => {
    ready = resolve
  })
  const samplesP = new Promise<WriterSamples>((resolve, reject) => {
    child.on('message', (m: { type?: string }) => {
      if (m.type === 'ready') ready()
      if (m.type === 'samples') resolve(m as WriterSamples)
    })
    void exited.then(() => reject(new Error(`the writer exited (code ${child.exitCode}) without sending its samples`)))
  })
  samplesP.catch(() => undefined)
  const ok = await Promise.race([readyP.then(() => true), exited.then(() => false), sleep(30_000).then(() => false)])
  if (!ok) {
    child.kill('SIGKILL')
    throw new Error('the writer did not start within 30 s')
  }
  return {
    async stop() {
      child.send('stop')
      const samples = await Promise.race([samplesP, sleep(30_000).then(() => undefined)])
      if (!samples) {
        child.kill('SIGKILL')
        throw new Error('the writer did not stop within 30 s')
      }
      await Promise.race([exited, sleep(5000)])
      if (child.exitCode === null) child.kill('SIGKILL')
      return samples
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Contenders.

const pgEnv = (): Record<string, string> => cleanEnv({ PGPASSWORD: info.password })

function psqlArgs(db: string, ...commands: string[]): string[] {
  return ['-X', '-v', 'ON_ERROR_STOP=1', '-h', info.host, '-p', String(info.port), '-U', info.user, '-d', db, ...commands.flatMap((c) => ['-c', c])]
}

async function psql(db: string, ...commands: string[]): Promise<TimedResult> {
  const r = await timed('psql', psqlArgs(db, ...commands), { env: pgEnv(), cwd: WORK, timeoutMs: RUN_TIMEOUT_MS })
  if (r.exitCode !== 0)
    throw new Error(`psql ${commands.join(' ')} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${tail(r.stderr + r.stdout)}`)
  return r
}

interface ConfigOptions {
  batchRows?: number
  reindex?: boolean
}

function writeConfig(db: string, opts: ConfigOptions = {}): string {
  const file = path.join(WORK, `config-${db}.yaml`)
  const config = {
    host: 'bench',
    postgres: { host: info.host, port: info.port, user: info.user, database: db },
    alertmanager: { url: AM_URL },
    log: { file: path.join(WORK, 'maintenance.log') },
    lock: { dir: path.join(WORK, 'lock') },
    cleanup: {
      logs: [
        { path: path.join(WORK, 'logs'), pattern: '*.log', olderThanDays: 30 },
        { path: path.join(WORK, 'logs'), pattern: '*.log.*', olderThanDays: 7 },
      ],
      temp: [{ path: path.join(WORK, 'tmp'), pattern: 'network-probe-*', olderThanDays: 1 }],
    },
    disk: { paths: [WORK] },
    services: {
      management: { enabled: false },
      web: { enabled: false },
      redis: { enabled: false },
      postgres: { runtime: 'process', pidFile: path.join(info.dataDir, 'postmaster.pid'), readiness: 'postgres', dataDir: info.dataDir },
    },
    retention: { batchRows: opts.batchRows ?? 5000 },
    ...(opts.reindex ? { reindex: { minIndexBytes: 0, minBloatPercent: 10 } } : {}),
  }
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`)
  return file
}

async function probeOps(config: string, extra: string[]): Promise<{ r: TimedResult; report: Report }> {
  const r = await timed(process.execPath, [BIN, 'maintain', 'daily', '--config', config, '--json', ...extra], {
    env: pgEnv(),
    cwd: WORK,
    timeoutMs: RUN_TIMEOUT_MS,
  })
  let report: Report
  try {
    report = JSON.parse(r.stdout) as Report
  } catch {
    throw new Error(
      `probe-ops maintain daily ${extra.join(' ')}: no JSON report (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${tail(r.stderr + r.stdout)}`,
    )
  }
  return { r, report }
}

function step(report: Report, id: string): StepResult {
  const s = report.steps.find((x) => x.id === id)
  if (!s) throw new Error(`the report has no step ${id}`)
  return s
}

interface RuleData {
  deleted: number
  batches: number
  longestBatchMs: number
  partitionsDropped: string[]
  partitionRowsDropped?: number
  partitionsLeftAttached?: string[]
  blockedDrop?: { partition: string; lockedTable: string; attempts: number; waitedMs: number }
}

function ruleOf(s: StepResult): RuleData {
  const rules = (s.data as { rules?: RuleData[] } | undefined)?.rules
  if (!rules?.[0]) throw new Error(`step ${s.id} reports no rules: ${JSON.stringify(s.data)}`)
  return rules[0]
}

// ---------------------------------------------------------------------------------------------
// One measured run: a fresh copy, the writer on it, the contender, the copy dropped.

interface Measured<T> {
  label: string
  run: number
  wallMs: number
  writer: LatencyStats
  baseline: LatencyStats
  windows: Record<string, LatencyStats>
  /** The writer's latencies inside the contender's window, for pooled figures. */
  latencies: number[]
  writerErrors: number
  writerFirstError?: string
  detail: T
}

interface BodyResult<T> {
  wallMs: number
  window: Window
  windows?: Record<string, Window>
  detail: T
}

async function measured<T>(label: string, template: string, run: number, body: (db: string) => Promise<BodyResult<T>>): Promise<Measured<T>> {
  const db = `run_${++dbCounter}`
  log(`run ${run}: ${label} (${template} → ${db})`)
  await copyDatabase(sql, template, db)
  try {
    if (template.includes('bloated')) await sql(db, 'alter table task_results reset (autovacuum_enabled)')
    const writer = await startWriter(db)
    let out: BodyResult<T> | undefined
    let samples: WriterSamples
    const b0 = epochNow()
    try {
      await sleep(BASELINE_MS)
      const b1 = epochNow()
      out = await body(db)
      await sleep(AFTER_MS)
      samples = await writer.stop()
      const inside = latenciesIn(samples, out.window)
      const windows: Record<string, LatencyStats> = {}
      for (const [k, w] of Object.entries(out.windows ?? {})) windows[k] = stats(latenciesIn(samples, w))
      const m: Measured<T> = {
        label,
        run,
        wallMs: out.wallMs,
        writer: stats(inside),
        baseline: stats(latenciesIn(samples, { start: b0, end: b1 })),
        windows,
        latencies: inside,
        writerErrors: samples.errors,
        writerFirstError: samples.firstError,
        detail: out.detail,
      }
      if (samples.errors) log(`  writer: ${samples.errors} inserts failed (${samples.firstError})`)
      log(`  ${fmtN(m.wallMs)} ms; writer p50/p99/max ${lat(m.writer)} (idle p99 ${fmt(m.baseline.p99)})`)
      return m
    } catch (error) {
      await writer.stop().catch(() => undefined)
      throw error
    }
  } finally {
    await dropDatabase(sql, db)
  }
}

interface DeleteDetail {
  deleted: number
  longestTxMs: number
  batches: number
  stepMs?: number
}

function guideDelete(db: string): Promise<BodyResult<DeleteDetail>> {
  return (async () => {
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const start = epochNow()
    const r = await psql(db, '\\timing on', GUIDE_DELETE)
    const deleted = Number(/DELETE (\d+)/.exec(r.stdout)?.[1] ?? Number.NaN)
    const txMs = Number(/Time: ([\d.]+) ms/.exec(r.stdout)?.[1] ?? Number.NaN)
    const after = await countRows(sql, db, cutoff)
    if (after.older !== 0 || !Number.isFinite(deleted)) throw new Error(`the guide's DELETE left ${after.older} old rows (psql said: ${r.stdout.trim()})`)
    return { wallMs: r.ms, window: { start, end: start + r.ms }, detail: { deleted, longestTxMs: txMs, batches: 1 } }
  })()
}

function retention(batchRows: number) {
  return async (db: string): Promise<BodyResult<DeleteDetail>> => {
    const config = writeConfig(db, { batchRows })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const start = epochNow()
    const { r, report } = await probeOps(config, ['--only', 'retention'])
    const s = step(report, 'retention')
    if (r.exitCode !== 0 || s.status !== 'ok') throw new Error(`retention: exit ${r.exitCode}, ${s.status}: ${s.summary} ${s.error?.message ?? ''}`)
    const rule = ruleOf(s)
    const after = await countRows(sql, db, cutoff)
    if (after.older !== 0) throw new Error(`retention left ${after.older} rows older than the cutoff: ${s.summary}`)
    return {
      wallMs: r.ms,
      window: { start, end: start + r.ms },
      detail: { deleted: rule.deleted, longestTxMs: rule.longestBatchMs, batches: rule.batches, stepMs: s.durationMs },
    }
  }
}

interface PartitionDetail {
  status: string
  error?: string
  stepMs: number
  deleted: number
  batches: number
  longestBatchMs: number
  partitionsDropped: number
  /** Old rows still in task_results after the run. */
  left: number
  /** Tables named like a partition that are no longer attached: detached, never dropped. */
  orphans: string[]
  orphanRows: number
  /** The server log's ERROR entries (with their DETAIL, CONTEXT, STATEMENT lines) during the run. */
  serverErrors: string[]
}

/** Bytes of the server log so far. */
function logSize(): number {
  return statSync(info.logFile).size
}

/**
 * The ERROR entries the server logged since `from` (byte offset), each with the lines that
 * belong to it (DETAIL/HINT/CONTEXT/STATEMENT of the same backend, tab-indented continuations).
 * The log's default prefix does not name the database, so every ERROR of the server is kept
 * (the server is the bench's own; during a partitioned run only probe-ops and the writer use it).
 */
function serverErrorsSince(from: number): string[] {
  const text = readFileSync(info.logFile).subarray(from).toString('utf8')
  const entries: string[] = []
  let current: string[] | undefined
  let pid: string | undefined
  for (const line of text.split('\n')) {
    const m = /^\S+ \S+ \S+ \[(\d+)\] (\w+):\s+(.*)$/.exec(line)
    if (m) {
      if (m[2] === 'ERROR') {
        if (current) entries.push(current.join('\n'))
        current = [`ERROR: ${m[3]}`]
        pid = m[1]
        continue
      }
      if (current && m[1] === pid && ['DETAIL', 'HINT', 'CONTEXT', 'STATEMENT'].includes(m[2]!)) {
        current.push(`${m[2]}: ${m[3]}`)
        continue
      }
      if (current) entries.push(current.join('\n'))
      current = undefined
      continue
    }
    if (current && line.startsWith('\t')) current.push(`  ${line.trim()}`)
  }
  if (current) entries.push(current.join('\n'))
  return entries
}

/** Retention on the partitioned table; a failed run is a result here, not the end of the bench. */
function partitionedRetention(batchRows: number) {
  return async (db: string): Promise<BodyResult<PartitionDetail>> => {
    const config = writeConfig(db, { batchRows })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const logFrom = logSize()
    const start = epochNow()
    const { r, report } = await probeOps(config, ['--only', 'retention'])
    const s = step(report, 'retention')
    // The writer's inserts overlap the run by AFTER_MS more; a short wait lets their errors land too.
    await sleep(AFTER_MS)
    const serverErrors = serverErrorsSince(logFrom)
    const rules = (s.data as { rules?: RuleData[] } | undefined)?.rules
    const after = await countRows(sql, db, cutoff)
    const orphans = await sql<{ name: string; n: string }>(
      db,
      `select c.relname as name, c.reltuples::bigint as n from pg_class c
        where c.relname like 'task\\_results\\_2%' and c.relkind = 'r' and not exists (select 1 from pg_inherits i where i.inhrelid = c.oid)`,
    )
    return {
      wallMs: r.ms,
      window: { start, end: start + r.ms },
      detail: {
        status: s.status,
        error: s.status === 'ok' ? undefined : (s.error?.message ?? s.summary),
        stepMs: s.durationMs,
        deleted: rules?.[0]?.deleted ?? Number.NaN,
        batches: rules?.[0]?.batches ?? Number.NaN,
        longestBatchMs: rules?.[0]?.longestBatchMs ?? Number.NaN,
        partitionsDropped: rules?.[0]?.partitionsDropped.length ?? Number.NaN,
        left: after.older,
        orphans: orphans.map((o) => o.name),
        orphanRows: orphans.reduce((sum, o) => sum + Number(o.n), 0),
        serverErrors,
      },
    }
  }
}

const DETACHED_MARK = 'probe-ops retention: detached, to be dropped'

interface HeldDetail {
  status: string
  message: string
  blocked?: string
  partitionsDropped: number
  leftAttached: number
  /** The detached, marked partition after the run: its rows (still there) and mark. */
  markedRows: number
  /** The next run, the lock gone. */
  next?: { status: string; partitionsDropped: number; rowsDropped: number; stepMs: number; left: number; marked: number }
}

/** How long the reader's transaction has been open when the contender starts (a report, pg_dump). */
const READER_AGE_MS = 1500

/** A session that reads `tasks` in an open transaction: its ACCESS SHARE lock lasts until it ends. */
async function tasksReader(db: string): Promise<pg.Client> {
  const reader = new pg.Client({ ...pgClientConfig(info, db), application_name: 'bench-reader' })
  reader.on('error', () => undefined)
  await reader.connect()
  await reader.query('begin')
  await reader.query('select count(*) from tasks')
  return reader
}

/** probe-ops' retention while a reader holds tasks; then the next run with the lock gone. */
function heldPartitionedRetention(batchRows: number) {
  return async (db: string): Promise<BodyResult<HeldDetail>> => {
    const config = writeConfig(db, { batchRows })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const reader = await tasksReader(db)
    await sleep(READER_AGE_MS)
    const start = epochNow()
    let held: Awaited<ReturnType<typeof probeOps>>
    try {
      held = await probeOps(config, ['--only', 'retention'])
    } finally {
      await reader.query('rollback').catch(() => undefined)
      await reader.end().catch(() => undefined)
    }
    const end = epochNow()
    const s = step(held.report, 'retention')
    const rule = ruleOf(s)
    const marked = await sql<{ name: string }>(
      db,
      `select c.relname as name from pg_class c where obj_description(c.oid, 'pg_class') = $1 and not c.relispartition`,
      [DETACHED_MARK],
    )
    let markedRows = 0
    for (const m of marked) markedRows += Number((await sql<{ n: string }>(db, `select count(*) as n from ${m.name}`))[0]!.n)
    const nextStart = epochNow()
    const next = await probeOps(config, ['--only', 'retention'])
    const nextEnd = epochNow()
    const ns = step(next.report, 'retention')
    const nr = ruleOf(ns)
    const left = await countRows(sql, db, cutoff)
    const markedAfter = await sql(db, `select 1 from pg_class c where obj_description(c.oid, 'pg_class') = $1`, [DETACHED_MARK])
    return {
      wallMs: held.r.ms,
      window: { start, end },
      windows: { next: { start: nextStart, end: nextEnd } },
      detail: {
        status: s.status,
        message: s.error?.message ?? s.summary,
        blocked: rule.blockedDrop
          ? `${rule.blockedDrop.partition} (${rule.blockedDrop.lockedTable}, ${rule.blockedDrop.attempts} attempts, ${fmt(rule.blockedDrop.waitedMs)})`
          : undefined,
        partitionsDropped: rule.partitionsDropped.length,
        leftAttached: rule.partitionsLeftAttached?.length ?? 0,
        markedRows,
        next: {
          status: ns.status,
          partitionsDropped: nr.partitionsDropped.length,
          rowsDropped: nr.partitionRowsDropped ?? Number.NaN,
          stepMs: ns.durationMs,
          left: left.older,
          marked: markedAfter.length,
        },
      },
    }
  }
}

/**
 * The code before this change, behind the same reader: the oldest partition detached, then its
 * foreign key to tasks dropped under retention.lockTimeoutMs (2 s), as dropDetached() did.
 */
async function heldPreviousDrop(db: string): Promise<BodyResult<HeldDetail>> {
  const [oldest] = await sql<{ name: string }>(
    db,
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'task_results'::regclass order by c.relname limit 1`,
  )
  await sql(db, `alter table task_results detach partition ${oldest!.name} concurrently`)
  const reader = await tasksReader(db)
  const client = new pg.Client({ ...pgClientConfig(info, db), application_name: 'bench-previous' })
  client.on('error', () => undefined)
  await client.connect()
  await sleep(READER_AGE_MS)
  const start = epochNow()
  let message = 'granted'
  try {
    await client.query('set lock_timeout = 2000')
    await client.query(`alter table ${oldest!.name} drop constraint task_results_task_id_fkey`)
  } catch (error) {
    message = error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => undefined)
    await reader.query('rollback').catch(() => undefined)
    await reader.end().catch(() => undefined)
  }
  const end = epochNow()
  return {
    wallMs: end - start,
    window: { start, end },
    detail: { status: message === 'granted' ? 'ok' : 'failed', message, partitionsDropped: 0, leftAttached: 0, markedRows: 0 },
  }
}

/** Which locks on other tables each way of dropping a detached partition takes, and whether it gets them behind the reader. */
async function dropLockNeeds(template: string): Promise<string[][]> {
  const db = `locks_${++dbCounter}`
  await copyDatabase(sql, template, db)
  try {
    const [oldest] = await sql<{ name: string }>(
      db,
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'task_results'::regclass order by c.relname limit 1`,
    )
    const p = oldest!.name
    await sql(db, `alter table task_results detach partition ${p} concurrently`)
    const keys = await sql<{ name: string; target: string }>(
      db,
      `select conname as name, confrelid::regclass::text as target from pg_constraint where conrelid = $1::regclass and contype = 'f' order by oid`,
      [p],
    )
    const statements = [`drop table ${p}`, ...keys.map((k) => `alter table ${p} drop constraint ${k.name}`)]
    const client = new pg.Client(pgClientConfig(info, db))
    client.on('error', () => undefined)
    await client.connect()
    const rows: string[][] = []
    try {
      for (const statement of statements) {
        // Without the reader, rolled back: the locks it takes on other tables.
        await client.query('begin')
        await client.query(statement)
        const locks = await client.query<{ rel: string; mode: string }>(
          `select relation::regclass::text as rel, mode from pg_locks where pid = pg_backend_pid() and locktype = 'relation' and relation in ('tasks'::regclass, 'agents'::regclass, 'task_results'::regclass) order by 1`,
        )
        await client.query('rollback')
        // Behind the reader, with retention's 50 ms per attempt.
        const reader = await tasksReader(db)
        let behind = 'granted'
        const t = epochNow()
        try {
          await client.query('begin')
          await client.query('set local lock_timeout = 50')
          await client.query(statement)
        } catch (error) {
          behind = `${error instanceof Error ? error.message : String(error)} after ${fmt(epochNow() - t)}`
        } finally {
          await client.query('rollback').catch(() => undefined)
          await reader.query('rollback').catch(() => undefined)
          await reader.end().catch(() => undefined)
        }
        rows.push([code(statement.replace(p, 'P')), locks.rows.map((l) => `${l.mode} on ${l.rel}`).join(', ') || 'none', behind])
      }
    } finally {
      await client.end().catch(() => undefined)
    }
    return rows
  } finally {
    await dropDatabase(sql, db)
  }
}

async function indexBytes(db: string): Promise<number> {
  const [row] = await sql<{ b: string }>(
    db,
    `select coalesce(sum(pg_relation_size(indexrelid)), 0) as b from pg_index where indrelid = 'task_results'::regclass`,
  )
  return Number(row!.b)
}

async function invalidIndexes(db: string): Promise<number> {
  const [row] = await sql<{ n: string }>(db, 'select count(*) as n from pg_index where not indisvalid')
  return Number(row!.n)
}

interface VacReindexDetail {
  vacuumMs: number
  reindexMs: number
  indexBytesBefore: number
  indexBytesAfter: number
  rebuilt: string
  /** probe-ops' bloat figures for task_results' indexes (data.bloated), with its method. */
  estimated?: string
}

async function guideVacuumReindex(db: string): Promise<BodyResult<VacReindexDetail>> {
  const before = await indexBytes(db)
  const start = epochNow()
  const v = await psql(db, 'VACUUM ANALYZE;')
  const mid = epochNow()
  const x = await psql(db, `REINDEX DATABASE ${db};`)
  const end = epochNow()
  const after = await indexBytes(db)
  if ((await invalidIndexes(db)) !== 0) throw new Error('invalid indexes after REINDEX DATABASE')
  return {
    wallMs: end - start,
    window: { start, end },
    windows: { vacuum: { start, end: mid }, reindex: { start: mid, end } },
    detail: { vacuumMs: v.ms, reindexMs: x.ms, indexBytesBefore: before, indexBytesAfter: after, rebuilt: 'every index of the database' },
  }
}

function probeVacuumReindex(opts: { pgstattuple: boolean }) {
  return async (db: string): Promise<BodyResult<VacReindexDetail>> => {
    // Installed before the timing starts: reindex.ts then measures bloat with pgstatindex().
    if (opts.pgstattuple) await sql(db, 'create extension if not exists pgstattuple')
    const config = writeConfig(db, { reindex: true })
    const before = await indexBytes(db)
    const start = epochNow()
    const { r, report } = await probeOps(config, ['--only', 'vacuum,reindex'])
    const v = step(report, 'vacuum')
    const x = step(report, 'reindex')
    if (r.exitCode !== 0 || v.status !== 'ok' || x.status !== 'ok')
      throw new Error(`vacuum,reindex: exit ${r.exitCode}; vacuum ${v.status}: ${v.summary}; reindex ${x.status}: ${x.summary} ${x.error?.message ?? ''}`)
    const after = await indexBytes(db)
    if ((await invalidIndexes(db)) !== 0) throw new Error('invalid indexes left after probe-ops reindex')
    const xd = x.data as
      { rebuilt?: { index: string; ms: number }[]; bloated?: { index: string; table: string; bloatPercent: number }[]; method?: string } | undefined
    const rebuilt = (xd?.rebuilt ?? []).map((i) => `${i.index.replace(/^public\./, '')} ${fmtN(i.ms)} ms`)
    const estimated = `${(xd?.bloated ?? [])
      .filter((b) => b.table === 'task_results')
      .map((b) => `${b.index.replace(/^public\./, '')} ${b.bloatPercent}%`)
      .join(', ')} (${xd?.method ?? '?'})`
    // The step's own window (vacuum ran first; durations from the report).
    const vEnd = start + (r.ms - v.durationMs - x.durationMs) + v.durationMs
    return {
      wallMs: r.ms,
      window: { start, end: start + r.ms },
      windows: { vacuum: { start, end: vEnd }, reindex: { start: vEnd, end: start + r.ms } },
      detail: {
        vacuumMs: v.durationMs,
        reindexMs: x.durationMs,
        indexBytesBefore: before,
        indexBytesAfter: after,
        rebuilt: rebuilt.join(', ') || 'none',
        estimated,
      },
    }
  }
}

interface FullDetail {
  status: string
  exitCode: number | null
  steps: { id: string; status: string; durationMs: number; summary: string }[]
}

function oldFiles(): void {
  const logs = path.join(WORK, 'logs')
  const tmp = path.join(WORK, 'tmp')
  mkdirSync(logs, { recursive: true })
  mkdirSync(tmp, { recursive: true })
  const old = (file: string, days: number): void => {
    writeFileSync(file, 'x'.repeat(4096))
    const t = new Date(Date.now() - days * DAY_MS)
    utimesSync(file, t, t)
  }
  for (let i = 0; i < 20; i++) old(path.join(logs, `management-${i}.log`), 40)
  for (let i = 0; i < 20; i++) old(path.join(logs, `management.log.${i}`), 10)
  for (let i = 0; i < 5; i++) old(path.join(tmp, `network-probe-${i}`), 3)
  old(path.join(logs, 'current.log'), 0)
}

function fullRun(batchRows: number) {
  return async (db: string): Promise<BodyResult<FullDetail>> => {
    oldFiles()
    const config = writeConfig(db, { batchRows, reindex: true })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const start = epochNow()
    const { r, report } = await probeOps(config, [])
    const after = await countRows(sql, db, cutoff)
    if (after.older !== 0) throw new Error(`maintain daily left ${after.older} old rows`)
    return {
      wallMs: r.ms,
      window: { start, end: start + r.ms },
      detail: {
        status: report.status,
        exitCode: r.exitCode,
        steps: report.steps.map((s) => ({ id: s.id, status: s.status, durationMs: s.durationMs, summary: s.summary })),
      },
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Killed halfway: SIGKILL the client at half its median time, then count what stayed deleted.

interface KillDetail {
  before: number
  kept: number
  killedAtMs: number
  backendEndedAfterKillMs: number
  terminated: boolean
  finishedBeforeKill: boolean
  resume?: { exitCode: number | null; deleted: number; ms: number; left: number; summary: string }
}

async function backendOf(db: string, app: string): Promise<number | undefined> {
  const rows = await sql<{ pid: number }>(
    'postgres',
    `select pid from pg_stat_activity where datname = $1 and application_name = $2 and backend_type = 'client backend' order by backend_start limit 1`,
    [db, app],
  )
  return rows[0]?.pid
}

async function waitBackendGone(pid: number, boundMs: number): Promise<number> {
  const t0 = epochNow()
  while (epochNow() - t0 < boundMs) {
    const rows = await sql('postgres', 'select 1 from pg_stat_activity where pid = $1', [pid])
    if (rows.length === 0) return epochNow() - t0
    await sleep(50)
  }
  throw new Error(`backend ${pid} still running ${Math.round(boundMs / 1000)} s after its client was killed`)
}

/** Kills the contender `killAtMs` after its start: halfway through its work, whatever its start-up. */
function killed(kind: 'delete' | 'delete+terminate' | 'retention', killAtMs: number, batchRows = 5000) {
  return async (db: string): Promise<BodyResult<KillDetail>> => {
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const before = await countRows(sql, db, cutoff)
    const config = kind === 'retention' ? writeConfig(db, { batchRows }) : ''
    const app = kind === 'retention' ? 'probe-ops' : 'psql'
    const start = epochNow()
    const child =
      kind === 'retention'
        ? spawn(process.execPath, [BIN, 'maintain', 'daily', '--config', config, '--json', '--only', 'retention'], { env: pgEnv(), cwd: WORK, stdio: 'ignore' })
        : spawn('psql', psqlArgs(db, GUIDE_DELETE), { env: pgEnv(), cwd: WORK, stdio: 'ignore' })
    killables.add(child)
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    await sleep(killAtMs)
    const pid = await backendOf(db, app)
    // A client that finished early (small data sets) is a result too: nothing was interrupted.
    const finishedBeforeKill = child.exitCode !== null
    if (!finishedBeforeKill) child.kill('SIGKILL')
    const killedAt = epochNow()
    await exited
    killables.delete(child)
    let terminated = false
    if (kind === 'delete+terminate' && pid !== undefined) {
      await sql('postgres', 'select pg_terminate_backend($1)', [pid])
      terminated = true
    }
    const endedAfter = pid === undefined ? 0 : await waitBackendGone(pid, Math.max(120_000, killAtMs * 8))
    const end = epochNow()
    const after = await countRows(sql, db, cutoff)
    const detail: KillDetail = {
      before: before.older,
      kept: before.older - after.older,
      killedAtMs: killedAt - start,
      backendEndedAfterKillMs: endedAfter,
      terminated,
      finishedBeforeKill,
    }
    if (kind === 'retention') {
      // The next run: takes over the dead run's lock and finishes the job.
      const t = await probeOps(config, ['--only', 'retention'])
      const s = step(t.report, 'retention')
      const left = await countRows(sql, db, cutoff)
      detail.resume = { exitCode: t.r.exitCode, deleted: ruleOf(s).deleted, ms: t.r.ms, left: left.older, summary: s.summary }
    }
    return { wallMs: end - start, window: { start, end }, detail }
  }
}

// ---------------------------------------------------------------------------------------------

async function fakeAlertmanager(teardown: Teardown): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(req.method === 'GET' ? '[]' : '{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  teardown.add('fake AlertManager', () => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length
  return [...items.slice(k), ...items.slice(0, k)]
}

const byLabel = <T>(all: Measured<T>[], label: string): Measured<T>[] => all.filter((m) => m.label === label)
const pooled = <T>(ms: Measured<T>[]): LatencyStats => stats(ms.flatMap((m) => m.latencies))

async function main(): Promise<void> {
  args = parse(process.argv.slice(2))
  const teardown = new Teardown(log)
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    log(`${signal}: tearing down`)
    for (const c of [...writers, ...killables, ...runningChildren]) c.kill('SIGKILL')
    void teardown.run().then(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const raw: Record<string, unknown> = {}
  const out: string[] = []
  const startedAt = new Date()
  const benchT0 = epochNow()
  try {
    teardown.add('writers and children', async () => {
      for (const c of [...writers, ...killables]) c.kill('SIGKILL')
    })
    WORK = await mkdtemp(path.join(os.tmpdir(), 'po-bench-maint-'))
    teardown.add(`work dir ${WORK}`, () => rm(WORK, { recursive: true, force: true }))
    const cli = await snapshotCli(ROOT, { build: args.build, log })
    teardown.add('CLI copy', () => cli.remove())
    BIN = cli.bin
    if (cli.stale.length) log(`warning: src/ files newer than the copied dist/: ${cli.stale.join(', ')}`)
    AM_URL = await fakeAlertmanager(teardown)

    log('starting PostgreSQL 15 (default durability: fsync on, synchronous_commit on, shared_buffers 128MB)')
    const server = await startPostgres({ database: 'postgres', extraConf: { fsync: 'on', synchronous_commit: 'on', shared_buffers: "'128MB'" } })
    teardown.add('PostgreSQL', () => server.stop())
    info = server.info
    sql = sqlRunner(pgClientConfig(info, 'postgres'))
    const [version] = await sql<{ v: string }>('postgres', `select current_setting('server_version') as v`)
    const settings = await sql<{ name: string; setting: string }>(
      'postgres',
      `select name, current_setting(name) as setting from pg_settings where source = 'configuration file' and name not in ('port', 'unix_socket_directories', 'listen_addresses') order by name`,
    )

    // ---- data sets
    let t = epochNow()
    log(`building tpl_flat: ${fmtN(args.rows)} rows over 120 days`)
    const flat = await buildFlat(sql, 'tpl_flat', args.rows)
    const flatMs = epochNow() - t
    const flatCount = { older: flat.older }
    log(`  ${fmtN(flat.rows)} rows (${fmtN(flatCount.older)} older than 90 days) in ${fmt(flatMs)}`)
    t = epochNow()
    log('building tpl_bloated (the DELETE done, not vacuumed)')
    const bloatedDeleted = await buildBloated(sql, 'tpl_flat', 'tpl_bloated')
    log('building the partitioned sets')
    const every = Math.max(1, Math.round(flat.rows / args.smallRows))
    const partSmall = await buildPartitioned(sql, 'tpl_flat', 'tpl_part_small', every)
    const partBig = await buildPartitioned(sql, 'tpl_flat', 'tpl_part_big', 1)
    log(`  partitioned: ${fmtN(partSmall.rows)} and ${fmtN(partBig.rows)} rows in ${partBig.partitions} daily partitions (${fmt(epochNow() - t)})`)

    // ---- A: DELETE vs retention
    const aLabels = ['guide DELETE', ...args.batchRows.map((b) => `retention batchRows ${b}`)]
    const A: Measured<DeleteDetail>[] = []
    for (let run = 1; run <= args.runs; run++) {
      const contenders: Array<[string, (db: string) => Promise<BodyResult<DeleteDetail>>]> = [
        ['guide DELETE', guideDelete],
        ...args.batchRows.map((b): [string, (db: string) => Promise<BodyResult<DeleteDetail>>] => [`retention batchRows ${b}`, retention(b)]),
      ]
      for (const [label, body] of rotate(contenders, run - 1)) A.push(await measured(label, 'tpl_flat', run, body))
    }
    raw.A = A.map(({ latencies: _l, ...m }) => m)

    const deleteWall = (run: number): number => A.find((m) => m.run === run && m.label === 'guide DELETE')!.wallMs
    const aSummary = aLabels.map((label) => {
      const ms = byLabel(A, label)
      const ratios = ms.map((m) => m.wallMs / deleteWall(m.run))
      const stepRatios = ms.map((m) => (m.detail.stepMs ?? m.wallMs) / deleteWall(m.run))
      return {
        label,
        wall: median(ms.map((m) => m.wallMs)),
        stepMs: ms[0]!.detail.stepMs === undefined ? undefined : median(ms.map((m) => m.detail.stepMs!)),
        ratio: median(ratios),
        stepRatio: median(stepRatios),
        longestTx: median(ms.map((m) => m.detail.longestTxMs)),
        longestTxMax: Math.max(...ms.map((m) => m.detail.longestTxMs)),
        batches: median(ms.map((m) => m.detail.batches)),
        deleted: median(ms.map((m) => m.detail.deleted)),
        writer: pooled(ms),
        writerP99Median: median(ms.map((m) => m.writer.p99)),
        baseline: stats(ms.flatMap((m) => [m.baseline.p99])),
        baselineP99: median(ms.map((m) => m.baseline.p99)),
        errors: ms.reduce((s, m) => s + m.writerErrors, 0),
      }
    })
    const del = aSummary[0]!
    const candidates = aSummary.slice(1).map((s, i) => ({ ...s, batchRows: args.batchRows[i]! }))
    const meetsBatch = (c: (typeof candidates)[number]): boolean => c.longestTxMax <= TARGET_BATCH_MS
    const meetsP99 = (c: (typeof candidates)[number]): boolean => c.writer.p99 <= del.writer.p99
    const ranked = [...candidates].sort((a, b) => {
      const score = (c: (typeof candidates)[number]): number => (meetsBatch(c) ? 0 : 2) + (meetsP99(c) ? 0 : 1)
      return score(a) - score(b) || a.ratio - b.ratio
    })
    const chosen = ranked[0]!
    log(
      `chosen batchRows ${chosen.batchRows} (ratio ${fmtX(chosen.ratio)}, longest batch ${fmt(chosen.longestTxMax)}, writer p99 ${fmt(chosen.writer.p99)} vs DELETE ${fmt(del.writer.p99)})`,
    )

    // ---- A′: the batch statement's own cost, in-process (no writer, no probe-ops start-up)
    const shapes: Shape[] = ['single', 'probe-ops', 'key-cte', 'range']
    const A2: Array<{ run: number; shape: Shape } & ShapeResult> = []
    for (let run = 1; run <= args.runs; run++) {
      for (const shape of rotate(shapes, run - 1)) {
        const db = `shape_${++dbCounter}`
        await copyDatabase(sql, 'tpl_flat', db)
        const client = new pg.Client({ ...pgClientConfig(info, db), application_name: 'bench-shapes' })
        client.on('error', () => undefined)
        try {
          await client.connect()
          const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
          const r = await runShape(client, shape, cutoff, chosen.batchRows)
          const left = await countRows(sql, db, cutoff)
          if (left.older !== 0) throw new Error(`batch shape ${shape} left ${left.older} old rows`)
          A2.push({ run, shape, ...r })
          log(`run ${run}: shape ${shape}: ${fmt(r.ms)}, ${fmtN(r.rows)} rows in ${r.batches} batches, longest ${fmt(r.longestMs)}`)
        } finally {
          await client.end().catch(() => undefined)
          await dropDatabase(sql, db)
        }
      }
    }
    raw.A2 = A2

    // ---- B: VACUUM ANALYZE + REINDEX DATABASE vs vacuum,reindex
    const B: Measured<VacReindexDetail>[] = []
    for (let run = 1; run <= args.runs; run++) {
      const contenders: Array<[string, (db: string) => Promise<BodyResult<VacReindexDetail>>]> = [
        ['guide VACUUM ANALYZE; REINDEX DATABASE', guideVacuumReindex],
        ['probe-ops --only vacuum,reindex', probeVacuumReindex({ pgstattuple: false })],
        ['probe-ops --only vacuum,reindex, pgstattuple installed', probeVacuumReindex({ pgstattuple: true })],
      ]
      for (const [label, body] of rotate(contenders, run - 1)) B.push(await measured(label, 'tpl_bloated', run, body))
    }
    raw.B = B.map(({ latencies: _l, ...m }) => m)

    // ---- C: partitioned retention
    const C: Measured<PartitionDetail>[] = []
    const cLabels = [`partitioned ${fmtN(partSmall.rows)} rows`, `partitioned ${fmtN(partBig.rows)} rows`]
    for (let run = 1; run <= args.partRuns; run++) {
      const contenders: Array<[string, string]> = [
        [cLabels[0]!, 'tpl_part_small'],
        [cLabels[1]!, 'tpl_part_big'],
      ]
      for (const [label, tpl] of rotate(contenders, run - 1)) C.push(await measured(label, tpl, run, partitionedRetention(chosen.batchRows)))
    }
    raw.C = C.map(({ latencies: _l, ...m }) => m)

    // ---- C′: partition drops behind a session holding tasks
    const heldLabels = ['probe-ops --only retention, tasks held', 'the code before: DROP CONSTRAINT under lock_timeout 2 s, tasks held']
    const H: Measured<HeldDetail>[] = []
    for (let run = 1; run <= args.runs; run++) {
      const contenders: Array<[string, (db: string) => Promise<BodyResult<HeldDetail>>]> = [
        [heldLabels[0]!, heldPartitionedRetention(chosen.batchRows)],
        [heldLabels[1]!, heldPreviousDrop],
      ]
      for (const [label, body] of rotate(contenders, run - 1)) H.push(await measured(label, 'tpl_part_small', run, body))
    }
    raw.H = H.map(({ latencies: _l, ...m }) => m)
    const lockNeeds = await dropLockNeeds('tpl_part_small')
    raw.lockNeeds = lockNeeds

    // ---- D: the whole job
    const D: Measured<FullDetail>[] = []
    for (let run = 1; run <= args.runs; run++)
      D.push(await measured(`maintain daily (batchRows ${chosen.batchRows})`, 'tpl_flat', run, fullRun(chosen.batchRows)))
    raw.D = D.map(({ latencies: _l, ...m }) => m)

    // ---- kills
    const K: Measured<KillDetail>[] = []
    // Halfway through the work: psql's start-up is a few ms; probe-ops' is most of its wall time
    // when the deletes are fast, so it is killed at its start-up (wall − step) plus half its step.
    K.push(await measured('guide DELETE, psql killed', 'tpl_flat', 1, killed('delete', del.wall / 2)))
    K.push(await measured('guide DELETE, psql killed + backend terminated', 'tpl_flat', 1, killed('delete+terminate', del.wall / 2)))
    for (const c of candidates)
      K.push(await measured(`retention batchRows ${c.batchRows}, probe-ops killed`, 'tpl_flat', 1, killed('retention', c.wall - c.stepMs! / 2, c.batchRows)))
    raw.K = K.map(({ latencies: _l, ...m }) => m)

    // ---------------------------------------------------------------------------------------
    // Markdown.
    const benchMs = epochNow() - benchT0
    out.push(`## maintain daily (issue 3)`, '')
    out.push(
      `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC with ${code(`node --import tsx bench/maintain-daily.ts --rows ${args.rows} --runs ${args.runs} --small-rows ${args.smallRows} --part-runs ${args.partRuns} --batch-rows ${args.batchRows.join(',')} --writer-interval ${args.writerInterval}`)} (${fmtN(benchMs / 60_000)} min). ` +
        `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${fmtN(os.totalmem() / 2 ** 30)} GiB RAM, shared and noisy (load average ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')} at the end); node ${process.version}; PostgreSQL ${version!.v}. ` +
        `CLI: ${cli.origin}${cli.stale.length ? ` (stale against src/: ${cli.stale.join(', ')})` : ''}.`,
      '',
      `PostgreSQL settings from its configuration file (initdb's and the bench's; everything else default, fsync and synchronous_commit on): ${settings.map((s) => `${s.name}=${s.setting}`).join(', ')}.`,
      '',
      `Data: the demo schema (src/sandbox/schema.ts) with ${fmtN(flat.rows)} task_results rows over 120 days ending now (${fmtN(flat.rowsPerDay)}/day, ${fmtN(flatCount.older)} older than 90 days; database ${flat.size}), built in ${fmt(flatMs)}, vacuumed and analyzed, used as a template: every run works on a fresh \`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY\` copy. ` +
        `A separate process inserts one result every ${args.writerInterval} ms (closed loop) into task_results with the current time and records each insert's latency; “writer p50 / p99 / max” pools the inserts that overlapped the contender's run over all runs, “idle p99” is the ${BASELINE_MS / 1000} s before each run. ` +
        `Runs are interleaved (the order rotates each run); ratios are taken within a run, then the median over ${args.runs} runs.`,
      '',
    )

    out.push("### A. Retention: the guide's DELETE vs `maintain daily --only retention`", '')
    out.push(
      table(
        [
          'contender',
          'wall (median)',
          'retention step',
          'wall ÷ DELETE (same run)',
          'step ÷ DELETE',
          'longest transaction (median / worst)',
          'batches',
          'rows deleted',
          'writer p50 / p99 / max',
          'writer p99 (median of runs)',
          'idle p99',
        ],
        aSummary.map((s) => [
          s.label,
          fmt(s.wall),
          s.stepMs === undefined ? '–' : fmt(s.stepMs),
          s.label === 'guide DELETE' ? '1.00×' : fmtX(s.ratio),
          s.label === 'guide DELETE' ? '1.00×' : fmtX(s.stepRatio),
          `${fmt(s.longestTx)} / ${fmt(s.longestTxMax)}`,
          fmtN(s.batches),
          fmtN(s.deleted),
          lat(s.writer),
          fmt(s.writerP99Median),
          fmt(s.baselineP99),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      "The DELETE's longest transaction is its one statement (psql `\\timing`); retention's is the report's `data.rules[0].longestBatchMs`. Wall times are of the whole process (psql; `node bin/run.js maintain daily`, whose start-up, config and lock take part of it); “retention step” is the step's own `durationMs`.",
      '',
      'Every run:',
      '',
      table(
        ['run', 'contender', 'wall', 'longest transaction', 'batches', 'rows deleted', 'writer p50 / p99 / max', 'writer errors'],
        [...A]
          .sort((a, b) => a.run - b.run)
          .map((m) => [
            String(m.run),
            m.label,
            fmt(m.wallMs),
            fmt(m.detail.longestTxMs),
            fmtN(m.detail.batches),
            fmtN(m.detail.deleted),
            lat(m.writer),
            String(m.writerErrors),
          ]),
        ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      `Batch size chosen by the targets (no batch over 1 s, writer p99 no worse than during the DELETE, then the lowest wall ratio): **batchRows ${chosen.batchRows}**; it is used for C and D.`,
      '',
    )

    out.push(
      "#### Killed halfway (SIGKILL halfway through the work, one run each: psql at half the DELETE's median wall time, probe-ops at its median start-up (wall − step) plus half its median step)",
      '',
    )
    out.push(
      table(
        ['contender', 'killed after', 'old rows', 'deleted rows that stayed deleted', 'server backend after the kill', 'next run'],
        K.map((m) => {
          const d = m.detail
          // What the kill hit is read from the rows, not assumed: a statement that committed before the
          // kill (or before pg_terminate_backend) kept everything, and says so.
          const backend = d.finishedBeforeKill
            ? 'the client had finished before the kill'
            : d.terminated
              ? d.kept === 0
                ? `pg_terminate_backend: gone in ${fmt(d.backendEndedAfterKillMs)}, rolled back`
                : `pg_terminate_backend came too late: the DELETE had committed (gone in ${fmt(d.backendEndedAfterKillMs)})`
              : `kept running ${fmt(d.backendEndedAfterKillMs)} more${d.resume && d.kept === d.before ? ' (every batch had committed: nothing was left to interrupt)' : ''}`
          const next = d.resume
            ? `exit ${d.resume.exitCode}, took over the dead run's lock, deleted ${fmtN(d.resume.deleted)} more in ${fmt(d.resume.ms)}; ${fmtN(d.resume.left)} old rows left`
            : '–'
          return [m.label, fmt(d.killedAtMs), fmtN(d.before), `${fmtN(d.kept)} (${((100 * d.kept) / d.before).toFixed(0)}%)`, backend, next]
        }),
        ['l', 'r', 'r', 'r', 'l', 'l'],
      ),
      '',
      (() => {
        const k = K.find((m) => m.label === 'guide DELETE, psql killed')!.detail
        if (k.finishedBeforeKill || k.kept === 0) return 'The DELETE was not under way when psql was killed (too little data to kill it halfway).'
        return `Killing psql did not stop the DELETE: the server notices a vanished client only when it next talks to it, so the statement ran ${fmt(k.backendEndedAfterKillMs)} more and committed (the cron job was gone, the transaction was not). An interruption that does stop it — \`pg_terminate_backend\`, a server restart or crash, a statement_timeout — rolls the whole DELETE back. probe-ops loses at most the batch in flight: it runs in its own transaction, which either commits whole or, its COMMIT never sent, is rolled back.`
      })(),
      '',
    )

    const shapeMs = (shape: Shape, run: number): number => A2.find((x) => x.shape === shape && x.run === run)!.ms
    out.push(`#### A′. Where retention's time goes: the batch statement alone (in-process, batchRows ${chosen.batchRows}, no writer)`, '')
    out.push(
      "The same deletes sent from the bench process over one connection, so without probe-ops' start-up: the guide's single DELETE; what retention does now (`deleteInTimeWindows()` of src/jobs/maintain-daily/retention-batches.ts itself: time windows `DELETE … WHERE execution_time >= lo AND execution_time < hi`, each in begin/commit, the width adapted to batchRows rows and batchTargetMs 500 from the previous batch; the first width from the planner's estimate); the statement retention.ts sent per batch from 217523c until then (a CTE finds the batch's last key among the next n in (execution_time, id) order, then `DELETE … WHERE (execution_time, id) > cursor AND <= (select last)`: each batch read twice); and the same key-range batches in two statements (the last key by an index scan with OFFSET n−1, then the range DELETE). Each batch is its own transaction. bench/maintain/batch-shapes.ts.",
      '',
      table(
        ['shape', 'time (median)', '÷ single DELETE (same run)', 'batches', 'longest batch (worst)'],
        shapes.map((shape) => {
          const xs = A2.filter((x) => x.shape === shape)
          return [
            shape === 'single'
              ? 'single DELETE'
              : shape === 'probe-ops'
                ? 'probe-ops time windows (now)'
                : shape === 'key-cte'
                  ? 'previous probe-ops batch statement (key range found by a CTE, 217523c)'
                  : shape === 'join'
                    ? 'probe-ops batch statement before 217523c (select, join back)'
                    : 'key-range batches (two statements)',
            fmt(median(xs.map((x) => x.ms))),
            fmtX(median(xs.map((x) => x.ms / shapeMs('single', x.run)))),
            fmtN(median(xs.map((x) => x.batches))),
            fmt(Math.max(...xs.map((x) => x.longestMs))),
          ]
        }),
        ['l', 'r', 'r', 'r', 'r'],
      ),
      '',
    )

    const bLabels = ['guide VACUUM ANALYZE; REINDEX DATABASE', 'probe-ops --only vacuum,reindex', 'probe-ops --only vacuum,reindex, pgstattuple installed']
    out.push("### B. VACUUM + REINDEX: the guide's vs `--only vacuum,reindex`", '')
    out.push(
      `On a copy where the guide's DELETE has removed ${fmtN(bloatedDeleted)} rows (dead, not yet vacuumed: the indexes hold them). probe-ops config: \`reindex: {minIndexBytes: 0, minBloatPercent: 10}\`; the second probe-ops contender has pgstattuple installed in the copy (before the timing starts), so reindex.ts measures bloat with \`pgstatindex()\` instead of its estimate; the last column lists what each method found at or above 10%. Note: pg_stat counters start empty in a copied database, so the vacuum step's “dead rows cleared” says 0 here; the work is the same.`,
      '',
      table(
        [
          'contender',
          'wall (median)',
          'vacuum',
          'reindex',
          'task_results index bytes before → after',
          'writer longest wait (median / worst run)',
          'writer max during the reindex part (worst run)',
          'writer p50 / p99',
          'rebuilt (last run)',
          'bloat probe-ops found (last run)',
        ],
        bLabels.map((label) => {
          const ms = byLabel(B, label)
          const p = pooled(ms)
          const last = ms[ms.length - 1]!.detail
          return [
            label,
            fmt(median(ms.map((m) => m.wallMs))),
            fmt(median(ms.map((m) => m.detail.vacuumMs))),
            fmt(median(ms.map((m) => m.detail.reindexMs))),
            `${fmtN(median(ms.map((m) => m.detail.indexBytesBefore)) / 2 ** 20)} → ${fmtN(median(ms.map((m) => m.detail.indexBytesAfter)) / 2 ** 20)} MiB`,
            `${fmt(median(ms.map((m) => m.writer.max)))} / ${fmt(Math.max(...ms.map((m) => m.writer.max)))}`,
            fmt(Math.max(...ms.map((m) => m.windows.reindex?.max ?? Number.NaN))),
            `${fmt(p.p50)} / ${fmt(p.p99)}`,
            last.rebuilt,
            last.estimated ?? '–',
          ]
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
      ),
      '',
      'Every run:',
      '',
      table(
        ['run', 'contender', 'wall', 'vacuum', 'reindex', 'writer max', 'writer errors'],
        [...B]
          .sort((a, b) => a.run - b.run)
          .map((m) => [String(m.run), m.label, fmt(m.wallMs), fmt(m.detail.vacuumMs), fmt(m.detail.reindexMs), fmt(m.writer.max), String(m.writerErrors)]),
        ['r', 'l', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
    )

    out.push('### C. Retention on task_results partitioned by day', '')
    out.push(
      `The same rows in daily range partitions on execution_time, primary key (id, execution_time) (test/helpers/platform-db.ts's layout; ${partBig.partitions} partitions), \`--only retention\` with batchRows ${chosen.batchRows}: whole partitions older than the cutoff are detached and dropped, the rows of the day the cutoff falls in are deleted in batches.`,
      '',
      table(
        [
          'data set',
          'retention step (median / worst)',
          'wall (median)',
          'runs ok',
          'partitions dropped',
          'rows deleted by batches',
          'longest batch',
          'writer p50 / p99 / max',
          'writer inserts failed',
          'old rows left / orphaned detached tables',
        ],
        cLabels.map((label) => {
          const ms = byLabel(C, label)
          const ok = ms.filter((m) => m.detail.status === 'ok')
          const orphans = ms.flatMap((m) => m.detail.orphans)
          return [
            label,
            `${fmt(median(ms.map((m) => m.detail.stepMs)))} / ${fmt(Math.max(...ms.map((m) => m.detail.stepMs)))}`,
            fmt(median(ms.map((m) => m.wallMs))),
            `${ok.length} of ${ms.length}`,
            ok.length ? fmtN(median(ok.map((m) => m.detail.partitionsDropped))) : '–',
            ok.length ? fmtN(median(ok.map((m) => m.detail.deleted))) : '–',
            ok.length ? fmt(Math.max(...ok.map((m) => m.detail.longestBatchMs))) : '–',
            lat(pooled(ms)),
            `${ms.reduce((n, m) => n + m.writerErrors, 0)} in ${ms.filter((m) => m.writerErrors > 0).length} runs`,
            `${fmtN(ms.reduce((n, m) => n + m.detail.left, 0))} / ${orphans.length}${orphans.length ? ` (${fmtN(ms.reduce((n, m) => n + m.detail.orphanRows, 0))} rows)` : ''}`,
          ]
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      'Every run:',
      '',
      table(
        ['run', 'data set', 'status', 'retention step', 'writer max', 'writer error', 'orphaned tables'],
        [...C]
          .sort((a, b) => a.run - b.run)
          .map((m) => [
            String(m.run),
            m.label,
            m.detail.error ? `${m.detail.status}: ${m.detail.error}` : m.detail.status,
            fmt(m.detail.stepMs),
            fmt(m.writer.max),
            m.writerFirstError ?? '–',
            m.detail.orphans.join(', ') || '–',
          ]),
        ['r', 'l', 'l', 'r', 'r', 'l', 'l'],
      ),
      '',
      ...(() => {
        const withErrors = [...C].sort((a, b) => a.run - b.run).filter((m) => m.detail.serverErrors.length > 0)
        if (withErrors.length === 0) return ['The server logged no ERROR during any partitioned run.', '']
        return [
          "The server log's ERROR entries during the partitioned runs, verbatim (DETAIL, CONTEXT and STATEMENT lines of the same backend under each):",
          '',
          '```',
          ...withErrors.flatMap((m) => [`-- run ${m.run}, ${m.label}`, ...m.detail.serverErrors]),
          '```',
          '',
        ]
      })(),
    )

    out.push('### C′. Partition drops while another session holds `tasks`', '')
    out.push(
      `On the ${fmtN(partSmall.rows)}-row partitioned set, a second session runs \`begin; select count(*) from tasks\` and keeps its transaction open (a report, an idle transaction, pg_dump: an ACCESS SHARE lock on tasks), ${READER_AGE_MS / 1000} s before the contender starts and until it ends; the writer inserts into task_results all along (its foreign-key check locks tasks too). probe-ops: \`--only retention\`, then the next run once the lock is gone. The code before: the oldest partition detached, then \`alter table P drop constraint task_results_task_id_fkey\` under lock_timeout 2 s, as dropDetached() sent it.`,
      '',
      table(
        [
          'run',
          'contender',
          'outcome',
          'blocked drop (lock, attempts, waited)',
          'partitions dropped / left attached',
          'rows kept in the detached partition',
          'writer max (p99) while held',
          'writer idle max (p99), the 3 s before',
          'next run (lock gone)',
          'old rows / marked tables left after it',
        ],
        [...H]
          .sort((a, b) => a.run - b.run)
          .map((m) => [
            String(m.run),
            m.label,
            `${m.detail.status}: ${m.detail.message}`,
            m.detail.blocked ?? '–',
            m.label.startsWith('probe-ops') ? `${m.detail.partitionsDropped} / ${m.detail.leftAttached}` : '–',
            m.label.startsWith('probe-ops') ? fmtN(m.detail.markedRows) : '–',
            `${fmt(m.writer.max)} (${fmt(m.writer.p99)})`,
            `${fmt(m.baseline.max)} (${fmt(m.baseline.p99)})`,
            m.detail.next
              ? `${m.detail.next.status}: dropped ${m.detail.next.partitionsDropped} (~${fmtN(m.detail.next.rowsDropped)} rows) in ${fmt(m.detail.next.stepMs)}; writer max ${fmt(m.windows.next?.max ?? Number.NaN)}`
              : '–',
            m.detail.next ? `${fmtN(m.detail.next.left)} / ${m.detail.next.marked}` : '–',
          ]),
        ['r', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'l', 'r'],
      ),
      '',
      `Summary: the writer's longest insert while the lock was held — probe-ops ${fmt(Math.max(...byLabel(H, heldLabels[0]!).map((m) => m.writer.max)))} worst over ${byLabel(H, heldLabels[0]!).length} runs; the code before ${fmt(Math.max(...byLabel(H, heldLabels[1]!).map((m) => m.writer.max)))} worst.`,
      '',
      "Which locks each way of dropping a detached partition P takes on the other tables (in a transaction without the reader, from pg_locks, rolled back), and what it gets behind the reader with retention's 50 ms per attempt:",
      '',
      table(['statement', 'locks on tasks / agents / task_results', 'behind the reader (lock_timeout 50 ms)'], lockNeeds, ['l', 'l', 'l']),
      '',
    )

    out.push(`### D. The whole \`maintain daily\` run (batchRows ${chosen.batchRows}, reindex thresholds as in B)`, '')
    const stepIds = D[0]!.detail.steps.map((s) => s.id)
    out.push(
      `On a fresh copy of the ${fmtN(flat.rows)}-row set with the writer running; 40 old log files and 5 old temp files to clean, one PostgreSQL service (runtime process) to check, disk of the work dir, a stub AlertManager on 127.0.0.1. Overall status per run: ${D.map((m) => `${m.detail.status} (exit ${m.detail.exitCode})`).join(', ')}; wall ${fmt(median(D.map((m) => m.wallMs)))} median; writer p50 / p99 / max ${lat(pooled(D))}.`,
      '',
      table(
        ['step', 'durationMs (median)', 'min – max', 'status', 'summary (last run)'],
        stepIds.map((id) => {
          const all = D.map((m) => m.detail.steps.find((s) => s.id === id)!)
          return [
            id,
            fmt(median(all.map((s) => s.durationMs))),
            `${fmt(Math.min(...all.map((s) => s.durationMs)))} – ${fmt(Math.max(...all.map((s) => s.durationMs)))}`,
            [...new Set(all.map((s) => s.status))].join(', '),
            all[all.length - 1]!.summary,
          ]
        }),
        ['l', 'r', 'r', 'l', 'l'],
      ),
      '',
    )

    // ---- verdicts
    const bProbe = B.filter((m) => m.label.startsWith('probe-ops'))
    const bGuide = byLabel(B, 'guide VACUUM ANALYZE; REINDEX DATABASE')
    const probeWorstWait = Math.max(...bProbe.map((m) => m.writer.max))
    const guideWorstWait = Math.max(...bGuide.map((m) => m.writer.max))
    const cWorst = Math.max(...C.map((m) => m.detail.stepMs))
    const cFailed = C.filter((m) => m.detail.status !== 'ok').length
    const cWriterFailed = C.reduce((n, m) => n + m.writerErrors, 0)
    const cOrphans = C.flatMap((m) => m.detail.orphans).length
    const met = (ok: boolean): string => (ok ? '**met**' : '**not met**')
    out.push('### Verdicts', '')
    for (const c of candidates) {
      out.push(
        `- Wall time, batchRows ${c.batchRows}: ${met(c.ratio <= TARGET_RATIO)} for ≤ ${TARGET_RATIO}× — retention ${fmtX(c.ratio)} the DELETE's wall time (median of same-run ratios; ${fmt(c.wall)} vs ${fmt(del.wall)}; the step alone ${fmtX(c.stepRatio)}).`,
      )
    }
    for (const c of candidates) {
      out.push(
        `- Longest transaction, batchRows ${c.batchRows}: ${met(c.longestTxMax <= TARGET_BATCH_MS)} for no batch over 1 s — worst batch ${fmt(c.longestTxMax)} over ${args.runs} runs (${fmtN(c.batches)} batches), against the DELETE's one ${fmt(del.longestTx)} transaction.`,
      )
    }
    for (const c of candidates) {
      out.push(
        `- Writer p99, batchRows ${c.batchRows}: ${met(c.writer.p99 <= del.writer.p99)} for no worse than during the DELETE — ${fmt(c.writer.p99)} vs ${fmt(del.writer.p99)} (pooled; medians of runs ${fmt(c.writerP99Median)} vs ${fmt(del.writerP99Median)}).`,
      )
    }
    const shapeRatio = (shape: Shape): number => median(A2.filter((x) => x.shape === shape).map((x) => x.ms / shapeMs('single', x.run)))
    out.push(
      `- Why: probe-ops' time windows alone cost ${fmtX(shapeRatio('probe-ops'))} the single DELETE in-process (A′; the previous key-range statement ${fmtX(shapeRatio('key-cte'))}, two-statement key-range batches of the same size ${fmtX(shapeRatio('range'))}); the rest of the wall-time gap is the CLI's start-up (wall − step ≈ ${fmt(median(A.filter((m) => m.detail.stepMs !== undefined).map((m) => m.wallMs - m.detail.stepMs!)))}).`,
    )
    const kDel = K.find((m) => m.label.includes('terminated'))!
    const kDelKill = K.find((m) => m.label === 'guide DELETE, psql killed')!
    const kRet = K.filter((m) => m.detail.resume)
    // Only runs the kill really interrupted count: a run that had deleted everything proves nothing.
    const kHit = kRet.filter((m) => !m.detail.finishedBeforeKill && m.detail.kept < m.detail.before)
    const kMissed = kRet.filter((m) => !kHit.includes(m))
    const kDelText =
      kDel.detail.kept === 0
        ? `the DELETE kept 0 when its backend was stopped`
        : `the DELETE had already committed when its backend was terminated (${fmtN(kDel.detail.kept)} kept; not measured)`
    out.push(
      `- Work kept when killed halfway: ${kHit.length === 0 ? '**not measured**' : met(kHit.every((m) => m.detail.kept > 0 && m.detail.resume!.left === 0))} — ` +
        (kHit.length
          ? `probe-ops kept ${kHit.map((m) => `${fmtN(m.detail.kept)} of ${fmtN(m.detail.before)} (${m.label.replace(', probe-ops killed', '')})`).join(', ')} and the next run finished the rest`
          : 'no probe-ops run was still deleting when it was killed') +
        `${kMissed.length ? ` (${kMissed.map((m) => m.label.replace(', probe-ops killed', '')).join(', ')}: finished before the kill, not counted)` : ''}; ${kDelText}, and when only psql was killed it ran on for ${fmt(kDelKill.detail.backendEndedAfterKillMs)} and committed ${fmtN(kDelKill.detail.kept)}.`,
    )
    out.push(
      `- VACUUM + REINDEX, writer's longest wait: ${met(probeWorstWait < TARGET_WAIT_MS)} for under 1 s — probe-ops worst ${fmt(probeWorstWait)} over ${bProbe.length} runs (estimate and pgstattuple), against ${fmt(guideWorstWait)} with the guide's REINDEX DATABASE.`,
    )
    out.push(
      `- Partitioned retention: ${met(cWorst < TARGET_PARTITIONED_MS && cFailed === 0)} for under 1 s whatever the row count — ${cLabels.map((l) => `${l}: median ${fmt(median(byLabel(C, l).map((m) => m.detail.stepMs)))}`).join('; ')}; worst ${fmt(cWorst)}. ` +
        `${cFailed} of ${C.length} runs failed, the platform's writer had ${cWriterFailed} inserts fail, ${cOrphans} detached partitions were left undropped.`,
    )
    {
      const probe = byLabel(H, 'probe-ops --only retention, tasks held')
      const before = byLabel(H, 'the code before: DROP CONSTRAINT under lock_timeout 2 s, tasks held')
      const warned = probe.filter((m) => m.detail.status === 'warning' && m.detail.blocked).length
      const finished = probe.filter((m) => m.detail.next?.status === 'ok' && m.detail.next.left === 0 && m.detail.next.marked === 0).length
      out.push(
        `- Partition drops behind a session holding tasks (C′): probe-ops warned naming the partition in ${warned} of ${probe.length} runs, kept its rows, and the next run dropped everything in ${finished} of ${probe.length}; the writer's longest insert meanwhile ${fmt(Math.max(...probe.map((m) => m.writer.max)))} worst, against ${fmt(Math.max(...before.map((m) => m.writer.max)))} behind the code before's 2 s wait (which then failed: ${before[0]?.detail.message ?? '–'}).`,
      )
    }
    out.push(
      `- Whole run: ${D.every((m) => m.detail.status !== 'failed') ? 'completed' : 'a step failed'} — median ${fmt(median(D.map((m) => m.wallMs)))}; see D.`,
    )
    out.push('')

    if (args.raw) writeFileSync(args.raw, `${JSON.stringify({ args, startedAt, raw }, null, 2)}\n`)
    process.stdout.write(`${out.join('\n')}\n`)
  } finally {
    const problems = await teardown.run()
    if (problems.length) log(`teardown problems: ${problems.join('; ')}`)
  }
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exit(1)
})
