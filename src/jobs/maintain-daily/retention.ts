import type { Client } from 'pg'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import type { StepWork, StepOutcome, StepRun } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import { queryRows, quoteIdent, withPostgres } from '../../systems/postgres.js'
import type { MaintenanceContext } from './context.js'
import { BatchFailure, deleteInTimeWindows, type TimeKind } from './retention-batches.js'
import {
  detachedMark,
  dropExpiredPartitions,
  expiredPartitions,
  markedDetached,
  parentIdentity,
  partitions,
  unmarkedDetached,
  type BlockedDrop,
  type Partition,
  type PartitionRetention,
} from './retention-partitions.js'

/**
 * Deletes rows older than the rule's age in bounded batches, each its own short transaction,
 * in time windows that tile the time column (retention-batches.ts), so that an interrupted run
 * leaves only whole batches done and the next one starts at the oldest row left. A table
 * partitioned by the time column loses whole old partitions instead (detach, drop:
 * retention-partitions.ts): no row-by-row delete at all.
 */

type Rule = Config['retention']['rules'][number]

interface Target {
  rule: Rule
  table: string
  column: string
  /** The time column's type, to read partition bounds as the column's values. */
  columnType: string
  kind: TimeKind
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
  /** The most rows one committed batch deleted: at most twice batchRows. */
  largestBatchRows: number
  /** Windows rolled back (over twice batchRows) or retried after a timeout. */
  retriedBatches: number
  partitionsDropped: string[]
  /** Rows of the dropped partitions by the planner's count (pg_class.reltuples), and their bytes. */
  partitionRowsDropped: number
  partitionBytesDropped: number
  /** A partition detached but not dropped: a lock it needed stayed held; the next run drops it. */
  blockedDrop?: BlockedDrop
  /** Expired partitions not detached this run because a drop was blocked. */
  partitionsLeftAttached: string[]
  /** Partitions left "detach pending" by someone else (unmarked, or not older than the cutoff): not touched. */
  pendingDetachLeftAlone: string[]
  /** The comment that marks a partition of this table as detached by retention, to be dropped. */
  detachedMark?: string
  /** Why this rule failed; the other rules still ran. */
  error?: string
  /** Unmarked tables that look like partitions an older probe-ops detached: pointed out, not dropped. */
  unmarkedDetachedTables: string[]
  reusableBytes: number
  stoppedBy?: 'budget' | 'timeout'
  wouldDelete?: number
  wouldDropPartitions?: string[]
  /** Of the partitions a run would drop: the planner's row count and their size. */
  wouldDropRows?: number
  wouldDropBytes?: number
}

async function describeTarget(client: Client, rule: Rule): Promise<Target> {
  const [found] = await queryRows<{ oid: number | null }>(client, 'select to_regclass($1)::oid as oid', [quoteIdent(rule.table)])
  if (!found?.oid) throw new StepFailure(`retention rule: table "${rule.table}" does not exist`, 'fix retention.rules in the configuration')
  const oid = found.oid
  // By type oid: format_type() prints a precision (timestamp(3) without time zone, Prisma's default).
  const [column] = await queryRows<{ type: string; kind: TimeKind | null }>(
    client,
    `select format_type(atttypid, atttypmod) as type,
            case atttypid when 'timestamptz'::regtype then 'timestamptz' when 'timestamp'::regtype then 'timestamp' when 'date'::regtype then 'date' end as kind
       from pg_attribute where attrelid = $1 and attname = $2 and attnum > 0 and not attisdropped`,
    [oid, rule.column],
  )
  if (!column) throw new StepFailure(`retention rule: table "${rule.table}" has no column "${rule.column}"`, 'fix retention.rules in the configuration')
  if (!column.kind)
    throw new StepFailure(`retention rule: "${rule.table}.${rule.column}" is ${column.type}, not a timestamp or date`, 'name the column rows age by')
  const [part] = await queryRows<{ strategy: string; key: string | null }>(
    client,
    `select p.partstrat as strategy, (select attname from pg_attribute where attrelid = p.partrelid and attnum = p.partattrs[0]) as key from pg_partitioned_table p where p.partrelid = $1`,
    [oid],
  )
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
    columnType: column.type,
    kind: column.kind,
    partitioned: part?.strategy === 'r' && part.key === rule.column,
    bytesPerRow: rows > 0 ? Number(size!.bytes) / rows : 0,
  }
}

