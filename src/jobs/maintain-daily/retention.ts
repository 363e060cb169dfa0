import type { Client } from 'pg'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import type { Step, StepOutcome, StepRun } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import { queryRows, quoteIdent, sqlState, withPostgres } from '../../systems/postgres.js'
import { sleep } from '../../lib/time.js'
import type { MaintenanceContext } from './context.js'

/**
 * Deletes rows older than the rule's age in bounded batches, each its own short transaction,
 * walking a (time, key) cursor so that no batch rescans what the last one deleted, and an
 * interrupted run leaves only whole batches done. A table partitioned by the time column
 * loses whole old partitions instead (detach, drop): no row-by-row delete at all.
 */

type Rule = Config['retention']['rules'][number]

interface Target {
  rule: Rule
  table: string
  column: string
  /** The cursor's tie-breaker: a primary-key column other than the time column, or ctid. */
  key: string
  /** The time column's type, for casting the cursor back. */
  columnType: string
  partitioned: boolean
  bytesPerRow: number
}

interface RuleResult {
  table: string
  column: string
  cutoff: string
  deleted: number
  batches: number
  longestBatchMs: number
  partitionsDropped: string[]
  reusableBytes: number
  stoppedBy?: 'budget' | 'timeout'
  wouldDelete?: number
  wouldDropPartitions?: string[]
}

const TIME_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone', 'date'])
const RETRIES = 3

async function describeTarget(client: Client, rule: Rule): Promise<Target> {
  const [found] = await queryRows<{ oid: number | null }>(client, 'select to_regclass($1)::oid as oid', [quoteIdent(rule.table)])
  if (!found?.oid) throw new StepFailure(`retention rule: table "${rule.table}" does not exist`, 'fix retention.rules in the configuration')
  const oid = found.oid
  const [column] = await queryRows<{ type: string }>(client, `select format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = $1 and attname = $2 and attnum > 0 and not attisdropped`, [oid, rule.column])
  if (!column) throw new StepFailure(`retention rule: table "${rule.table}" has no column "${rule.column}"`, 'fix retention.rules in the configuration')
  if (!TIME_TYPES.has(column.type)) throw new StepFailure(`retention rule: "${rule.table}.${rule.column}" is ${column.type}, not a timestamp or date`, 'name the column rows age by')
  const [part] = await queryRows<{ strategy: string; key: string | null }>(
    client,
    `select p.partstrat as strategy, (select attname from pg_attribute where attrelid = p.partrelid and attnum = p.partattrs[0]) as key from pg_partitioned_table p where p.partrelid = $1`,
    [oid],
  )
  const pk = await queryRows<{ name: string }>(
    client,
    `select a.attname as name from pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, n) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum where i.indrelid = $1 and i.indisprimary order by k.n`,
    [oid],
  )
  const key = pk.find((c) => c.name !== rule.column)?.name
  if (!key && part) throw new StepFailure(`retention rule: partitioned table "${rule.table}" has no primary key to walk`, 'add a primary key (id, time column)')
  // A partitioned parent has no storage of its own: its size is its partitions'.
  const [size] = await queryRows<{ bytes: string; rows: number }>(
    client,
    `with rels as (select $1::oid as oid union all select inhrelid from pg_inherits where inhparent = $1)
     select (select sum(pg_total_relation_size(oid)) from rels) as bytes, greatest((select sum(reltuples) from pg_class where oid in (select oid from rels) and reltuples > 0), 0)::float8 as rows`,
    [oid],
  )
  const rows = Number(size?.rows ?? 0)
  return {
    rule,
    table: quoteIdent(rule.table),
    column: quoteIdent(rule.column),
    key: key ? quoteIdent(key) : 'ctid',
    columnType: column.type,
    partitioned: part?.strategy === 'r' && part.key === rule.column,
    bytesPerRow: rows > 0 ? Number(size!.bytes) / rows : 0,
  }
}

interface Partition {
  name: string
  upper: string | null
  pendingDetach: boolean
  isDefault: boolean
}

async function partitions(client: Client, target: Target): Promise<Partition[]> {
  const rows = await queryRows<{ name: string; bound: string; pending: boolean }>(
    client,
    `select c.oid::regclass::text as name, pg_get_expr(c.relpartbound, c.oid) as bound, i.inhdetachpending as pending
       from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass`,
    [target.table],
  )
  return rows.map((r) => {
    const upper = /TO \('([^']+)'\)\s*$/.exec(r.bound)
    return { name: r.name, upper: upper ? upper[1]! : null, pendingDetach: r.pending, isDefault: r.bound === 'DEFAULT' }
  })
}

