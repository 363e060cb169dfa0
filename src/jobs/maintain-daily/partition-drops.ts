import type { Client } from 'pg'
import { sleep } from '../../lib/time.js'
import { queryRows, quoteIdent, sqlState } from '../../systems/postgres.js'
import { markedDetached, partitions, type Partition } from './partitions.js'

/**
 * Retention of a table partitioned by its time column: partitions wholly older than the cutoff
 * are detached and dropped here, never deleted row by row.
 *
 * Dropping a detached partition removes its foreign keys' triggers from the tables they point
 * at (tasks, agents), which takes ACCESS EXCLUSIVE on each of them. Behind any other lock on
 * such a table (a report reading it in a transaction, an idle transaction, pg_dump) that request
 * waits, and every insert into the partitioned table (its key check locks the same table) queues
 * behind the waiting request. So a lock a long transaction holds is not asked for at all, and
 * otherwise with a very short lock_timeout, a few times with pauses between; if it is still not
 * granted, the partition stays detached and marked, the run says so, and the next run drops it.
 */

/** The longest one attempt waits for a lock: what an insert queued behind it may wait. */
const DROP_LOCK_TIMEOUT_MS = 50
/** The pauses between attempts: eight attempts over about 3 s before the drop is left to the next run. */
const DROP_RETRY_PAUSES_MS = [50, 100, 200, 300, 500, 800, 1000]

export interface DroppedPartition {
  name: string
  /** pg_class.reltuples: the planner's row count, exact after a VACUUM or ANALYZE. */
  estimatedRows: number
  bytes: number
}

/** A drop that did not get its lock in time: what to tell the operator. */
export interface BlockedDrop {
  partition: string
  /**
   * Where the partition was left: detached (the drop was blocked), or detach pending (the detach
   * waited too long for transactions that have the parent open; the next run finalizes it).
   */
  stage: 'detached' | 'detach pending'
  /** The table whose lock was not granted (a foreign key's target, the partition itself, or the parent). */
  lockedTable: string
  attempts: number
  waitedMs: number
  /** The sessions that held a lock on lockedTable when retention gave up. */
  holders: { pid: number; application: string; state: string | null; transactionSeconds: number | null }[]
}

export interface PartitionRetention {
  dropped: DroppedPartition[]
  /** The first drop that stayed blocked; retention detached nothing more after it. */
  blocked?: BlockedDrop
  /** Expired partitions still attached because a drop was blocked; the next run takes them. */
  leftAttached: Partition[]
}

interface Attempt {
  deadline: number
  signal: AbortSignal
}

/**
 * The session the drops run on, with its lock_timeout as last set here: each partition alternates
 * between two values, and a SET that changes nothing is one more round trip per statement. One per
 * dropExpiredPartitions() call, since other code sets lock_timeout on the same session between calls.
 */
class DropSession {
  #lockTimeoutMs?: number

  constructor(readonly client: Client) {}

