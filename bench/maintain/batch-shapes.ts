/**
 * Where the retention step's time goes (bench/maintain-daily.ts, section A′): the same batched
 * delete issued from this process, without probe-ops' start-up, in these shapes:
 *
 *   single     the guide's one DELETE;
 *   probe-ops  what retention.ts does now: src/jobs/maintain-daily/retention-batches.ts's
 *              deleteInTimeWindows() itself (adaptive time windows, one range DELETE each,
 *              begin/commit around it), with batchTargetMs 500 (the default);
 *   key-cte    the statement retention.ts sent for each batch from 217523c until the time
 *              windows (its batchSql(), key column `id`): one statement that finds the batch's
 *              last key (CTE `last`: the next n keys in (execution_time, id) order, the greatest
 *              of them) and deletes the key range up to it;
 *   join       the statement retention.ts sent before 217523c: select the batch's keys, then
 *              delete by a join back on (id, execution_time), one index probe per row;
 *   range      the same batches as key ranges in two statements: find the batch's last key with
 *              an index scan (OFFSET n-1), then DELETE WHERE (execution_time, id) > cursor AND
 *              <= that key.
 * Each batch is its own transaction (autocommit), as in probe-ops.
 */
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import { deleteInTimeWindows } from '../../src/jobs/maintain-daily/retention-batches.js'

export type Shape = 'single' | 'probe-ops' | 'key-cte' | 'join' | 'range'

export interface ShapeResult {
  ms: number
  rows: number
  batches: number
  longestMs: number
}

/** retention.ts batchSql() for a table with a key column, from 217523c until the time windows. */
function keyCteBatchSql(first: boolean): string {
  const after = first ? '' : 'and (execution_time, id) > ($3::timestamp with time zone, $4)'
  return `with last as (
                 select t, k from (select execution_time as t, id as k from task_results where execution_time < $1 ${after} order by execution_time, id limit $2) batch
                  order by t desc, k desc limit 1),
               deleted as (
                 delete from task_results where execution_time < $1 ${after} and (execution_time, id) <= (select t, k from last) returning 1)
          select (select count(*) from deleted)::int as n, (select t::text from last) as last_time, (select k::text from last) as last_key`
}

/** retention.ts batchSql() before 217523c (select the keys, delete by joining back). */
function joinBatchSql(first: boolean): string {
  const after = first ? '' : 'and (execution_time, id) > ($3::timestamptz, $4)'
  return `with batch as (select execution_time as t, id as k from task_results where execution_time < $1 ${after} order by execution_time, id limit $2),
               deleted as (delete from task_results d using batch where d.id = batch.k and d.execution_time = batch.t returning 1),
               last as (select t::text as last_time, k::text as last_key from batch order by t desc, k desc limit 1)
          select (select count(*) from deleted)::int as n, last.last_time, last.last_key from (select 1) one left join last on true`
}

const MAX_BATCHES = 100_000

export async function runShape(client: pg.Client, shape: Shape, cutoff: Date, batchRows: number): Promise<ShapeResult> {
  const c = cutoff.toISOString()
  let rows = 0
  let batches = 0
  let longestMs = 0
  const t0 = performance.now()
  if (shape === 'single') {
    const r = await client.query('delete from task_results where execution_time < $1', [c])
    rows = r.rowCount ?? 0
    batches = 1
    longestMs = performance.now() - t0
  } else if (shape === 'probe-ops') {
    const r = await deleteInTimeWindows(client, {
      table: 'task_results',
      column: 'execution_time',
      kind: 'timestamptz',
      cutoff,
      targetRows: batchRows,
      targetMs: 500,
      pauseMs: 0,
      lockTimeoutMs: 2000,
      statementTimeoutMs: 30_000,
      shouldStop: () => undefined,
    })
    rows = r.deleted
    batches = r.batches
    longestMs = r.longestBatchMs
  } else if (shape === 'key-cte' || shape === 'join') {
    const batchSql = shape === 'key-cte' ? keyCteBatchSql : joinBatchSql
    let cursor: [string, string] | undefined
    while (batches < MAX_BATCHES) {
      const t = performance.now()
      const row = (
        await client.query<{ n: number; last_time: string | null; last_key: string | null }>(
          batchSql(!cursor),
          cursor ? [c, batchRows, ...cursor] : [c, batchRows],
        )
      ).rows[0]!
      longestMs = Math.max(longestMs, performance.now() - t)
      if (row.n === 0) break
      rows += row.n
      batches++
      if (row.last_time === null || row.last_key === null || row.n < batchRows) break
      cursor = [row.last_time, row.last_key]
    }
  } else {
    let cursor: [string, string] | undefined
    while (batches < MAX_BATCHES) {
      const t = performance.now()
      const after = cursor ? 'and (execution_time, id) > ($2::timestamptz, $3)' : ''
      const upper = (
        await client.query<{ t: string; k: string }>(
          `select execution_time::text as t, id::text as k from task_results where execution_time < $1 ${after} order by execution_time, id offset ${batchRows - 1} limit 1`,
          cursor ? [c, ...cursor] : [c],
        )
      ).rows[0]
      const r = upper
        ? await client.query(
            `delete from task_results where execution_time < $1 ${after.replace('$2', '$4').replace('$3', '$5')} and (execution_time, id) <= ($2::timestamptz, $3)`,
            cursor ? [c, upper.t, upper.k, ...cursor] : [c, upper.t, upper.k],
          )
        : await client.query(`delete from task_results where execution_time < $1 ${after}`, cursor ? [c, ...cursor] : [c])
      longestMs = Math.max(longestMs, performance.now() - t)
      rows += r.rowCount ?? 0
      batches++
      if (!upper) break
      cursor = [upper.t, upper.k]
    }
  }
  return { ms: performance.now() - t0, rows, batches, longestMs }
}
