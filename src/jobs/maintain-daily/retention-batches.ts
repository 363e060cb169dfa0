import type { Client } from 'pg'
import { queryRows, sqlState } from '../../systems/postgres.js'
import { sleep } from '../../lib/time.js'

/**
 * Deletes the rows older than a cutoff in time windows: each batch is one
 * `DELETE … WHERE t >= lo AND t < hi` in its own transaction, and the next starts at the last
 * one's `hi`. A window is one walk of the time index over the rows it deletes, the same per-row
 * cost as one big DELETE; finding a batch's end by its n-th key (the shape before) read each
 * batch twice, index and heap, and sorted it.
 *
 * The width adapts to the data: from the previous batch's rows and duration the next window aims
 * at `targetRows` and `targetMs`, growing at most 4x at a time. A window that deletes more than
 * twice targetRows (a burst of rows) is rolled back and retried narrower, so no committed batch
 * exceeds that cap; one that runs into statement_timeout or lock_timeout is retried at half the
 * width. Half-open windows tile the time axis, so ties in the time column need no tie-breaker
 * and a run killed at any moment leaves only whole windows done: the next run starts again at
 * the oldest row left.
 */

export interface WindowedDelete {
  /** Quoted table and time column. */
  table: string
  column: string
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
  /** Windows rolled back or retried (a burst over the cap, a timeout). */
  retries: number
  stoppedBy?: 'budget' | 'timeout'
}

const RETRIES = 3
const MAX_GROWTH = 4
const MIN_WIDTH_MS = 1

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

/**
 * The first window's width from the planner's row estimate for the whole old range: no rows are
 * read. Half of it, so that a poor estimate more likely costs one more batch than a rollback.
 */
async function firstWidth(client: Client, job: WindowedDelete, lo: number, cutoff: number): Promise<number> {
  const [plan] = await queryRows<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    client,
    `explain (format json) select from ${job.table} where ${job.column} >= $1 and ${job.column} < $2`,
    [new Date(lo).toISOString(), job.cutoff.toISOString()],
  )
  const estimated = plan?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0
  const span = cutoff - lo
  if (estimated <= job.targetRows) return span
  return Math.max(MIN_WIDTH_MS, Math.floor((span * job.targetRows) / estimated / 2))
}

export async function deleteInTimeWindows(client: Client, job: WindowedDelete): Promise<WindowedDeleteResult> {
  const result: WindowedDeleteResult = { deleted: 0, batches: 0, longestBatchMs: 0, retries: 0 }
  await client.query(`set lock_timeout = ${job.lockTimeoutMs}`)
  await client.query(`set statement_timeout = ${job.statementTimeoutMs}`)
  const cutoff = job.cutoff.getTime()
  let lo = await oldest(client, job, job.floor?.getTime())
  if (lo === undefined) return result
  let width = await firstWidth(client, job, lo, cutoff)
  const sql = `delete from ${job.table} where ${job.column} >= $1 and ${job.column} < $2`
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
    const started = performance.now()
    let rows: number
    try {
      await client.query('begin')
      rows = (await client.query(sql, params)).rowCount ?? 0
      if (rows > 2 * job.targetRows && width > MIN_WIDTH_MS) {
        await client.query('rollback')
        result.retries++
        width = Math.max(MIN_WIDTH_MS, Math.floor((width * job.targetRows) / rows))
        continue
      }
      await client.query('commit')
    } catch (error) {
      await client.query('rollback').catch(() => undefined)
      const state = sqlState(error)
      // A window that waited too long for a row lock, or ran past its bound, is retried narrower.
      if ((state === '55P03' || state === '57014') && attempt < RETRIES) {
        attempt++
        result.retries++
        width = Math.max(MIN_WIDTH_MS, Math.floor(width / 2))
        await sleep(Math.min(1000, job.lockTimeoutMs))
        continue
      }
      throw new BatchFailure(result.batches + 1, error)
    }
    const ms = performance.now() - started
    attempt = 0
    result.longestBatchMs = Math.max(result.longestBatchMs, Math.round(ms))
    if (rows > 0) {
      result.deleted += rows
      result.batches++
      const byRows = (width * job.targetRows) / rows
      const byTime = ms > 0 ? (width * job.targetMs) / ms : byRows
      width = Math.max(MIN_WIDTH_MS, Math.floor(Math.min(byRows, byTime, width * MAX_GROWTH)))
      lo = hi
    } else {
      // A gap in the data (the platform was down): jump to the next row instead of widening.
      lo = await oldest(client, job, hi)
    }
    if (rows > 0 && job.pauseMs > 0 && lo !== undefined && lo < cutoff) await sleep(job.pauseMs)
  }
  return result
}
