/**
 * The contenders of bench/maintain-daily.ts, each a body for lab.ts's measured(): given the fresh
 * copy of a database, it runs (the guide's statement through psql, or `probe-ops maintain daily`
 * with a config for that copy), verifies what it did, and says its wall time, the window the
 * writer's latencies count in, and what it found.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { pgClientConfig } from '../../test/bed/postgres.js'
import { code } from '../lib/markdown.js'
import { trackChild } from '../lib/proc.js'
import { RETENTION_DAYS, copyDatabase, countRows, dropDatabase } from './data.js'
import {
  AFTER_MS,
  DAY_MS,
  GUIDE_DELETE,
  epochNow,
  fmt,
  fmtN,
  pgEnv,
  probeOps,
  psql,
  psqlArgs,
  ruleOf,
  step,
  writeConfig,
  type BodyResult,
  type Lab,
  type RuleData,
} from './lab.js'

export interface DeleteDetail {
  deleted: number
  longestTxMs: number
  batches: number
  stepMs?: number
}

export function guideDelete(lab: Lab) {
  return async (db: string): Promise<BodyResult<DeleteDetail>> => {
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const start = epochNow()
    const r = await psql(lab, db, '\\timing on', GUIDE_DELETE)
    const deleted = Number(/DELETE (\d+)/.exec(r.stdout)?.[1] ?? Number.NaN)
    const txMs = Number(/Time: ([\d.]+) ms/.exec(r.stdout)?.[1] ?? Number.NaN)
    const after = await countRows(lab.sql, db, cutoff)
    if (after.older !== 0 || !Number.isFinite(deleted)) throw new Error(`the guide's DELETE left ${after.older} old rows (psql said: ${r.stdout.trim()})`)
    return { wallMs: r.ms, window: { start, end: start + r.ms }, detail: { deleted, longestTxMs: txMs, batches: 1 } }
  }
}

export function retention(lab: Lab, batchRows: number) {
  return async (db: string): Promise<BodyResult<DeleteDetail>> => {
    const config = writeConfig(lab, db, { batchRows })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const start = epochNow()
    const { r, report } = await probeOps(lab, config, ['--only', 'retention'])
    const s = step(report, 'retention')
    if (r.exitCode !== 0 || s.status !== 'ok') throw new Error(`retention: exit ${r.exitCode}, ${s.status}: ${s.summary} ${s.error?.message ?? ''}`)
    const rule = ruleOf(s)
    const after = await countRows(lab.sql, db, cutoff)
    if (after.older !== 0) throw new Error(`retention left ${after.older} rows older than the cutoff: ${s.summary}`)
    return {
      wallMs: r.ms,
      window: { start, end: start + r.ms },
      detail: { deleted: rule.deleted, longestTxMs: rule.longestBatchMs, batches: rule.batches, stepMs: s.durationMs },
    }
  }
}

export interface PartitionDetail {
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
function logSize(lab: Lab): number {
  return statSync(lab.info.logFile).size
}

/**
 * The ERROR entries the server logged since `from` (byte offset), each with the lines that
 * belong to it (DETAIL/HINT/CONTEXT/STATEMENT of the same backend, tab-indented continuations).
 * The log's default prefix does not name the database, so every ERROR of the server is kept
 * (the server is the bench's own; during a partitioned run only probe-ops and the writer use it).
 */