/** Partitions wholly older than the cutoff (their upper bound, exclusive, at or before it). */
async function expiredPartitions(client: Client, target: Target, cutoff: Date): Promise<Partition[]> {
  const all = await partitions(client, target)
  const expired: Partition[] = []
  for (const p of all) {
    if (p.pendingDetach) {
      expired.push(p)
      continue
    }
    if (!p.upper) continue
    const [row] = await queryRows<{ old: boolean }>(client, `select $1::timestamptz <= $2::timestamptz as old`, [p.upper, cutoff.toISOString()])
    if (row?.old) expired.push(p)
  }
  return expired
}

/** Marks a partition retention has detached, so that a run that dies before dropping it is finished by the next. */
const DETACHED_MARK = 'probe-ops retention: detached, to be dropped'

/**
 * Drops a detached partition without locking the tables its foreign keys point at together:
 * the platform's inserts lock them (for their key checks) in one order and DROP TABLE in
 * another, which deadlocks. Each foreign key is dropped on its own first, so at no moment
 * does retention hold one of those tables while waiting for another.
 */
async function dropDetached(client: Client, name: string): Promise<void> {
  const keys = await queryRows<{ name: string }>(client, `select conname as name from pg_constraint where conrelid = $1::regclass and contype = 'f' order by oid`, [name])
  for (const fk of keys) await client.query(`alter table ${name} drop constraint ${quoteIdent(fk.name)}`)
  await client.query(`drop table ${name}`)
}

/** Partitions an earlier run detached but did not get to drop. */
async function orphans(client: Client): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(client, `select c.oid::regclass::text as name from pg_class c where c.relkind = 'r' and obj_description(c.oid, 'pg_class') = $1 and not c.relispartition`, [DETACHED_MARK])
  return rows.map((r) => r.name)
}

async function dropPartitions(client: Client, target: Target, expired: Partition[]): Promise<string[]> {
  const hasDefault = (await partitions(client, target)).some((p) => p.isDefault)
  const dropped: string[] = []
  for (const name of await orphans(client)) {
    await dropDetached(client, name)
    dropped.push(name)
  }
  for (const p of expired) {
    await client.query(`comment on table ${p.name} is '${DETACHED_MARK}'`)
    // An earlier run killed mid-detach leaves the partition "detach pending": finish that.
    if (p.pendingDetach) await client.query(`alter table ${target.table} detach partition ${p.name} finalize`)
    else await client.query(`alter table ${target.table} detach partition ${p.name}${hasDefault ? '' : ' concurrently'}`)
    await dropDetached(client, p.name)
    dropped.push(p.name)
  }
  return dropped
}

/**
 * One batch: find where the next `batchRows` rows (in time, key order) end, then delete the
 * key range up to there. A range delete walks the time index once; deleting by joining the
 * selected keys back looked every row up a second time.
 */
function batchSql(target: Target, first: boolean): string {
  const { table, column, key, columnType } = target
  if (key === 'ctid') {
    return `with batch as (select ctid from ${table} where ${column} < $1 limit $2),
                 deleted as (delete from ${table} where ctid in (select ctid from batch) returning 1)
            select (select count(*) from deleted)::int as n, null::text as last_time, null::text as last_key`
  }
  const after = first ? '' : `and (${column}, ${key}) > ($3::${columnType}, $4)`
  return `with last as (
                 select t, k from (select ${column} as t, ${key} as k from ${table} where ${column} < $1 ${after} order by ${column}, ${key} limit $2) batch
                  order by t desc, k desc limit 1),
               deleted as (
                 delete from ${table} where ${column} < $1 ${after} and (${column}, ${key}) <= (select t, k from last) returning 1)
          select (select count(*) from deleted)::int as n, (select t::text from last) as last_time, (select k::text from last) as last_key`
}

