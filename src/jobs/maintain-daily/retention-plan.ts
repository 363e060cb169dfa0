/**
 * Retention's decisions, apart from the SQL that carries them out: each rule's cutoff, whether
 * its table loses whole partitions or rows in batches, how wide each batch's time window is, and
 * when the run stops before it is done. Pure, so that they are tested without a database.
 */

import type { Config } from '../../config/load.js'
import { StepFailure } from '../../errors.js'

export type RetentionRule = Config['retention']['rules'][number]

/** How a column holds time: date columns get whole-day windows. */
export type TimeKind = 'timestamptz' | 'timestamp' | 'date'

const DAY_MS = 86_400_000
/** A window grows at most this much from one batch to the next: a gap in the data is no promise about what follows. */
const MAX_GROWTH = 4

/** Rows older than this go. Fixed by the run's start, so every rule and every batch ages rows by the same clock. */
export function cutoffFor(rule: Pick<RetentionRule, 'days'>, startedAt: Date): Date {
  return new Date(startedAt.getTime() - rule.days * DAY_MS)
}

/** What the catalog says of a rule's table and column. */
export interface TableFacts {
  exists: boolean
  /** The rule's column, when the table has it: its type as printed, and as a kind of time (null: not time). */
  column?: { type: string; kind: TimeKind | null }
  /** How the table is partitioned, when it is: pg_partitioned_table's strategy and first key column. */
  partitioning?: { strategy: string; key: string | null }
  /** The table's size and the planner's row count, its partitions' included. */
  bytes: number
  rows: number
}

export interface RulePlan {
  cutoff: Date
  /**
   * A table range-partitioned by the rule's column loses whole partitions wholly older than the
   * cutoff (detach, drop: no row-by-row delete), and only the partition the cutoff falls in is
   * deleted from in batches. Any other table is deleted from in batches.
   */
  method: 'partitions' | 'batches'
  kind: TimeKind
  /** The column's type as printed: partition bounds are read as its values. */
  columnType: string
  /** What a deleted row gives back, on average, once vacuumed. */
  bytesPerRow: number
}

/** How to apply a rule to its table, or a failure that says what in the rule to fix. */
export function planRule(rule: RetentionRule, startedAt: Date, facts: TableFacts): RulePlan {
  const fix = 'fix retention.rules in the configuration'
  if (!facts.exists) throw new StepFailure(`retention rule: table "${rule.table}" does not exist`, fix)
  if (!facts.column) throw new StepFailure(`retention rule: table "${rule.table}" has no column "${rule.column}"`, fix)
  const { type, kind } = facts.column
  if (!kind) throw new StepFailure(`retention rule: "${rule.table}.${rule.column}" is ${type}, not a timestamp or date`, 'name the column rows age by')
  const byRange = facts.partitioning?.strategy === 'r' && facts.partitioning.key === rule.column
  return {
    cutoff: cutoffFor(rule, startedAt),
    method: byRange ? 'partitions' : 'batches',
    kind,
    columnType: type,
    bytesPerRow: facts.rows > 0 ? facts.bytes / facts.rows : 0,
  }
}

/** The narrowest window: 1 ms, or one day for a date column (a narrower one would cover [D, D)). */
export function minWidth(kind: TimeKind): number {
  return kind === 'date' ? DAY_MS : 1
}

/** A width the column can tell apart: whole milliseconds, or whole days for a date column. */
export function fit(kind: TimeKind, width: number): number {
  const min = minWidth(kind)
  return Math.max(min, Math.floor(width / min) * min)
}

/**
 * The first window, from the planner's estimate of the rows between the oldest row and the
 * cutoff: no rows are read. Half the width the estimate says holds targetRows, so that a poor
 * estimate more likely costs one more batch than a rollback.
 */
export function firstWidth(kind: TimeKind, spanMs: number, estimatedRows: number, targetRows: number): number {
  if (estimatedRows <= targetRows) return fit(kind, spanMs)
  return fit(kind, (spanMs * targetRows) / estimatedRows / 2)
}

/**
 * The next window after a batch: the width that would have held targetRows rows and taken
 * targetMs, whichever is narrower, growing at most MAX_GROWTH times. After an empty window (a gap
 * in the data that the next row does not end) it grows by MAX_GROWTH.
 */
export function nextWidth(kind: TimeKind, width: number, batch: { rows: number; ms: number }, target: { rows: number; ms: number }): number {
  if (batch.rows === 0) return fit(kind, width * MAX_GROWTH)
  const byRows = (width * target.rows) / batch.rows
  const byTime = batch.ms > 0 ? (width * target.ms) / batch.ms : byRows
  return fit(kind, Math.min(byRows, byTime, width * MAX_GROWTH))
}

/** A window that would delete more than this is a burst: rolled back and retried narrower. */
export function overCap(rows: number, targetRows: number): boolean {
  return rows > 2 * targetRows
}

/** The window a burst of `rows` is retried in: the width that holds targetRows of them. */
export function narrowedWidth(kind: TimeKind, width: number, rows: number, targetRows: number): number {
  return fit(kind, (width * targetRows) / rows)
}

/** The window a batch that timed out (statement or lock) is retried in. */
export function halvedWidth(kind: TimeKind, width: number): number {
  return fit(kind, width / 2)
}

/** Why retention stops before it is done, checked before each batch: the job was cut, or its own budget ran out. */
export function stopReason(cut: boolean, now: number, budgetEnds: number): 'timeout' | 'budget' | undefined {
  if (cut) return 'timeout'
  return now >= budgetEnds ? 'budget' : undefined
}