function serverErrorsSince(lab: Lab, from: number): string[] {
  const text = readFileSync(lab.info.logFile).subarray(from).toString('utf8')
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
export function partitionedRetention(lab: Lab, batchRows: number) {
  return async (db: string): Promise<BodyResult<PartitionDetail>> => {
    const config = writeConfig(lab, db, { batchRows })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const logFrom = logSize(lab)
    const start = epochNow()
    const { r, report } = await probeOps(lab, config, ['--only', 'retention'])
    const s = step(report, 'retention')
    // The writer's inserts overlap the run by AFTER_MS more; a short wait lets their errors land too.
    await sleep(AFTER_MS)
    const serverErrors = serverErrorsSince(lab, logFrom)
    const rules = (s.data as { rules?: RuleData[] } | undefined)?.rules
    const after = await countRows(lab.sql, db, cutoff)
    const orphans = await lab.sql<{ name: string; n: string }>(
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

export interface HeldDetail {
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
export const READER_AGE_MS = 1500

/** A session that reads `tasks` in an open transaction: its ACCESS SHARE lock lasts until it ends. */
async function tasksReader(lab: Lab, db: string): Promise<pg.Client> {
  const reader = new pg.Client({ ...pgClientConfig(lab.info, db), application_name: 'bench-reader' })
  reader.on('error', () => undefined)
  await reader.connect()
  await reader.query('begin')
  await reader.query('select count(*) from tasks')
  return reader
}

/** probe-ops' retention while a reader holds tasks; then the next run with the lock gone. */
export function heldPartitionedRetention(lab: Lab, batchRows: number) {
  return async (db: string): Promise<BodyResult<HeldDetail>> => {
    const config = writeConfig(lab, db, { batchRows })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const reader = await tasksReader(lab, db)
    await sleep(READER_AGE_MS)
    const start = epochNow()
    let held: Awaited<ReturnType<typeof probeOps>>
    try {
      held = await probeOps(lab, config, ['--only', 'retention'])
    } finally {
      await reader.query('rollback').catch(() => undefined)
      await reader.end().catch(() => undefined)
    }
    const end = epochNow()
    const s = step(held.report, 'retention')
    const rule = ruleOf(s)
    const marked = await lab.sql<{ name: string }>(
      db,
      `select c.relname as name from pg_class c where obj_description(c.oid, 'pg_class') = $1 and not c.relispartition`,
      [DETACHED_MARK],
    )
    let markedRows = 0
    for (const m of marked) markedRows += Number((await lab.sql<{ n: string }>(db, `select count(*) as n from ${m.name}`))[0]!.n)
    const nextStart = epochNow()
    const next = await probeOps(lab, config, ['--only', 'retention'])
    const nextEnd = epochNow()
    const ns = step(next.report, 'retention')
    const nr = ruleOf(ns)
    const left = await countRows(lab.sql, db, cutoff)
    const markedAfter = await lab.sql(db, `select 1 from pg_class c where obj_description(c.oid, 'pg_class') = $1`, [DETACHED_MARK])
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
export function heldPreviousDrop(lab: Lab) {
  return async (db: string): Promise<BodyResult<HeldDetail>> => {
    const [oldest] = await lab.sql<{ name: string }>(
      db,
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'task_results'::regclass order by c.relname limit 1`,
    )
    await lab.sql(db, `alter table task_results detach partition ${oldest!.name} concurrently`)
    const reader = await tasksReader(lab, db)
    const client = new pg.Client({ ...pgClientConfig(lab.info, db), application_name: 'bench-previous' })
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
}

/** Which locks on other tables each way of dropping a detached partition takes, and whether it gets them behind the reader. */
export async function dropLockNeeds(lab: Lab, template: string): Promise<string[][]> {
  const db = `locks_${lab.nextId()}`
  await copyDatabase(lab.sql, template, db)
  try {
    const [oldest] = await lab.sql<{ name: string }>(
      db,
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'task_results'::regclass order by c.relname limit 1`,
    )
    const p = oldest!.name
    await lab.sql(db, `alter table task_results detach partition ${p} concurrently`)
    const keys = await lab.sql<{ name: string; target: string }>(
      db,
      `select conname as name, confrelid::regclass::text as target from pg_constraint where conrelid = $1::regclass and contype = 'f' order by oid`,
      [p],
    )
    const statements = [`drop table ${p}`, ...keys.map((k) => `alter table ${p} drop constraint ${k.name}`)]
    const client = new pg.Client(pgClientConfig(lab.info, db))
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
        const reader = await tasksReader(lab, db)
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
    await dropDatabase(lab.sql, db)
  }
}

async function indexBytes(lab: Lab, db: string): Promise<number> {
  const [row] = await lab.sql<{ b: string }>(
    db,
    `select coalesce(sum(pg_relation_size(indexrelid)), 0) as b from pg_index where indrelid = 'task_results'::regclass`,
  )
  return Number(row!.b)
}

async function invalidIndexes(lab: Lab, db: string): Promise<number> {
  const [row] = await lab.sql<{ n: string }>(db, 'select count(*) as n from pg_index where not indisvalid')
  return Number(row!.n)
}

export interface VacReindexDetail {
  vacuumMs: number
  reindexMs: number
  indexBytesBefore: number
  indexBytesAfter: number
  rebuilt: string
  /** probe-ops' bloat figures for task_results' indexes (data.bloated), with its method. */
  estimated?: string
}

export function guideVacuumReindex(lab: Lab) {
  return async (db: string): Promise<BodyResult<VacReindexDetail>> => {
    const before = await indexBytes(lab, db)
    const start = epochNow()
    const v = await psql(lab, db, 'VACUUM ANALYZE;')
    const mid = epochNow()
    const x = await psql(lab, db, `REINDEX DATABASE ${db};`)
    const end = epochNow()
    const after = await indexBytes(lab, db)
    if ((await invalidIndexes(lab, db)) !== 0) throw new Error('invalid indexes after REINDEX DATABASE')
    return {
      wallMs: end - start,
      window: { start, end },
      windows: { vacuum: { start, end: mid }, reindex: { start: mid, end } },
      detail: { vacuumMs: v.ms, reindexMs: x.ms, indexBytesBefore: before, indexBytesAfter: after, rebuilt: 'every index of the database' },
    }
  }
}

export function probeVacuumReindex(lab: Lab, opts: { pgstattuple: boolean }) {
  return async (db: string): Promise<BodyResult<VacReindexDetail>> => {
    // Installed before the timing starts: reindex.ts then measures bloat with pgstatindex().
    if (opts.pgstattuple) await lab.sql(db, 'create extension if not exists pgstattuple')
    const config = writeConfig(lab, db, { reindex: true })
    const before = await indexBytes(lab, db)
    const start = epochNow()
    const { r, report } = await probeOps(lab, config, ['--only', 'vacuum,reindex'])
    const v = step(report, 'vacuum')
    const x = step(report, 'reindex')
    if (r.exitCode !== 0 || v.status !== 'ok' || x.status !== 'ok')
      throw new Error(`vacuum,reindex: exit ${r.exitCode}; vacuum ${v.status}: ${v.summary}; reindex ${x.status}: ${x.summary} ${x.error?.message ?? ''}`)
    const after = await indexBytes(lab, db)
    if ((await invalidIndexes(lab, db)) !== 0) throw new Error('invalid indexes left after probe-ops reindex')
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

export interface FullDetail {
  status: string
  exitCode: number | null
  steps: { id: string; status: string; durationMs: number; summary: string }[]
}

function oldFiles(lab: Lab): void {
  const logs = path.join(lab.work, 'logs')
  const tmp = path.join(lab.work, 'tmp')
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

export function fullRun(lab: Lab, batchRows: number) {
  return async (db: string): Promise<BodyResult<FullDetail>> => {
    oldFiles(lab)
    const config = writeConfig(lab, db, { batchRows, reindex: true })
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const start = epochNow()
    const { r, report } = await probeOps(lab, config, [])
    const after = await countRows(lab.sql, db, cutoff)
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

export interface KillDetail {
  before: number
  kept: number
  killedAtMs: number
  backendEndedAfterKillMs: number
  terminated: boolean
  finishedBeforeKill: boolean
  resume?: { exitCode: number | null; deleted: number; ms: number; left: number; summary: string }
}

async function backendOf(lab: Lab, db: string, app: string): Promise<number | undefined> {
  const rows = await lab.sql<{ pid: number }>(
    'postgres',
    `select pid from pg_stat_activity where datname = $1 and application_name = $2 and backend_type = 'client backend' order by backend_start limit 1`,
    [db, app],
  )
  return rows[0]?.pid
}

async function waitBackendGone(lab: Lab, pid: number, boundMs: number): Promise<number> {
  const t0 = epochNow()
  while (epochNow() - t0 < boundMs) {
    const rows = await lab.sql('postgres', 'select 1 from pg_stat_activity where pid = $1', [pid])
    if (rows.length === 0) return epochNow() - t0
    await sleep(50)
  }
  throw new Error(`backend ${pid} still running ${Math.round(boundMs / 1000)} s after its client was killed`)
}

/** Kills the contender `killAtMs` after its start: halfway through its work, whatever its start-up. */
export function killed(lab: Lab, kind: 'delete' | 'delete+terminate' | 'retention', killAtMs: number, batchRows = 5000) {
  return async (db: string): Promise<BodyResult<KillDetail>> => {
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
    const before = await countRows(lab.sql, db, cutoff)
    const config = kind === 'retention' ? writeConfig(lab, db, { batchRows }) : ''
    const app = kind === 'retention' ? 'probe-ops' : 'psql'
    const start = epochNow()
    const child =
      kind === 'retention'
        ? spawn(process.execPath, [lab.bin, 'maintain', 'daily', '--config', config, '--json', '--only', 'retention'], {
            env: pgEnv(lab),
            cwd: lab.work,
            stdio: 'ignore',
          })
        : spawn('psql', psqlArgs(lab, db, GUIDE_DELETE), { env: pgEnv(lab), cwd: lab.work, stdio: 'ignore' })
    trackChild(child)
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    await sleep(killAtMs)
    const pid = await backendOf(lab, db, app)
    // A client that finished early (small data sets) is a result too: nothing was interrupted.
    const finishedBeforeKill = child.exitCode !== null
    if (!finishedBeforeKill) child.kill('SIGKILL')
    const killedAt = epochNow()
    await exited
    let terminated = false
    if (kind === 'delete+terminate' && pid !== undefined) {
      await lab.sql('postgres', 'select pg_terminate_backend($1)', [pid])
      terminated = true
    }
    const endedAfter = pid === undefined ? 0 : await waitBackendGone(lab, pid, Math.max(120_000, killAtMs * 8))
    const end = epochNow()
    const after = await countRows(lab.sql, db, cutoff)
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
      const t = await probeOps(lab, config, ['--only', 'retention'])
      const s = step(t.report, 'retention')
      const left = await countRows(lab.sql, db, cutoff)
      detail.resume = { exitCode: t.r.exitCode, deleted: ruleOf(s).deleted, ms: t.r.ms, left: left.older, summary: s.summary }
    }
    return { wallMs: end - start, window: { start, end }, detail }
  }
}