async function deleteInBatches(client: Client, target: Target, cutoff: Date, config: Config, run: StepRun, budgetEnds: number, result: RuleResult): Promise<void> {
  const settings = config.retention
  await client.query(`set lock_timeout = ${settings.lockTimeoutMs}`)
  await client.query(`set statement_timeout = ${Math.round(settings.batchTimeoutSeconds * 1000)}`)
  let cursor: { time: string; key: string } | undefined
  let batchRows = settings.batchRows
  for (;;) {
    if (run.signal.aborted) {
      result.stoppedBy = 'timeout'
      return
    }
    if (Date.now() >= budgetEnds) {
      result.stoppedBy = 'budget'
      return
    }
    const sql = batchSql(target, cursor === undefined)
    const params: unknown[] = cursor ? [cutoff.toISOString(), batchRows, cursor.time, cursor.key] : [cutoff.toISOString(), batchRows]
    let attempt = 0
    let row: { n: number; last_time: string | null; last_key: string | null } | undefined
    for (;;) {
      const started = performance.now()
      try {
        row = (await client.query(sql, params)).rows[0]
        result.longestBatchMs = Math.max(result.longestBatchMs, Math.round(performance.now() - started))
        break
      } catch (error) {
        const state = sqlState(error)
        // A batch that waited too long for a lock, or ran past its bound, is retried smaller.
        if ((state === '55P03' || state === '57014') && attempt < RETRIES) {
          attempt++
          batchRows = Math.max(1, Math.floor(batchRows / 2))
          params[1] = batchRows
          await sleep(Math.min(1000, settings.lockTimeoutMs))
          continue
        }
        throw new StepFailure(`retention of ${target.rule.table}: batch ${result.batches + 1} failed: ${describeError(error)}`, 'the rows deleted so far stay deleted; the next run continues', { ...result })
      }
    }
    if (!row || row.n === 0) return
    result.deleted += row.n
    result.batches++
    if (row.last_time !== null && row.last_key !== null) cursor = { time: row.last_time, key: row.last_key }
    if (row.n < batchRows) return
    if (settings.pauseMs > 0) await sleep(settings.pauseMs)
  }
}

async function applyRule(client: Client, rule: Rule, config: Config, run: StepRun, startedAt: Date, budgetEnds: number): Promise<RuleResult> {
  const cutoff = new Date(startedAt.getTime() - rule.days * 86_400_000)
  const target = await describeTarget(client, rule)
  const result: RuleResult = { table: rule.table, column: rule.column, cutoff: cutoff.toISOString(), deleted: 0, batches: 0, longestBatchMs: 0, partitionsDropped: [], reusableBytes: 0 }
  const expired = target.partitioned ? await expiredPartitions(client, target, cutoff) : []
  if (run.dryRun) {
    await client.query(`set statement_timeout = ${Math.round(config.retention.batchTimeoutSeconds * 1000)}`)
    const expiredNames = new Set(expired.map((p) => p.name))
    const [count] = await queryRows<{ n: string }>(client, `select count(*) as n from ${target.table} where ${target.column} < $1${expiredNames.size ? ` and tableoid::regclass::text <> all($2)` : ''}`, expiredNames.size ? [cutoff.toISOString(), [...expiredNames]] : [cutoff.toISOString()])
    result.wouldDelete = Number(count!.n)
    result.wouldDropPartitions = [...expiredNames]
    return result
  }
  if (target.partitioned) {
    await client.query(`set lock_timeout = ${config.retention.lockTimeoutMs}`)
    result.partitionsDropped = await dropPartitions(client, target, expired)
  }
  await deleteInBatches(client, target, cutoff, config, run, budgetEnds, result)
  result.reusableBytes = Math.round(result.deleted * target.bytesPerRow)
  return result
}

export const retentionStep: Step<MaintenanceContext> = {
  id: 'retention',
  title: 'Delete rows past their retention',
  run: ({ config, startedAt }, run) =>
    withPostgres(
      config.postgres,
      async (client): Promise<StepOutcome> => {
        const budgetEnds = Date.now() + config.retention.budgetSeconds * 1000
        const results: RuleResult[] = []
        for (const rule of config.retention.rules) results.push(await applyRule(client, rule, config, run, startedAt, budgetEnds))
        const data = { rules: results }
        if (run.dryRun) {
          return {
            summary: results.map((r) => `${r.table}: would delete ${r.wouldDelete!.toLocaleString('en-US')} rows older than ${r.cutoff.slice(0, 10)}${r.wouldDropPartitions!.length ? ` and drop ${r.wouldDropPartitions!.length} partitions` : ''}`).join('; '),
            data,
          }
        }
        const summary = results
          .map((r) => `${r.table}: deleted ${r.deleted.toLocaleString('en-US')} rows in ${r.batches} batches${r.partitionsDropped.length ? `, dropped ${r.partitionsDropped.length} partitions` : ''}${r.deleted ? ` (longest ${r.longestBatchMs} ms, ~${formatBytes(r.reusableBytes)} reusable after vacuum)` : ''}`)
          .join('; ')
        const stopped = results.find((r) => r.stoppedBy)
        if (stopped) {
          return { status: 'warning', summary: `${summary}; stopped by the ${stopped.stoppedBy}`, data, error: { message: `retention of ${stopped.table} stopped by the ${stopped.stoppedBy === 'budget' ? 'time budget' : 'job timeout'} before it finished`, hint: 'the next run continues where this one stopped; raise retention.budgetSeconds to finish in one run' } }
        }
        return { summary, data }
      },
      { statementTimeoutMs: 0 },
    ),
}
