/**
 * The laboratory of bench/maintain-daily.ts: its own PostgreSQL 15 (default durability), the
 * concurrent writer's latency bookkeeping, the contenders' common parts (psql, `probe-ops
 * maintain daily` with a config per database, the report's retention data), and one measured
 * run: a fresh copy of a template database, the writer on it, the contender, the copy dropped.
 */
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Report, StepResult } from '../../src/report/model.js'
import { pgClientConfig, startPostgres, type PostgresInfo } from '../../test/bed/postgres.js'
import { ROOT, interleave, type Bench, type Sample, type Variant } from '../lib/harness.js'
import { serveHttp } from '../lib/platform.js'
import { cleanEnv, tail, timed, trackChild, type TimedResult } from '../lib/proc.js'
import { percentile } from '../lib/stats.js'
import { RETENTION_DAYS, copyDatabase, dropDatabase, sqlRunner, type Sql } from './data.js'
import type { WriterSamples } from './writer.js'

const WRITER = path.join(ROOT, 'bench/maintain/writer.ts')
export const DAY_MS = 86_400_000
export const GUIDE_DELETE = `DELETE FROM task_results WHERE execution_time < NOW() - INTERVAL '${RETENTION_DAYS} days';`
/** Writer latency before each contender starts, and after it ends. */
export const BASELINE_MS = 3000
export const AFTER_MS = 1000
const RUN_TIMEOUT_MS = 15 * 60_000

export const epochNow = (): number => performance.timeOrigin + performance.now()

export interface Args {
  rows: number
  smallRows: number
  runs: number
  partRuns: number
  batchRows: number[]
  writerInterval: number
}

/** What every contender and section works with. */
export interface Lab {
  bench: Bench
  args: Args
  info: PostgresInfo
  sql: Sql
  /** bin/run.js of the private copy of the CLI. */
  bin: string
  work: string
  alertmanagerUrl: string
  /** A number for the next database's name, unique in this run. */
  nextId(): number
}

/** A stand-in AlertManager that accepts everything (maintain daily posts its alerts). */
async function fakeAlertmanager(bench: Bench): Promise<string> {
  return serveHttp(bench, 'fake AlertManager', (req, res) => {
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(req.method === 'GET' ? '[]' : '{}')
    })
  })
}

export async function setUpLab(bench: Bench, args: Args): Promise<Lab> {
  const work = await bench.tempDir('po-bench-maint-')
  const alertmanagerUrl = await fakeAlertmanager(bench)
  bench.log('starting PostgreSQL 15 (default durability: fsync on, synchronous_commit on, shared_buffers 128MB)')
  const server = await startPostgres({ database: 'postgres', extraConf: { fsync: 'on', synchronous_commit: 'on', shared_buffers: "'128MB'" } })
  bench.teardown.add('PostgreSQL', () => server.stop())
  bench.watch({ pids: [server.info.pid] })
  let id = 0
  return {
    bench,
    args,
    info: server.info,
    sql: sqlRunner(pgClientConfig(server.info, 'postgres')),
    bin: bench.cli.bin,
    work,
    alertmanagerUrl,
    nextId: () => ++id,
  }
}

// ---------------------------------------------------------------------------------------------
// Latency bookkeeping.

export interface Window {
  start: number
  end: number
}

export interface LatencyStats {
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

export function stats(values: number[]): LatencyStats {
  if (values.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN }
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values) }
}

export function fmt(value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (value < 10) return `${value.toFixed(1)} ms`
  return `${Math.round(value).toLocaleString('en-US')} ms`
}
export const fmtX = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–')
export const fmtN = (value: number): string => Math.round(value).toLocaleString('en-US')
export const lat = (s: LatencyStats): string => `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}`

// ---------------------------------------------------------------------------------------------
// The concurrent writer.

interface WriterHandle {
  stop(): Promise<WriterSamples>
}

