import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Client } from 'pg'
import type { Config } from '../../config/load.js'
import { DAY_MS, ratePerDay } from '../../lib/forecast.js'
import { postgresFailure, queryRows, quoteIdent, sqlState, where, withPostgres } from '../../systems/postgres.js'
import type { DatabaseFacts, MeasuredTable, TableSize } from './facts.js'

/**
 * The database's side of capacity: its size, every table's heap, index and TOAST size (a
 * partitioned table as the sum of its partitions), and for the tables rows age out of
 * (the retention rules' tables, and task_results) the rows per day over the window and the
 * real bytes per row. Row totals come from the planner's statistics and per-day counts from a
 * range scan of the time column's index: never a count(*) over the whole table. Where that
 * range holds more rows than capacity.maxScanRows, or no index leads with the time column,
 * the per-day counts are the planner's estimates too, and the report says so.
 */

const TABLES_SQL = `
select c.oid::int8 as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind,
       coalesce(l.partitions, 0)::int as partitions, coalesce(l.reltuples, 0)::float8 as reltuples, coalesce(l.unanalyzed, false) as unanalyzed,
       coalesce(l.table_bytes, 0)::int8 as table_bytes, coalesce(l.index_bytes, 0)::int8 as index_bytes,
       coalesce(l.toast_bytes, 0)::int8 as toast_bytes, coalesce(l.total_bytes, 0)::int8 as total_bytes,
       coalesce(l.live, 0)::int8 as live, coalesce(l.dead, 0)::int8 as dead, l.last_vacuum
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral (
    select count(*) filter (where x.oid <> c.oid) as partitions,
           sum(greatest(x.reltuples, 0)) as reltuples,
           bool_or(x.reltuples < 0) as unanalyzed,
           sum(pg_table_size(x.oid)) as table_bytes,
           sum(pg_indexes_size(x.oid)) as index_bytes,
           sum(case when x.reltoastrelid <> 0 then pg_total_relation_size(x.reltoastrelid) else 0 end) as toast_bytes,
           sum(pg_total_relation_size(x.oid)) as total_bytes,
           sum(s.n_live_tup) as live, sum(s.n_dead_tup) as dead,
           max(greatest(s.last_autovacuum, s.last_vacuum)) as last_vacuum
      from pg_class x
      left join pg_stat_all_tables s on s.relid = x.oid
     where (c.relkind <> 'p' and x.oid = c.oid)
        or (c.relkind = 'p' and x.oid in (select relid from pg_partition_tree(c.oid) where isleaf))
  ) l
 where c.relkind in ('r', 'p', 'm') and not c.relispartition
   and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
 order by l.total_bytes desc nulls last, 2, 3`

const TIME_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone', 'date'])
const KINDS: Record<string, TableSize['kind']> = { r: 'table', p: 'partitioned', m: 'materialized view' }

/** Tables whose rows get a per-day count: every retention rule's, and task_results by its execution_time. */
export function measuredRules(config: Readonly<Config>): { table: string; column: string; retentionDays: number | null }[] {
  const bare = (name: string) => name.replace(/^public\./i, '').toLowerCase()
  const rules: { table: string; column: string; retentionDays: number | null }[] = config.retention.rules.map((r) => ({
    table: r.table,
    column: r.column,
    retentionDays: r.days,
  }))
  if (!rules.some((r) => bare(r.table) === 'task_results')) rules.unshift({ table: 'task_results', column: 'execution_time', retentionDays: null })
  const seen = new Set<string>()
  return rules.filter((r) => !seen.has(bare(r.table)) && seen.add(bare(r.table)))
}

function displayName(schema: string, name: string): string {
  return schema === 'public' ? name : `${schema}.${name}`
}

async function estimateRows(client: Client, table: string, condition: string, params: unknown[]): Promise<number> {
  const [row] = await queryRows<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    client,
    `explain (format json) select 1 from ${table} where ${condition}`,
    params,
  )
  return Number(row?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0)
}

async function countRows(client: Client, table: string, condition: string, params: unknown[]): Promise<number> {
  const [row] = await queryRows<{ n: string }>(client, `select count(*) as n from ${table} where ${condition}`, params)
  return Number(row?.n ?? 0)
}

/** Runs work with sequential scans off (this session only), so that a range is read through its index. */
async function withoutSeqScan<T>(client: Client, work: () => Promise<T>): Promise<T> {
  await client.query('set enable_seqscan = off')
  try {
    return await work()
  } finally {
    await client.query('reset enable_seqscan')
  }
}