function emptyResult(rule: Rule, cutoff: Date): RuleResult {
  return {
    table: rule.table,
    column: rule.column,
    cutoff: cutoff.toISOString(),
    deleted: 0,
    batches: 0,
    longestBatchMs: 0,
    largestBatchRows: 0,
    retriedBatches: 0,
    partitionsDropped: [],
    partitionRowsDropped: 0,
    partitionBytesDropped: 0,
    partitionsLeftAttached: [],
    pendingDetachLeftAlone: [],
    unmarkedDetachedTables: [],
    reusableBytes: 0,
  }
}

/** Applies one rule, filling `result` as it goes: what was done before an error is still reported. */
async function applyRule(client: Client, rule: Rule, config: Config, run: StepRun, budgetEnds: number, result: RuleResult): Promise<void> {
  const settings = config.retention
  const cutoff = new Date(result.cutoff)
  const target = await describeTarget(client, rule)
  const statementTimeoutMs = Math.round(settings.batchTimeoutSeconds * 1000)
  const mark = target.partitioned ? detachedMark(await parentIdentity(client, target.table)) : ''
  if (target.partitioned) result.detachedMark = mark
  const { expired, pendingLeftAlone } = target.partitioned
    ? await expiredPartitions(client, target.table, cutoff, mark, { type: target.columnType, kind: target.kind })
    : { expired: [], pendingLeftAlone: [] }
  result.pendingDetachLeftAlone = pendingLeftAlone.map((p) => p.name)
  if (target.partitioned)
    result.unmarkedDetachedTables = await unmarkedDetached(client, target.table, target.column, cutoff, {
      lockTimeoutMs: settings.lockTimeoutMs,
      statementTimeoutMs,
    })
  if (run.dryRun) {
    await client.query(`set statement_timeout = ${statementTimeoutMs}`)
    const expiredNames = expired.map((p) => p.name)
    const marked = target.partitioned ? await markedDetached(client, target.table, mark) : []
    result.wouldDropPartitions = [...marked, ...expiredNames]
    const [sizes] = result.wouldDropPartitions.length
      ? await queryRows<{ rows: number; bytes: string }>(
          client,
          `select coalesce(sum(greatest(reltuples, 0)), 0)::float8 as rows, coalesce(sum(pg_total_relation_size(oid)), 0) as bytes from pg_class where oid = any($1::regclass[])`,
          [result.wouldDropPartitions],
        )
      : [{ rows: 0, bytes: '0' }]
    result.wouldDropRows = Math.round(sizes!.rows)
    result.wouldDropBytes = Number(sizes!.bytes)
    result.wouldDelete = await rowsLeftForBatches(client, target, cutoff, expired)
    return
  }
  let floor: Date | undefined
  if (target.partitioned) {
    const dropping: PartitionRetention = { dropped: [], leftAttached: [] }
    try {
      await dropExpiredPartitions(
        client,
        target.table,
        expired,
        { mark, detachLockTimeoutMs: settings.lockTimeoutMs, foreignPending: pendingLeftAlone.length > 0 },
        { deadline: budgetEnds, signal: run.signal },
        dropping,
      )
    } finally {
      result.partitionsDropped = dropping.dropped.map((p) => p.name)
      result.partitionRowsDropped = dropping.dropped.reduce((sum, p) => sum + p.estimatedRows, 0)
      result.partitionBytesDropped = dropping.dropped.reduce((sum, p) => sum + p.bytes, 0)
      result.blockedDrop = dropping.blocked
      result.partitionsLeftAttached = dropping.leftAttached.map((p) => p.name)
    }
    // The rows of expired partitions still attached wait for their partition's drop, not for row deletes.
    // Read as the column's values, in the windows' convention (epoch of the value as printed in UTC).
    const uppers = dropping.leftAttached.flatMap((p) => (p.upper ? [p.upper] : []))
    if (uppers.length) {
      const [row] = await queryRows<{ ms: number }>(
        client,
        `select (extract(epoch from max(u::${target.columnType})) * 1000)::float8 as ms from unnest($1::text[]) u`,
        [uppers],
      )
      floor = new Date(row!.ms)
    }
  }
  try {
    const windows = await deleteInTimeWindows(client, {
      table: target.table,
      column: target.column,
      kind: target.kind,
      cutoff,
      floor,
      targetRows: settings.batchRows,
      targetMs: settings.batchTargetMs,
      pauseMs: settings.pauseMs,
      lockTimeoutMs: settings.lockTimeoutMs,
      statementTimeoutMs,
      shouldStop: () => (run.signal.aborted ? 'timeout' : Date.now() >= budgetEnds ? 'budget' : undefined),
    })
    Object.assign(result, {
      deleted: windows.deleted,
      batches: windows.batches,
      longestBatchMs: windows.longestBatchMs,
      largestBatchRows: windows.largestBatchRows,
      retriedBatches: windows.retries,
      stoppedBy: windows.stoppedBy,
    })
  } catch (error) {
    if (!(error instanceof BatchFailure)) throw error
    throw new StepFailure(
      `retention of ${rule.table}: batch ${error.batch} failed: ${describeError(error.cause)}`,
      'the rows deleted so far stay deleted; the next run continues',
    )
  }
  result.reusableBytes = Math.round(result.deleted * target.bytesPerRow)
}

