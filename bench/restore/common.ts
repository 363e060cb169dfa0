/**
 * What backup-restore.ts's contenders share: the demo database's row counts, the change made
 * between a backup and its restore, and reading a probe-ops run's report.
 */
import pg from 'pg'
import type { Report, StepResult } from '../../src/report/model.js'
import { pgClientConfig, type PostgresInfo } from '../../test/bed/postgres.js'
import { tail, type TimedResult } from '../lib/proc.js'

export const DATABASE = 'network_probe'
/** A cycle on 1 GB takes minutes; a hung one must still end. */
export const RUN_TIMEOUT_MS = 30 * 60_000

export type Counts = Record<string, number>

export async function withClient<T>(info: PostgresInfo, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...pgClientConfig(info, database), statement_timeout: 0 })
  client.on('error', () => undefined)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Every table's exact row count (the same tables probe-ops's manifest lists). */
export async function counts(info: PostgresInfo, database: string): Promise<Counts> {
  return withClient(info, database, async (c) => {
    const tables = await c.query<{ name: string }>(
      `select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and not c.relispartition and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' order by 1`,
    )
    const out: Counts = {}
    for (const { name } of tables.rows) {
      const [schema, rel] = name.split('.') as [string, string]
      const r = await c.query<{ n: string }>(`select count(*) as n from "${schema}"."${rel}"`)
      out[name] = Number(r.rows[0]!.n)
    }
    return out
  })
}

export function sameCounts(a: Counts, b: Counts): boolean {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k])
}

export function describeCounts(c: Counts): string {
  return Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
}

export async function databases(info: PostgresInfo): Promise<string[]> {
  return withClient(info, 'postgres', async (c) => (await c.query<{ datname: string }>('select datname from pg_database')).rows.map((r) => r.datname))
}

export async function dropDatabase(info: PostgresInfo, name: string): Promise<void> {
  await withClient(info, 'postgres', (c) => c.query(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`))
}

/** Untimed, between cycles: the same starting state for every cycle. */
export async function normalize(info: PostgresInfo): Promise<void> {
  await withClient(info, DATABASE, async (c) => {
    await c.query('vacuum (freeze, analyze)')
    await c.query('checkpoint')
  })
}

/** Untimed, between backup and restore: a change the restore must undo. */
export async function mutate(info: PostgresInfo): Promise<void> {
  await withClient(info, DATABASE, async (c) => {
    // alice first: a small commit right after the backup, where a recovery to a time just before it stops.
    await c.query(`delete from users where username = 'alice'`)
    await c.query('delete from task_results where id % 100 = 0')
    await c.query('checkpoint')
  })
}

export interface Ctx {
  bin: string
  env: Record<string, string>
  cwd: string
  work: string
  info: PostgresInfo
  expected: Counts
}

export function check(result: TimedResult, what: string): void {
  if (result.timedOut || result.exitCode !== 0) {
    throw new Error(
      `${what}: exit ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}${result.timedOut ? ', timed out' : ''}\n--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`,
    )
  }
}

export function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id} in the report (${report.steps.map((s) => s.id).join(', ')})`)
  return found
}

export function parseReport(result: TimedResult, what: string): Report {
  try {
    return JSON.parse(result.stdout) as Report
  } catch {
    throw new Error(`${what}: stdout is not a JSON report (exit ${result.exitCode})\n${tail(result.stdout)}\n${tail(result.stderr)}`)
  }
}

export async function verifyRestored(ctx: Ctx, what: string): Promise<void> {
  const now = await counts(ctx.info, DATABASE)
  if (!sameCounts(now, ctx.expected))
    throw new Error(`${what}: after the restore ${DATABASE} has ${describeCounts(now)}; at the backup it had ${describeCounts(ctx.expected)}`)
}

export function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`
}

export function met(ok: boolean): string {
  return ok ? '**met**' : '**not met**'
}