/** The oldest and newest value of an unindexed column, from the planner's histogram (no scan). */
async function histogramEnds(client: Client, schema: string, table: string, column: string): Promise<{ oldest: string | null; newest: string | null }> {
  const [row] = await queryRows<{ bounds: string | null }>(
    client,
    `select histogram_bounds::text as bounds from pg_stats where schemaname = $1 and tablename = $2 and attname = $3 order by inherited desc limit 1`,
    [schema, table, column],
  )
  const values =
    row?.bounds
      ?.replace(/^\{|\}$/g, '')
      .split(',')
      .map((v) => v.replace(/^"|"$/g, '')) ?? []
  const iso = (v: string | undefined) => (v && Number.isFinite(Date.parse(v)) ? new Date(v).toISOString() : null)
  return { oldest: iso(values[0]), newest: iso(values.at(-1)) }
}

async function measureTable(
  client: Client,
  rule: { table: string; column: string; retentionDays: number | null },
  sizes: Map<number, TableSize>,
  now: Date,
  days: number,
  maxScanRows: number,
): Promise<MeasuredTable> {
  const base = { table: rule.table, column: rule.column, windowDays: days, retentionDays: rule.retentionDays }
  const [found] = await queryRows<{ oid: string | null; schema: string | null; name: string | null }>(
    client,
    `select c.oid::int8 as oid, n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)`,
    [quoteIdent(rule.table)],
  )
  if (!found?.oid) return { ...base, state: 'missing', message: `no table ${rule.table} in this database: its growth is not measured` }
  const oid = Number(found.oid)
  const [column] = await queryRows<{ type: string; attnum: number }>(
    client,
    `select format_type(atttypid, atttypmod) as type, attnum from pg_attribute where attrelid = $1 and attname = $2 and attnum > 0 and not attisdropped`,
    [oid, rule.column],
  )
  if (!column || !TIME_TYPES.has(column.type)) {
    return {
      ...base,
      state: 'not-a-timestamp',
      message: `${rule.table}.${rule.column} ${column ? `is ${column.type}, not a timestamp` : 'does not exist'}: rows per day cannot be counted`,
    }
  }
  const table = quoteIdent(rule.table)
  const col = quoteIdent(rule.column)
  const size = sizes.get(oid)
  const rows = size?.rows ?? null
  const perRow = (bytes: number | undefined) => (rows && rows > 0 && bytes !== undefined ? bytes / rows : null)
  const sized = {
    rows,
    totalBytes: size?.totalBytes,
    bytesPerRow: perRow(size?.totalBytes),
    heapBytesPerRow: perRow(size === undefined ? undefined : size.heapBytes + size.toastBytes),
    indexBytesPerRow: perRow(size?.indexBytes),
  }

  const [index] = await queryRows<{ indexed: boolean }>(client, `select exists (select 1 from pg_index where indrelid = $1 and indkey[0] = $2) as indexed`, [
    oid,
    column.attnum,
  ])
  const indexed = index?.indexed ?? false
  let oldestRow: string | null = null
  let newestRow: string | null = null
  let empty: boolean
  if (indexed) {
    // Two index end lookups, not a scan; no oldest row is an empty table.
    const [ends] = await queryRows<{ oldest: Date | null; newest: Date | null }>(
      client,
      `select min(${col})::timestamptz as oldest, max(${col})::timestamptz as newest from ${table}`,
    )
    oldestRow = ends?.oldest ? new Date(ends.oldest).toISOString() : null
    newestRow = ends?.newest ? new Date(ends.newest).toISOString() : null
    empty = oldestRow === null
  } else {
    // Without the index: the first page that has a row, and the planner's histogram.
    const [row] = await queryRows<{ exists: boolean }>(client, `select exists (select 1 from ${table}) as exists`)
    empty = !row?.exists
    if (!empty) ({ oldest: oldestRow, newest: newestRow } = await histogramEnds(client, found.schema!, found.name!, rule.column))
  }
  if (empty) return { ...base, ...sized, state: 'empty', message: `${rule.table} is empty: no rows to measure growth by` }

  const to = now.getTime()
  const from = to - days * DAY_MS
  const range = `${col} >= $1 and ${col} < $2`
  const window = [new Date(from).toISOString(), new Date(to).toISOString()]
  const exact = indexed && (await estimateRows(client, table, range, window)) <= maxScanRows
  const method = exact ? 'index-range-scan' : 'planner-estimate'
  const counts = new Array<number>(days).fill(0)
  if (exact) {
    // The index's range, even where the planner would read the whole table instead: the
    // cost stays that of the window's rows, however large the table grows.
    const buckets = await withoutSeqScan(client, () =>
      queryRows<{ bucket: number; rows: string }>(
        client,
        `select floor((extract(epoch from ${col}::timestamptz) - $3) / 86400)::int as bucket, count(*) as rows from ${table} where ${range} group by 1`,
        [...window, from / 1000],
      ),
    )
    for (const b of buckets) if (b.bucket >= 0 && b.bucket < days) counts[b.bucket]! += Number(b.rows)
  } else {
    for (let d = 0; d < days; d++) {
      counts[d] = Math.round(
        await estimateRows(client, table, range, [new Date(from + d * DAY_MS).toISOString(), new Date(from + (d + 1) * DAY_MS).toISOString()]),
      )
    }
  }
  const perDay = counts.map((n, d) => ({ from: new Date(from + d * DAY_MS).toISOString(), rows: n }))
  const windowRows = counts.reduce((a, b) => a + b, 0)
  const common = { ...base, ...sized, method, indexed, oldestRow, newestRow, perDay, windowRows } as const
  if (windowRows === 0) {
    return {
      ...common,
      state: 'no-recent-rows',
      rowsPerDay: 0,
      message: `no ${rule.table} rows in the last ${days} days${newestRow ? ` (newest: ${newestRow.slice(0, 10)})` : ''}: nothing is being written`,
    }
  }
  const rate = ratePerDay(counts.map((n, d) => ({ at: from + (d + 1) * DAY_MS, count: n })))

  let pastRetentionRows: number | null = null
  let leavingRowsPerDay: number | null = null
  if (rule.retentionDays !== null) {
    const cutoff = to - rule.retentionDays * DAY_MS
    pastRetentionRows = Math.round(await estimateRows(client, table, `${col} < $1`, [new Date(cutoff).toISOString()]))
    // The rows that age past the cutoff over the coming days: what retention will delete per day.
    const ahead = Math.min(days, rule.retentionDays)
    const leaving = [new Date(cutoff).toISOString(), new Date(cutoff + ahead * DAY_MS).toISOString()]
    // A table younger than that range loses nothing to retention yet: no need to count.
    const younger = oldestRow !== null && Date.parse(oldestRow) >= cutoff + ahead * DAY_MS
    leavingRowsPerDay = younger
      ? 0
      : (exact ? await withoutSeqScan(client, () => countRows(client, table, range, leaving)) : await estimateRows(client, table, range, leaving)) / ahead
  }
  return { ...common, state: 'measured', rowsPerDay: rate ? Math.max(0, rate.perDay) : null, pastRetentionRows, leavingRowsPerDay }
}