  async setLockTimeout(ms: number): Promise<void> {
    if (this.#lockTimeoutMs === ms) return
    await this.client.query(`set lock_timeout = ${ms}`)
    this.#lockTimeoutMs = ms
  }
}

/** A transaction this old that holds a lock on the table will not let go within an attempt. */
const LONG_HOLDER_SECONDS = 1

/** Whether a transaction older than LONG_HOLDER_SECONDS holds a lock on the table. */
async function heldByLongTransaction(client: Client, table: string): Promise<boolean> {
  const [row] = await queryRows<{ held: boolean }>(
    client,
    `select exists (select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid
                     where l.locktype = 'relation' and l.relation = $1::regclass and l.granted and l.pid <> pg_backend_pid()
                       and a.xact_start < clock_timestamp() - make_interval(secs => $2)) as held`,
    [table, LONG_HOLDER_SECONDS],
  )
  return row?.held ?? false
}

/**
 * Runs a statement that needs ACCESS EXCLUSIVE on `locks`, which others may hold. Each attempt
 * waits at most DROP_LOCK_TIMEOUT_MS (short holders, such as the inserts themselves, let go by
 * then). After a failed one, no further attempt is made while a long transaction holds the
 * table: a request that cannot be granted only makes the platform's inserts queue behind it.
 * The first attempt does not look, so an uncontended drop costs no extra query. Returns whether
 * the lock was granted, the attempts (looks and tries) and the time spent.
 */
async function withShortLockWaits(
  session: DropSession,
  sql: string,
  locks: string,
  attempt: Attempt,
): Promise<{ granted: boolean; attempts: number; waitedMs: number }> {
  const { client } = session
  const started = Date.now()
  await session.setLockTimeout(DROP_LOCK_TIMEOUT_MS)
  for (let n = 1; ; n++) {
    if (n === 1 || !(await heldByLongTransaction(client, locks))) {
      try {
        await client.query(sql)
        return { granted: true, attempts: n, waitedMs: Date.now() - started }
      } catch (error) {
        if (sqlState(error) !== '55P03') throw error
      }
    }
    const pause = DROP_RETRY_PAUSES_MS[n - 1]
    if (pause === undefined || attempt.signal.aborted || Date.now() + pause + DROP_LOCK_TIMEOUT_MS > attempt.deadline)
      return { granted: false, attempts: n, waitedMs: Date.now() - started }
    await sleep(pause)
  }
}

async function lockHolders(client: Client, table: string): Promise<BlockedDrop['holders']> {
  // No query text: another session's statement may carry data that must not reach a report.
  return queryRows(
    client,
    `select distinct l.pid, coalesce(a.application_name, '') as application, a.state,
            round(extract(epoch from clock_timestamp() - a.xact_start))::int as "transactionSeconds"
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'relation' and l.relation = $1::regclass and l.granted and l.pid <> pg_backend_pid()
      order by l.pid`,
    [table],
  )
}

/**
 * Drops a detached partition without ever holding two of the tables its foreign keys point at:
 * the platform's inserts lock them (for their key checks) in one order and a plain DROP TABLE
 * in another, which deadlocks. Each foreign key is dropped on its own first, then the table.
 */
async function dropDetached(session: DropSession, name: string, attempt: Attempt): Promise<DroppedPartition | BlockedDrop> {
  const { client } = session
  const [size] = await queryRows<{ rows: number; bytes: string; keys: { name: string; target: string }[] }>(
    client,
    `select greatest(c.reltuples, 0)::float8 as rows, pg_total_relation_size(c.oid) as bytes,
            coalesce((select json_agg(json_build_object('name', k.conname, 'target', k.confrelid::regclass::text) order by k.oid)
                        from pg_constraint k where k.conrelid = c.oid and k.contype = 'f'), '[]') as keys
       from pg_class c where c.oid = $1::regclass`,
    [name],
  )
  const keys = size?.keys ?? []
  const steps = [
    ...keys.map((fk) => ({ sql: `alter table ${name} drop constraint ${quoteIdent(fk.name)}`, locks: fk.target })),
    { sql: `drop table ${name}`, locks: name },
  ]
  let waitedMs = 0
  for (const step of steps) {
    const outcome = await withShortLockWaits(session, step.sql, step.locks, attempt)
    waitedMs += outcome.waitedMs
    if (!outcome.granted)
      return {
        partition: name,
        stage: 'detached',
        lockedTable: step.locks,
        attempts: outcome.attempts,
        waitedMs,
        holders: await lockHolders(client, step.locks),
      }
  }
  return { name, estimatedRows: Math.round(Number(size?.rows ?? 0)), bytes: Number(size?.bytes ?? 0) }
}

function isBlocked(outcome: DroppedPartition | BlockedDrop): outcome is BlockedDrop {
  return 'lockedTable' in outcome
}

/** Whether a partition is still attached, attached but detach pending, or detached. */
async function attachment(client: Client, table: string, name: string): Promise<'attached' | 'detach pending' | 'detached'> {
  const [row] = await queryRows<{ pending: boolean }>(
    client,
    `select inhdetachpending as pending from pg_inherits where inhparent = $1::regclass and inhrelid = $2::regclass`,
    [table, name],
  )
  return !row ? 'detached' : row.pending ? 'detach pending' : 'attached'
}

export interface DropOptions {
  /** The parent's mark (detachedMark()). */
  mark: string
  detachLockTimeoutMs: number
  /** A partition someone else left detach pending: CONCURRENTLY is refused beside it. */
  foreignPending: boolean
}

/**
 * Drops what earlier runs left detached, then detaches (marking first) and drops each expired
 * partition, oldest first. Once a drop stays blocked, nothing more is detached: the rest would
 * only wait on the same lock. Fills `result` as it goes, so that what was dropped before an
 * unexpected error is still reported.
 */
export async function dropExpiredPartitions(
  client: Client,
  table: string,
  expired: Partition[],
  options: DropOptions,
  attempt: Attempt,
  result: PartitionRetention,
): Promise<PartitionRetention> {
  const session = new DropSession(client)
  const finish = async (name: string): Promise<boolean> => {
    const outcome = await dropDetached(session, name, attempt)
    if (isBlocked(outcome)) {
      result.blocked = outcome
      return false
    }
    result.dropped.push(outcome)
    return true
  }
  for (const name of await markedDetached(client, table, options.mark)) {
    if (!(await finish(name))) {
      result.leftAttached = expired
      return result
    }
  }
  const hasDefault = (await partitions(client, table)).some((p) => p.isDefault)
  // The parent as pg_locks and the report name it (`table` is quoted for SQL).
  const [{ parent }] = (await queryRows<{ parent: string }>(client, 'select $1::regclass::text as parent', [table])) as [{ parent: string }]
  for (const [i, p] of expired.entries()) {
    await session.setLockTimeout(options.detachLockTimeoutMs)
    await client.query(`comment on table ${p.name} is '${options.mark}'`)
    const started = Date.now()
    try {
      if (p.pendingDetach) await client.query(`alter table ${table} detach partition ${p.name} finalize`)
      else if (!hasDefault && !options.foreignPending) await client.query(`alter table ${table} detach partition ${p.name} concurrently`)
      else {
        // Without CONCURRENTLY (not allowed beside a default partition) the detach takes ACCESS
        // EXCLUSIVE on the parent itself: the same short waits as the drops.
        const detached = await withShortLockWaits(session, `alter table ${table} detach partition ${p.name}`, table, attempt)
        if (!detached.granted) {
          await client.query(`comment on table ${p.name} is null`)
          result.blocked = {
            partition: p.name,
            stage: 'detached',
            lockedTable: parent,
            attempts: detached.attempts,
            waitedMs: detached.waitedMs,
            holders: await lockHolders(client, table),
          }
          result.leftAttached = expired.slice(i)
          return result
        }
      }
    } catch (error) {
      const state = sqlState(error)
      const where = await attachment(client, table, p.name).catch(() => undefined)
      // Not detached at all: the mark would make a later run take a partition it never detached.
      if (where === 'attached') await client.query(`comment on table ${p.name} is null`).catch(() => undefined)
      if ((state !== '55P03' && state !== '57014') || where === undefined) throw error
      // Transactions that have the parent open outlasted lock_timeout: the partition stays
      // pending and marked (the next run finalizes it), or attached if it never got that far.
      const holders = await lockHolders(client, table)
      const waitedMs = Date.now() - started
      if (where === 'attached') {
        result.blocked = { partition: p.name, stage: 'detached', lockedTable: parent, attempts: 1, waitedMs, holders }
        result.leftAttached = expired.slice(i)
        return result
      }
      if (where === 'detach pending') {
        result.blocked = { partition: p.name, stage: 'detach pending', lockedTable: parent, attempts: 1, waitedMs, holders }
        result.leftAttached = expired.slice(i + 1)
        return result
      }
      // Detached after all: drop it as usual.
    }
    if (!(await finish(p.name))) {
      result.leftAttached = expired.slice(i + 1)
      return result
    }
  }
  return result
}
