import type { Client } from 'pg'
import { sleep } from '../../lib/time.js'
import { queryRows, sqlState } from '../../systems/postgres.js'
import { firstWidth, halvedWidth, minWidth, narrowedWidth, nextWidth, overCap, type TimeKind } from './retention-plan.js'

/**
 * Deletes the rows older than a cutoff in time windows: each batch is one
 * `DELETE … WHERE t >= lo AND t < hi` in its own transaction, and the next starts at the last
 * one's `hi`. A window is one walk of the time index over the rows it deletes, the same per-row
 * cost as one big DELETE; finding a batch's end by its n-th key (the shape before) read each
 * batch twice, index and heap, and sorted it.
 *
 * The width adapts to the data: from the previous batch's rows and duration the next window aims
 * at `targetRows` and `targetMs`, growing at most 4x at a time (retention-plan.ts). A window that deletes more than
 * twice targetRows (a burst of rows) is rolled back and retried narrower; one that runs into
 * statement_timeout or lock_timeout is retried at half the width. At the narrowest width (1 ms,
 * or one day for a date column) narrowing no longer helps: a burst of rows sharing one
 * timestamp can be any size. Such a window is deleted in chunks of at most targetRows rows
 * picked by ctid, each its own transaction, until it is empty; so no committed batch exceeds
 * twice targetRows. Half-open windows tile the time axis, so ties in the time column need no
 * tie-breaker and a run killed at any moment leaves only whole batches done: the next run starts
 * again at the oldest row left.
 *
 * A date column compares with whole days (a bound sent as a timestamp is cut to its day), so its
 * windows are whole days, starting at midnight UTC: a narrower window would cover [D, D).
 */

export interface WindowedDelete {
  /** Quoted table and time column. */
  table: string
  column: string
  /** How the column holds time: date columns get whole-day windows. */
  kind: TimeKind
  cutoff: Date
  /** Rows older than this are left alone (partitions retention could not drop this run). */
  floor?: Date
  targetRows: number
  targetMs: number
  pauseMs: number
  lockTimeoutMs: number
  statementTimeoutMs: number
  /** Checked before each batch: the reason to stop early, if any. */
  shouldStop(): 'budget' | 'timeout' | undefined
}

export interface WindowedDeleteResult {
  deleted: number
  batches: number
  longestBatchMs: number
  /** The most rows one committed batch deleted. */
  largestBatchRows: number
  /** Windows rolled back or retried (a burst over the cap, a timeout). */
  retries: number
  stoppedBy?: 'budget' | 'timeout'
}

const RETRIES = 3

export class BatchFailure extends Error {
  constructor(
    readonly batch: number,
    override readonly cause: unknown,
  ) {
    super(`batch ${batch} failed`)
  }
}

/** Epoch milliseconds of the oldest row in [from, cutoff), or undefined when there is none. */
async function oldest(client: Client, job: WindowedDelete, from: number | undefined): Promise<number | undefined> {
  const params: unknown[] = [job.cutoff.toISOString()]
  if (from !== undefined) params.push(new Date(from).toISOString())
  const [row] = await queryRows<{ ms: number | null }>(
    client,
    `select (extract(epoch from min(${job.column})) * 1000)::float8 as ms from ${job.table} where ${job.column} < $1${from !== undefined ? ` and ${job.column} >= $2` : ''}`,
    params,
  )
  return row?.ms === null || row?.ms === undefined ? undefined : Math.floor(row.ms)
}

/** The planner's row estimate for the whole old range: no rows are read. */
async function estimatedRows(client: Client, job: WindowedDelete, lo: number): Promise<number> {
  const [plan] = await queryRows<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    client,
    `explain (format json) select from ${job.table} where ${job.column} >= $1 and ${job.column} < $2`,
    [new Date(lo).toISOString(), job.cutoff.toISOString()],
  )
  return plan?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0
}

/**
 * After a batch failed and was rolled back: one that waited too long for a row lock, or ran past
 * its bound, is retried smaller after a pause while tries are left; anything else ends the rule.
 */
async function afterFailedBatch(client: Client, job: WindowedDelete, result: WindowedDeleteResult, error: unknown, attempt: number): Promise<void> {
  await client.query('rollback').catch(() => undefined)
  const state = sqlState(error)
  if ((state !== '55P03' && state !== '57014') || attempt >= RETRIES) throw new BatchFailure(result.batches + 1, error)
  result.retries++
  await sleep(Math.min(1000, job.lockTimeoutMs))
}

/**
 * Deletes the window [lo, hi) in chunks of at most `chunk` rows picked by ctid, each its own
 * transaction, until it is empty. A chunk comes from one table: the table itself, or for a
 * partitioned table the partition of a row still in the window.
 */
