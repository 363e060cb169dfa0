import type { Client } from 'pg'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import type { Finding, StepDefinition, StepRun } from '../../report/outcome.js'
import { queryRows, quoteIdent, withPostgres } from '../../systems/postgres.js'
import { hintOf } from '../hints.js'
import type { MaintenanceContext } from './context.js'
import type { RetentionData, RuleResult } from './data.js'
import { dropExpiredPartitions, type PartitionRetention } from './partition-drops.js'
import { detachedMark, expiredPartitions, markedDetached, parentIdentity, partitions, unmarkedDetached, type Partition } from './partitions.js'
import { BatchFailure, deleteInTimeWindows } from './retention-batches.js'
import { emptyRuleResult, planSummary, ruleFindings, ruleSummary } from './retention-findings.js'
import { cutoffFor, planRule, stopReason, type RetentionRule, type RulePlan, type TableFacts, type TimeKind } from './retention-plan.js'

/**
 * Deletes rows older than the rule's age in bounded batches, each its own short transaction,
 * in time windows that tile the time column (retention-batches.ts), so that an interrupted run
 * leaves only whole batches done and the next one starts at the oldest row left. A table
 * partitioned by the time column loses whole old partitions instead (detach, drop:
 * partition-drops.ts): no row-by-row delete at all. What to do is decided in retention-plan.ts.
 */

/** A rule's table as SQL names it, with its plan. */
interface Target extends RulePlan {
  table: string
  column: string
}

/** What the catalog says of the rule's table and column; planRule() judges it. */
async function tableFacts(client: Client, rule: RetentionRule): Promise<TableFacts> {
  const [found] = await queryRows<{ oid: number | null }>(client, 'select to_regclass($1)::oid as oid', [quoteIdent(rule.table)])
  if (!found?.oid) return { exists: false, bytes: 0, rows: 0 }
  const oid = found.oid
  // By type oid: format_type() prints a precision (timestamp(3) without time zone, Prisma's default).
  const [column] = await queryRows<{ type: string; kind: TimeKind | null }>(
    client,
    `select format_type(atttypid, atttypmod) as type,
            case atttypid when 'timestamptz'::regtype then 'timestamptz' when 'timestamp'::regtype then 'timestamp' when 'date'::regtype then 'date' end as kind
       from pg_attribute where attrelid = $1 and attname = $2 and attnum > 0 and not attisdropped`,
    [oid, rule.column],
  )
  const [partitioning] = await queryRows<{ strategy: string; key: string | null }>(
    client,
    `select p.partstrat as strategy, (select attname from pg_attribute where attrelid = p.partrelid and attnum = p.partattrs[0]) as key from pg_partitioned_table p where p.partrelid = $1`,
    [oid],
  )
  // A partitioned parent has no storage of its own: its size is its partitions'.
  const [size] = await queryRows<{ bytes: string | null; rows: number }>(
    client,
    `with rels as (select $1::oid as oid union all select inhrelid from pg_inherits where inhparent = $1)
     select (select sum(pg_total_relation_size(oid)) from rels) as bytes, greatest((select sum(reltuples) from pg_class where oid in (select oid from rels) and reltuples > 0), 0)::float8 as rows`,
    [oid],
  )
  return { exists: true, column, partitioning, bytes: Number(size?.bytes ?? 0), rows: Number(size?.rows ?? 0) }
}

/** Applies one rule, filling `result` as it goes: what was done before an error is still reported. */
async function applyRule(client: Client, target: Target, config: Readonly<Config>, run: StepRun, budgetEnds: number, result: RuleResult): Promise<void> {
  const settings = config.retention
  const { cutoff } = target
  const partitioned = target.method === 'partitions'
  const statementTimeoutMs = Math.round(settings.batchTimeoutSeconds * 1000)
  const mark = partitioned ? detachedMark(await parentIdentity(client, target.table)) : ''
  if (partitioned) result.detachedMark = mark
  const { expired, pendingLeftAlone } = partitioned
    ? await expiredPartitions(client, target.table, cutoff, mark, { type: target.columnType, kind: target.kind })
    : { expired: [], pendingLeftAlone: [] }
  result.pendingDetachLeftAlone = pendingLeftAlone.map((p) => p.name)
  if (partitioned)
    result.unmarkedDetachedTables = await unmarkedDetached(client, target.table, target.column, cutoff, {
      lockTimeoutMs: settings.lockTimeoutMs,
      statementTimeoutMs,
    })
  if (run.dryRun) {
    await client.query(`set statement_timeout = ${statementTimeoutMs}`)
    const expiredNames = expired.map((p) => p.name)
    const marked = partitioned ? await markedDetached(client, target.table, mark) : []
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
  if (partitioned) {
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
      shouldStop: () => stopReason(run.signal.aborted, Date.now(), budgetEnds),
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
      `retention of ${result.table}: batch ${error.batch} failed: ${describeError(error.cause)}`,
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

export const retention: StepDefinition<MaintenanceContext, RetentionData> = {
  run: ({ config, startedAt }, run) =>
    withPostgres(
      config.postgres,
      async (client) => {
        const budgetEnds = Date.now() + config.retention.budgetSeconds * 1000
        const rules: RuleResult[] = []
        const findings: Finding[] = []
        // One rule's failure does not hide the others' results, nor stop them.
        for (const rule of config.retention.rules) {
          const result = emptyRuleResult(rule, cutoffFor(rule, startedAt))
          let hint: string | undefined
          try {
            const plan = planRule(rule, startedAt, await tableFacts(client, rule))
            await applyRule(client, { ...plan, table: quoteIdent(rule.table), column: quoteIdent(rule.column) }, config, run, budgetEnds, result)
          } catch (error) {
            result.error = error instanceof StepFailure ? error.message : `retention of ${rule.table}: ${describeError(error)}`
            hint = hintOf(error)
          }
          rules.push(result)
          findings.push(...ruleFindings(result, hint))
        }
        const stopped = rules.find((r) => r.stoppedBy)
        const summary = run.dryRun
          ? rules.map(planSummary).join('; ')
          : rules.map(ruleSummary).join('; ') + (stopped ? `; stopped by the ${stopped.stoppedBy}` : '')
        return { summary, findings, data: { rules } }
      },
      { statementTimeoutMs: 0 },
    ),
}