/**
 * What the batches of a real run would delete: rows older than the cutoff outside the expired
 * partitions (which go whole). Range partitions do not overlap, so past the newest expired bound
 * the parent's pruning reads only the partition the cutoff falls in; a default partition may
 * hold rows of any age and is counted on its own.
 */
async function rowsLeftForBatches(client: Client, target: Target, cutoff: Date, expired: Partition[]): Promise<number> {
  const uppers = expired.flatMap((p) => (p.upper ? [p.upper] : []))
  const limit = target.kind === 'timestamptz' ? '$1::timestamptz' : `($1::timestamptz at time zone 'UTC')::${target.columnType}`
  if (uppers.length === 0) {
    const [all] = await queryRows<{ n: string }>(client, `select count(*) as n from ${target.table} where ${target.column} < ${limit}`, [cutoff.toISOString()])
    return Number(all!.n)
  }
  const [newer] = await queryRows<{ n: string }>(
    client,
    `select count(*) as n from ${target.table} where ${target.column} < ${limit} and ${target.column} >= (select max(u::${target.columnType}) from unnest($2::text[]) u)`,
    [cutoff.toISOString(), uppers],
  )
  const defaults = (await partitions(client, target.table)).filter((p) => p.isDefault)
  let older = 0
  for (const d of defaults) {
    const [row] = await queryRows<{ n: string }>(
      client,
      `select count(*) as n from ${d.name} where ${target.column} < (select max(u::${target.columnType}) from unnest($1::text[]) u)`,
      [uppers],
    )
    older += Number(row!.n)
  }
  return Number(newer!.n) + older
}

/** The table's name without its schema: what look-alike partitions are matched on. */
function bareName(table: string): string {
  return table.split('.').pop()!
}

function count(n: number): string {
  return n.toLocaleString('en-US')
}

function ruleSummary(r: RuleResult): string {
  let text = `${r.table}: deleted ${count(r.deleted)} rows in ${r.batches} batches`
  if (r.partitionsDropped.length)
    text += `, dropped ${r.partitionsDropped.length} partitions (~${count(r.partitionRowsDropped)} rows, ${formatBytes(r.partitionBytesDropped)})`
  if (r.deleted) text += ` (longest ${r.longestBatchMs} ms, ~${formatBytes(r.reusableBytes)} reusable after vacuum)`
  if (r.blockedDrop) text += `, ${r.blockedDrop.partition} left ${r.blockedDrop.stage} (${r.blockedDrop.lockedTable} locked)`
  if (r.error) text += ` (failed: ${r.error})`
  return text
}