async function startWriter(lab: Lab, db: string): Promise<WriterHandle> {
  const child = fork(WRITER, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: cleanEnv({
      WRITER_PG: JSON.stringify(pgClientConfig(lab.info, db)),
      WRITER_INTERVAL: String(lab.args.writerInterval),
      WRITER_MAX_MS: String(30 * 60_000),
    }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  trackChild(child)
  // A writer killed on SIGINT makes a later send fail with EPIPE: that is not a crash of the bench.
  child.on('error', () => undefined)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
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
      if (child.connected) child.send('stop')
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

export const pgEnv = (lab: Lab): Record<string, string> => cleanEnv({ PGPASSWORD: lab.info.password })

export function psqlArgs(lab: Lab, db: string, ...commands: string[]): string[] {
  return ['-X', '-v', 'ON_ERROR_STOP=1', '-h', lab.info.host, '-p', String(lab.info.port), '-U', lab.info.user, '-d', db, ...commands.flatMap((c) => ['-c', c])]
}

export async function psql(lab: Lab, db: string, ...commands: string[]): Promise<TimedResult> {
  const r = await timed('psql', psqlArgs(lab, db, ...commands), { env: pgEnv(lab), cwd: lab.work, timeoutMs: RUN_TIMEOUT_MS })
  if (r.exitCode !== 0)
    throw new Error(`psql ${commands.join(' ')} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${tail(r.stderr + r.stdout)}`)
  return r
}

interface ConfigOptions {
  batchRows?: number
  reindex?: boolean
}

export function writeConfig(lab: Lab, db: string, opts: ConfigOptions = {}): string {
  const file = path.join(lab.work, `config-${db}.yaml`)
  const config = {
    host: 'bench',
    postgres: { host: lab.info.host, port: lab.info.port, user: lab.info.user, database: db },
    alertmanager: { url: lab.alertmanagerUrl },
    log: { file: path.join(lab.work, 'maintenance.log') },
    lock: { dir: path.join(lab.work, 'lock') },
    cleanup: {
      logs: [
        { path: path.join(lab.work, 'logs'), pattern: '*.log', olderThanDays: 30 },
        { path: path.join(lab.work, 'logs'), pattern: '*.log.*', olderThanDays: 7 },
      ],
      temp: [{ path: path.join(lab.work, 'tmp'), pattern: 'network-probe-*', olderThanDays: 1 }],
    },
    disk: { paths: [lab.work] },
    services: {
      management: { enabled: false },
      web: { enabled: false },
      redis: { enabled: false },
      postgres: { runtime: 'process', pidFile: path.join(lab.info.dataDir, 'postmaster.pid'), readiness: 'postgres', dataDir: lab.info.dataDir },
    },
    retention: { batchRows: opts.batchRows ?? 5000 },
    ...(opts.reindex ? { reindex: { minIndexBytes: 0, minBloatPercent: 10 } } : {}),
  }
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`)
  return file
}

export async function probeOps(lab: Lab, config: string, extra: string[]): Promise<{ r: TimedResult; report: Report }> {
  const r = await timed(process.execPath, [lab.bin, 'maintain', 'daily', '--config', config, '--json', ...extra], {
    env: pgEnv(lab),
    cwd: lab.work,
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

export function step(report: Report, id: string): StepResult {
  const s = report.steps.find((x) => x.id === id)
  if (!s) throw new Error(`the report has no step ${id}`)
  return s
}

export interface RuleData {
  deleted: number
  batches: number
  longestBatchMs: number
  partitionsDropped: string[]
  partitionRowsDropped?: number
  partitionsLeftAttached?: string[]
  blockedDrop?: { partition: string; lockedTable: string; attempts: number; waitedMs: number }
}

export function ruleOf(s: StepResult): RuleData {
  const rules = (s.data as { rules?: RuleData[] } | undefined)?.rules
  if (!rules?.[0]) throw new Error(`step ${s.id} reports no rules: ${JSON.stringify(s.data)}`)
  return rules[0]
}

// ---------------------------------------------------------------------------------------------
// One measured run: a fresh copy, the writer on it, the contender, the copy dropped.

export interface Measured<T> extends Sample {
  label: string
  run: number
  /** The contender's wall time. */
  ms: number
  writer: LatencyStats
  baseline: LatencyStats
  windows: Record<string, LatencyStats>
  /** The writer's latencies inside the contender's window, for pooled figures. */
  latencies: number[]
  writerErrors: number
  writerFirstError?: string
  detail: T
}

export interface BodyResult<T> {
  wallMs: number
  window: Window
  windows?: Record<string, Window>
  detail: T
}

export async function measured<T>(lab: Lab, label: string, template: string, run: number, body: (db: string) => Promise<BodyResult<T>>): Promise<Measured<T>> {
  const db = `run_${lab.nextId()}`
  lab.bench.log(`run ${run}: ${label} (${template} → ${db})`)
  await copyDatabase(lab.sql, template, db)
  try {
    if (template.includes('bloated')) await lab.sql(db, 'alter table task_results reset (autovacuum_enabled)')
    const writer = await startWriter(lab, db)
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
        ms: out.wallMs,
        writer: stats(inside),
        baseline: stats(latenciesIn(samples, { start: b0, end: b1 })),
        windows,
        latencies: inside,
        writerErrors: samples.errors,
        writerFirstError: samples.firstError,
        detail: out.detail,
      }
      if (samples.errors) lab.bench.log(`  writer: ${samples.errors} inserts failed (${samples.firstError})`)
      lab.bench.log(`  ${fmtN(m.ms)} ms; writer p50/p99/max ${lat(m.writer)} (idle p99 ${fmt(m.baseline.p99)})`)
      return m
    } catch (error) {
      await writer.stop().catch(() => undefined)
      throw error
    }
  } finally {
    await dropDatabase(lab.sql, db)
  }
}

/** A contender measured on fresh copies of `template`; its runs are numbered 1, 2, … as they come. */
export function contender<T>(lab: Lab, label: string, template: string, body: (db: string) => Promise<BodyResult<T>>): Variant<Measured<T>> {
  let run = 0
  return { key: label, label, run: () => measured(lab, label, template, ++run, body) }
}

/** `runs` rounds of the contenders, the order rotating by one each round, no warm-up (every run is on a fresh copy). */
export async function rounds<T>(lab: Lab, name: string, contenders: ReadonlyArray<Variant<Measured<T>>>, runs: number): Promise<Measured<T>[]> {
  const measuredRuns = await interleave(lab.bench, name, contenders, runs, { warmup: 0, order: 'rotate', describe: (m) => `${fmtN(m.ms)} ms` })
  return contenders.flatMap((c) => measuredRuns.get(c.key)!)
}

export const byLabel = <T>(all: Measured<T>[], label: string): Measured<T>[] => all.filter((m) => m.label === label)
export const pooled = <T>(ms: Measured<T>[]): LatencyStats => stats(ms.flatMap((m) => m.latencies))
