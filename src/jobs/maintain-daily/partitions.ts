import type { Client } from 'pg'
import { queryRows } from '../../systems/postgres.js'
import type { TimeKind } from './retention-plan.js'

/**
 * Retention of a table partitioned by its time column reads the catalog here: the partitions and
 * their bounds, which of them are wholly older than the cutoff, and the tables earlier runs (or
 * older versions) detached and did not get to drop. partition-drops.ts detaches and drops them.
 */

/**
 * Marks a partition retention has detached, so that a run that dies before dropping it is
 * finished by the next. It names the parent (schema-qualified): a mark is only ever honoured for
 * the rule of that parent, never for a table elsewhere in the database that carries a mark.
 */
export function detachedMark(parent: string): string {
  return `probe-ops retention: detached from ${parent}, to be dropped`
}

/**
 * The mark of versions before the parent was named in it. Still honoured, but only for a table
 * attached to nothing in the parent's schema and named `<parent>_…`.
 */
export const LEGACY_DETACHED_MARK = 'probe-ops retention: detached, to be dropped'

/** The parent's schema-qualified name, as it goes into the mark. */
export async function parentIdentity(client: Client, table: string): Promise<string> {
  const [row] = await queryRows<{ name: string }>(
    client,
    `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = $1::regclass`,
    [table],
  )
  return row!.name
}

export interface Partition {
  name: string
  /** The exclusive upper bound as PostgreSQL prints it, null for the default partition. */
  upper: string | null
  pendingDetach: boolean
  isDefault: boolean
  comment: string | null
}

export interface ExpiredPartitions {
  /** Ours to detach or finalize and drop, oldest first. */
  expired: Partition[]
  /**
   * Partitions left "detach pending" that are not ours to finish: unmarked (a DBA's cancelled
   * DETACH CONCURRENTLY), the default partition, or not wholly older than the cutoff.
   */
  pendingLeftAlone: Partition[]
}

export async function partitions(client: Client, table: string): Promise<Partition[]> {
  const rows = await queryRows<{ name: string; bound: string; pending: boolean; comment: string | null }>(
    client,
    `select c.oid::regclass::text as name, pg_get_expr(c.relpartbound, c.oid) as bound, i.inhdetachpending as pending, obj_description(c.oid, 'pg_class') as comment
       from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass`,
    [table],
  )
  return rows.map((r) => {
    const upper = /TO \('([^']+)'\)\s*$/.exec(r.bound)
    return { name: r.name, upper: upper ? upper[1]! : null, pendingDetach: r.pending, isDefault: r.bound === 'DEFAULT', comment: r.comment }
  })
}

/**
 * Partitions wholly older than the cutoff (their upper bound, exclusive, at or before it), oldest
 * first. One left "detach pending" is ours to finish only if it carries our mark and is expired:
 * an earlier run killed or timed out mid-detach. Any other is pointed out and left alone.
 */
export async function expiredPartitions(
  client: Client,
  table: string,
  cutoff: Date,
  mark: string,
  column: { type: string; kind: TimeKind },
): Promise<ExpiredPartitions> {
  const all = await partitions(client, table)
  const bounded = all.filter((p) => p.upper)
  // Bounds read as the column's values, the cutoff in the windows' convention: a value without a
  // time zone is UTC (retention-batches.ts sends the cutoff as UTC text, which such a column
  // reads without its zone), whatever the session's TimeZone.
  const limit = column.kind === 'timestamptz' ? '$3::timestamptz' : `($3::timestamptz at time zone 'UTC')::${column.type}`
  const old = bounded.length
    ? await queryRows<{ name: string }>(
        client,
        `select b.name from unnest($1::text[], $2::text[]) b(name, upper) where b.upper::${column.type} <= ${limit} order by b.upper::${column.type}`,
        [bounded.map((p) => p.name), bounded.map((p) => p.upper), cutoff.toISOString()],
      )
    : []
  const byName = new Map(all.map((p) => [p.name, p]))
  const expired = new Set(old.map((r) => r.name))
  const ours = (p: Partition): boolean => expired.has(p.name) && (p.comment === mark || p.comment === LEGACY_DETACHED_MARK)
  const pending = all.filter((p) => p.pendingDetach)
  return {
    expired: [...pending.filter(ours), ...old.map((r) => byName.get(r.name)!).filter((p) => !p.pendingDetach)],
    pendingLeftAlone: pending.filter((p) => !ours(p)),
  }
}

/** Tables an earlier run detached from `table` and marked but did not get to drop. */
export async function markedDetached(client: Client, table: string, mark: string): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    client,
    `with parent as (select oid, relname, relnamespace from pg_class where oid = $1::regclass)
     select c.oid::regclass::text as name from pg_class c, parent p
      where c.relkind = 'r' and not c.relispartition and c.oid <> p.oid
        and not exists (select 1 from pg_inherits i where i.inhrelid = c.oid or i.inhparent = c.oid)
        and (obj_description(c.oid, 'pg_class') = $2
             or (obj_description(c.oid, 'pg_class') = $3 and c.relnamespace = p.relnamespace and left(c.relname, length(p.relname) + 1) = p.relname || '_'))
      order by c.relname`,
    [table, mark, LEGACY_DETACHED_MARK],
  )
  return rows.map((r) => r.name)
}

/**
 * Tables that look like partitions of `table` detached by a version of probe-ops that did not
 * mark them yet (before 217523c): in the parent's schema, named `<parent>_…`, the parent's columns
 * exactly, attached to nothing, unmarked, and holding rows, all older than the cutoff. That is
 * enough to point them out but not to drop them: an archive copy can look the same.
 */
export async function unmarkedDetached(
  client: Client,
  table: string,
  column: string,
  cutoff: Date,
  timeouts: { lockTimeoutMs: number; statementTimeoutMs: number },
): Promise<string[]> {
  // Before the first look: a candidate may be big, or locked by someone else.
  await client.query(`set lock_timeout = ${timeouts.lockTimeoutMs}`)
  await client.query(`set statement_timeout = ${timeouts.statementTimeoutMs}`)
  const candidates = await queryRows<{ name: string }>(
    client,
    `with parent as (select oid, relname, relnamespace from pg_class where oid = $1::regclass),
          columns as (select attrelid, string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' order by attname) as list
                        from pg_attribute where attnum > 0 and not attisdropped group by attrelid)
     select c.oid::regclass::text as name
       from pg_class c join parent p on c.relnamespace = p.relnamespace and c.oid <> p.oid
       join columns cc on cc.attrelid = c.oid join columns pc on pc.attrelid = p.oid
      where c.relkind = 'r' and not c.relispartition
        and left(c.relname, length(p.relname) + 1) = p.relname || '_'
        and cc.list = pc.list
        and obj_description(c.oid, 'pg_class') is null
        and not exists (select 1 from pg_inherits i where i.inhrelid = c.oid or i.inhparent = c.oid)
      order by c.relname`,
    [table],
  )
  const old: string[] = []
  for (const { name } of candidates) {
    try {
      const [row] = await queryRows<{ old: boolean }>(
        client,
        `select exists (select 1 from ${name}) and not exists (select 1 from ${name} where ${column} >= $1) as old`,
        [cutoff.toISOString()],
      )
      if (row?.old) old.push(name)
    } catch {
      // Locked, too big to look at in time, or a different column type: not pointed out.
    }
  }
  return old
}