/** What needs the operator's eye: a drop left for the next run, unmarked leftovers, a stop before the end. */
function ruleWarnings(r: RuleResult): { message: string; hint: string }[] {
  const warnings: { message: string; hint: string }[] = []
  const b = r.blockedDrop
  if (b) {
    const holders = b.holders.length
      ? b.holders
          .map(
            (h) =>
              `pid ${h.pid}${h.application ? ` (${h.application})` : ''}${h.state ? `, ${h.state}` : ''}${h.transactionSeconds !== null ? `, in a transaction for ${h.transactionSeconds} s` : ''}`,
          )
          .join('; ')
      : 'a session that has ended since'
    const left = r.partitionsLeftAttached.length ? `; ${r.partitionsLeftAttached.length} more expired partitions stay attached` : ''
    const state =
      b.stage === 'detach pending' ? 'left detach pending (its DETACH waited too long for transactions that have the table open)' : 'detached but not dropped'
    warnings.push({
      message: `retention of ${r.table}: partition ${b.partition} is ${state}: ${b.lockedTable} stayed locked by ${holders} through ${b.attempts} attempts over ${(b.waitedMs / 1000).toFixed(1)} s${left}`,
      hint: `nothing is lost: ${b.partition} keeps its rows, marked '${r.detachedMark}', and the next run ${b.stage === 'detach pending' ? 'finalizes the detach and drops it' : 'drops it'}${left ? ' and detaches the rest' : ''}; a long transaction or pg_dump holding ${b.lockedTable} is the usual cause (see pg_locks where relation = '${b.lockedTable}'::regclass)`,
    })
  }
  if (r.pendingDetachLeftAlone.length) {
    const names = r.pendingDetachLeftAlone.join(', ')
    warnings.push({
      message: `retention of ${r.table}: ${names} ${r.pendingDetachLeftAlone.length === 1 ? 'is' : 'are'} left "detach pending" by a DETACH ... CONCURRENTLY that retention did not run (unmarked, a default partition, or not older than the cutoff): not finished, not dropped`,
      hint: `whoever started it decides: alter table ${r.table} detach partition ${r.pendingDetachLeftAlone[0]} finalize completes the detach (the table and its rows stay); until then retention detaches without CONCURRENTLY`,
    })
  }
  if (r.unmarkedDetachedTables.length) {
    warnings.push({
      message: `retention of ${r.table}: ${r.unmarkedDetachedTables.join(', ')} ${r.unmarkedDetachedTables.length === 1 ? 'looks like a partition' : 'look like partitions'} an older probe-ops detached and never dropped (the same columns, only rows older than the cutoff, attached to nothing)`,
      hint: `if so, mark ${r.unmarkedDetachedTables.length === 1 ? 'it' : 'each'} and the next run drops ${r.unmarkedDetachedTables.length === 1 ? 'it' : 'them'}: comment on table ${r.unmarkedDetachedTables[0]} is '${r.detachedMark}'; a table kept on purpose needs a name that does not start with "${bareName(r.table)}_"`,
    })
  }
  if (r.stoppedBy) {
    warnings.push({
      message: `retention of ${r.table} stopped by the ${r.stoppedBy === 'budget' ? 'time budget' : 'job timeout'} before it finished`,
      hint: 'the next run continues where this one stopped; raise retention.budgetSeconds to finish in one run',
    })
  }
  return warnings
}

export const retentionStep: StepWork<MaintenanceContext> = {
  run: ({ config, startedAt }, run) =>
    withPostgres(
      config.postgres,
      async (client): Promise<StepOutcome> => {
        const budgetEnds = Date.now() + config.retention.budgetSeconds * 1000
        const results: RuleResult[] = []
        const failures: { message: string; hint?: string }[] = []
        // One rule's failure does not hide the others' results, nor stop them.
        for (const rule of config.retention.rules) {
          const result = emptyResult(rule, new Date(startedAt.getTime() - rule.days * 86_400_000))
          try {
            await applyRule(client, rule, config, run, budgetEnds, result)
          } catch (error) {
            const failure =
              error instanceof StepFailure ? { message: error.message, hint: error.hint } : { message: `retention of ${rule.table}: ${describeError(error)}` }
            result.error = failure.message
            failures.push(failure)
          }
          results.push(result)
        }
        const data = { rules: results }
        if (failures.length) {
          const hints = failures.flatMap((f) => (f.hint ? [f.hint] : []))
          throw new StepFailure(failures.map((f) => f.message).join('; '), hints.length ? [...new Set(hints)].join('; ') : undefined, data)
        }
        const warnings = results.flatMap(ruleWarnings)
        const warning = warnings.length
          ? { status: 'warning' as const, error: { message: warnings.map((w) => w.message).join('; '), hint: warnings.map((w) => w.hint).join('; ') } }
          : {}
        if (run.dryRun) {
          return {
            summary: results
              .map(
                (r) =>
                  `${r.table}: would delete ${count(r.wouldDelete!)} rows older than ${r.cutoff.slice(0, 10)}${r.wouldDropPartitions!.length ? ` and drop ${r.wouldDropPartitions!.length} partitions` : ''}`,
              )
              .join('; '),
            data,
            ...warning,
          }
        }
        const stopped = results.find((r) => r.stoppedBy)
        const summary = results.map(ruleSummary).join('; ') + (stopped ? `; stopped by the ${stopped.stoppedBy}` : '')
        return { summary, data, ...warning }
      },
      { statementTimeoutMs: 0 },
    ),
}