async function deleteInChunks(client: Client, job: WindowedDelete, params: string[], result: WindowedDeleteResult): Promise<number> {
  const where = `${job.column} >= $1 and ${job.column} < $2`
  let deleted = 0
  let chunk = job.targetRows
  let attempt = 0
  for (;;) {
    const stop = job.shouldStop()
    if (stop) {
      result.stoppedBy = stop
      return deleted
    }
    const [next] = await queryRows<{ part: string }>(client, `select tableoid::regclass::text as part from ${job.table} where ${where} limit 1`, params)
    if (!next) return deleted
    const started = performance.now()
    let rows: number
    try {
      await client.query('begin')
      rows =
        (await client.query(`delete from ${next.part} where ctid = any(array(select ctid from ${next.part} where ${where} limit ${chunk}))`, params))
          .rowCount ?? 0
      await client.query('commit')
    } catch (error) {
      await afterFailedBatch(client, job, result, error, attempt)
      attempt++
      chunk = Math.max(1, Math.floor(chunk / 2))
      continue
    } finally {
      result.longestBatchMs = Math.max(result.longestBatchMs, Math.round(performance.now() - started))
    }
    attempt = 0
    if (rows > 0) {
      deleted += rows
      result.deleted += rows
      result.batches++
      result.largestBatchRows = Math.max(result.largestBatchRows, rows)
      if (job.pauseMs > 0) await sleep(job.pauseMs)
    }
  }
}

export async function deleteInTimeWindows(client: Client, job: WindowedDelete): Promise<WindowedDeleteResult> {
  const result: WindowedDeleteResult = { deleted: 0, batches: 0, longestBatchMs: 0, largestBatchRows: 0, retries: 0 }
  await client.query(`set lock_timeout = ${job.lockTimeoutMs}`)
  await client.query(`set statement_timeout = ${job.statementTimeoutMs}`)
  const cutoff = job.cutoff.getTime()
  const min = minWidth(job.kind)
  let lo = await oldest(client, job, job.floor?.getTime())
  if (lo === undefined) return result
  let width = firstWidth(job.kind, cutoff - lo, await estimatedRows(client, job, lo), job.targetRows)
  const sql = `delete from ${job.table} where ${job.column} >= $1 and ${job.column} < $2`
  const target = { rows: job.targetRows, ms: job.targetMs }
  let attempt = 0
  while (lo !== undefined && lo < cutoff) {
    const stop = job.shouldStop()
    if (stop) {
      result.stoppedBy = stop
      return result
    }
    const hi = Math.min(lo + width, cutoff)
    // The last window ends at the cutoff itself, sent exactly as the dry run's count uses it.
    const params = [new Date(lo).toISOString(), hi === cutoff ? job.cutoff.toISOString() : new Date(hi).toISOString()]
    if (width <= min) {
      // Narrowing helps no more: bounded chunks until the window is empty.
      const started = performance.now()
      const rows = await deleteInChunks(client, job, params, result)
      if (result.stoppedBy) return result
      width = nextWidth(job.kind, width, { rows, ms: performance.now() - started }, target)
      lo = rows > 0 ? hi : await advance(client, job, lo, hi)
      continue
    }
    const started = performance.now()
    let rows: number
    try {
      await client.query('begin')
      rows = (await client.query(sql, params)).rowCount ?? 0
      if (overCap(rows, job.targetRows)) {
        await client.query('rollback')
        result.retries++
        width = narrowedWidth(job.kind, width, rows, job.targetRows)
        continue
      }
      await client.query('commit')
    } catch (error) {
      await afterFailedBatch(client, job, result, error, attempt)
      attempt++
      width = halvedWidth(job.kind, width)
      continue
    } finally {
      // Every transaction counts, the rolled back and timed out ones too.
      result.longestBatchMs = Math.max(result.longestBatchMs, Math.round(performance.now() - started))
    }
    const ms = performance.now() - started
    attempt = 0
    if (rows > 0) {
      result.deleted += rows
      result.batches++
      result.largestBatchRows = Math.max(result.largestBatchRows, rows)
      width = nextWidth(job.kind, width, { rows, ms }, target)
      lo = hi
    } else {
      // A gap in the data (the platform was down): jump to the next row instead of widening.
      const next = await advance(client, job, lo, hi)
      if (next === lo) width = nextWidth(job.kind, width, { rows: 0, ms }, target)
      lo = next
    }
    if (rows > 0 && job.pauseMs > 0 && lo !== undefined && lo < cutoff) await sleep(job.pauseMs)
  }
  return result
}

/**
 * Where the next window starts after [lo, hi) turned out empty: the oldest row at or after hi.
 * A jump that does not move forward (a bound the column cannot tell from lo) returns lo itself,
 * and the caller widens instead; at the cutoff there is nothing left, which ends the loop.
 */
async function advance(client: Client, job: WindowedDelete, lo: number, hi: number): Promise<number | undefined> {
  const next = await oldest(client, job, hi)
  if (next === undefined) return undefined
  return next > lo ? next : lo
}