function isLocalHost(host: string): boolean {
  return host.startsWith('/') || ['localhost', '127.0.0.1', '::1'].includes(host)
}

async function findDataDirectory(client: Client, config: Readonly<Config>): Promise<DatabaseFacts['dataDirectory']> {
  if (config.capacity.dataPath) return { path: config.capacity.dataPath, source: 'capacity.dataPath' }
  if (config.restore.dataDirPath) return { path: config.restore.dataDirPath, source: 'restore.dataDirPath' }
  if (!isLocalHost(config.postgres.host)) return null
  try {
    const [row] = await queryRows<{ dir: string }>(client, `select current_setting('data_directory') as dir`)
    // The server's own path is this host's only when it is there (not inside a container).
    if (row?.dir && existsSync(join(row.dir, 'PG_VERSION'))) return { path: row.dir, source: 'server' }
  } catch (error) {
    if (sqlState(error) !== '42501') throw error
  }
  return null
}

export async function gatherDatabase(config: Readonly<Config>, now: Date, days: number): Promise<DatabaseFacts> {
  const pg = config.postgres
  try {
    return await withPostgres(pg, async (client) => {
      const [db] = await queryRows<{ bytes: string }>(client, 'select pg_database_size(current_database()) as bytes')
      const raw = await queryRows<{
        oid: string
        schema: string
        name: string
        kind: string
        partitions: number
        reltuples: number
        unanalyzed: boolean
        table_bytes: string
        index_bytes: string
        toast_bytes: string
        total_bytes: string
        live: string
        dead: string
        last_vacuum: Date | null
      }>(client, TABLES_SQL)
      const sizes = new Map<number, TableSize>()
      const tables = raw.map((r) => {
        const toast = Number(r.toast_bytes)
        const live = Number(r.live)
        const table: TableSize = {
          name: displayName(r.schema, r.name),
          kind: KINDS[r.kind] ?? 'table',
          partitions: r.partitions,
          rows: r.unanalyzed ? Math.max(r.reltuples, live) || null : r.reltuples,
          heapBytes: Number(r.table_bytes) - toast,
          indexBytes: Number(r.index_bytes),
          toastBytes: toast,
          totalBytes: Number(r.total_bytes),
          liveTuples: live,
          deadTuples: Number(r.dead),
          lastVacuum: r.last_vacuum ? new Date(r.last_vacuum).toISOString() : null,
        }
        sizes.set(Number(r.oid), table)
        return table
      })
      const measured: MeasuredTable[] = []
      for (const rule of measuredRules(config)) measured.push(await measureTable(client, rule, sizes, now, days, config.capacity.maxScanRows))
      return {
        database: pg.database,
        where: where(pg),
        databaseBytes: Number(db!.bytes),
        dataDirectory: await findDataDirectory(client, config),
        tables,
        measured,
      }
    })
  } catch (error) {
    throw postgresFailure(error, pg)
  }
}
