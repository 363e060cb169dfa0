import type { Client } from 'pg'
import { describeError } from '../../errors.js'
import { formatSize, round1 } from '../../lib/format.js'
import type { Finding, StepDefinition, StepOutcome } from '../../report/outcome.js'
import { queryRows, withPostgres } from '../../systems/postgres.js'
import type { MaintenanceContext } from './context.js'
import type { ReindexData } from './data.js'

/**
 * Rebuilds bloated indexes with REINDEX ... CONCURRENTLY, which never blocks writers (the
 * guide's REINDEX DATABASE locks every table while it runs), and drops the invalid `_ccnew` /
 * `_ccold` indexes that an interrupted concurrent rebuild leaves behind.
 */

type IndexBloat = ReindexData['bloated'][number]

/** Leftovers of an interrupted REINDEX CONCURRENTLY: invalid, and named by PostgreSQL. */
const LEFTOVERS_SQL = `
select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as index, c.relname ~ '_cc(new|old)[0-9]*$' as leftover
  from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
 where not i.indisvalid and n.nspname not in ('pg_catalog', 'information_schema')`

/**
 * Exact figures from pgstattuple's pgstatindex, when the extension is installed: the space
 * the live leaf entries need at the fill factor, against every page the index has, so that
 * the empty and deleted pages retention leaves behind count as waste.
 */
const PGSTATINDEX_SQL = `
select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as index, t.relname as table, pg_relation_size(c.oid) as bytes,
       greatest(0, 100 * (1 - (s.leaf_pages * s.avg_leaf_density / coalesce((select option_value::float8 from pg_options_to_table(c.reloptions) where option_name = 'fillfactor'), 90))
                             / nullif(s.leaf_pages + s.empty_pages + s.deleted_pages + s.internal_pages, 0))) as bloat
  from pg_index i
  join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
  join pg_namespace n on n.oid = c.relnamespace join pg_am am on am.oid = c.relam
  cross join lateral pgstatindex(c.oid) s
 where am.amname = 'btree' and i.indisvalid and c.relkind = 'i' and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
   and pg_relation_size(c.oid) >= $1`

/**
 * Without pgstattuple: the expected size from the planner's row count and column widths
 * (the approach of check_postgres and ioguix's btree bloat query, simplified), against the
 * real size. Good to tens of percent, which is what deciding a rebuild needs.
 */
const ESTIMATE_SQL = `
with idx as (
  select c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as index, t.relname as table, t.oid as table_oid,
         pg_relation_size(c.oid) as bytes, c.reltuples, i.indkey, n.nspname, t.relname as tname,
         coalesce((select option_value::float8 from pg_options_to_table(c.reloptions) where option_name = 'fillfactor'), 90) as fillfactor
    from pg_index i
    join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace join pg_am am on am.oid = c.relam
   where am.amname = 'btree' and i.indisvalid and c.relkind = 'i' and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
     and pg_relation_size(c.oid) >= $1 and c.reltuples > 0
), width as (
  select idx.oid, sum(coalesce(s.avg_width, 8)) as key_width
    from idx cross join lateral unnest(idx.indkey) as k(attnum)
    join pg_attribute a on a.attrelid = idx.table_oid and a.attnum = k.attnum
    left join pg_stats s on s.schemaname = idx.nspname and s.tablename = idx.tname and s.attname = a.attname
   group by idx.oid
)
select idx.index, idx.table, idx.bytes,
       greatest(0, 100 * (1 - (ceil(idx.reltuples * (8 + 4 + ((w.key_width + 7)::int / 8) * 8) / (current_setting('block_size')::float8 * idx.fillfactor / 100 - 24)) + 1)
                             * current_setting('block_size')::float8 / idx.bytes)) as bloat
  from idx join width w on w.oid = idx.oid`

async function hasPgstattuple(client: Client): Promise<boolean> {
  const result = await client.query(`select 1 from pg_extension where extname = 'pgstattuple'`)
  return (result.rowCount ?? 0) > 0
}

async function bloatedIndexes(client: Client, minBytes: number, minBloat: number): Promise<{ method: ReindexData['method']; indexes: IndexBloat[] }> {
  const method = (await hasPgstattuple(client)) ? 'pgstattuple' : 'estimate'
  const rows = await queryRows<{ index: string; table: string; bytes: string; bloat: number }>(
    client,
    method === 'pgstattuple' ? PGSTATINDEX_SQL : ESTIMATE_SQL,
    [minBytes],
  )
  const indexes = rows
    .map((r) => ({ index: r.index, table: r.table, bytes: Number(r.bytes), bloatPercent: round1(r.bloat) }))
    .filter((r) => r.bloatPercent >= minBloat)
    .sort((a, b) => b.bytes * b.bloatPercent - a.bytes * a.bloatPercent)
  return { method, indexes }
}

/** A rebuild or a leftover's drop that failed: the next run retries; the step fails meanwhile. */
interface Failure {
  index: string
  action: 'drop' | 'rebuild'
  error: string
}

/** The failed rebuilds and drops fail the step; an invalid index no rebuild made is worth acting on. */
export function reindexFindings(failures: readonly Failure[], otherInvalid: readonly string[]): Finding[] {
  return [
    ...failures.map((f): Finding => ({
      id: `reindex-failed:${f.index}`,
      severity: 'high',
      subject: f.index,
      message: `${f.action === 'drop' ? 'drop ' : ''}${f.index}: ${f.error}`,
      fix: 'the next run retries; a long transaction may hold the table (see probe-ops diagnose --only postgres)',
    })),
    ...otherInvalid.map((index): Finding => ({
      id: `invalid-index:${index}`,
      severity: 'medium',
      subject: index,
      message: `invalid index not made by a rebuild: ${index}`,
      fix: 'a failed CREATE INDEX CONCURRENTLY left it: drop it and create it again',
    })),
  ]
}

export const reindex: StepDefinition<MaintenanceContext, ReindexData> = {
  run: ({ config }, run) =>
    withPostgres(
      config.postgres,
      async (client): Promise<StepOutcome<ReindexData>> => {
        const settings = config.reindex
        const invalid = await queryRows<{ index: string; leftover: boolean }>(client, LEFTOVERS_SQL)
        const leftovers = invalid.filter((i) => i.leftover).map((i) => i.index)
        const otherInvalid = invalid.filter((i) => !i.leftover).map((i) => i.index)
        const { method, indexes } = await bloatedIndexes(client, settings.minIndexBytes, settings.minBloatPercent)
        const found = { method, leftovers, otherInvalid, bloated: indexes }
        if (run.dryRun) {
          return {
            summary: `would rebuild ${indexes.length} indexes (${formatSize(indexes.reduce((s, i) => s + i.bytes, 0))}) and drop ${leftovers.length} leftovers`,
            data: found,
          }
        }
        await client.query(`set statement_timeout = ${Math.round(settings.timeoutSeconds * 1000)}`)
        // Waiting behind a long transaction is fine; waiting for ever is not.
        await client.query(`set lock_timeout = '10s'`)
        const dropped: string[] = []
        const rebuilt: NonNullable<ReindexData['rebuilt']> = []
        const failures: Failure[] = []
        for (const index of leftovers) {
          try {
            await client.query(`drop index concurrently if exists ${index}`)
            dropped.push(index)
          } catch (error) {
            failures.push({ index, action: 'drop', error: describeError(error) })
          }
        }
        for (const index of indexes) {
          if (run.signal.aborted) break
          const started = performance.now()
          try {
            await client.query(`reindex index concurrently ${index.index}`)
            const after = await client.query<{ bytes: string }>(`select pg_relation_size($1::regclass) as bytes`, [index.index])
            rebuilt.push({
              index: index.index,
              ms: Math.round(performance.now() - started),
              bytesBefore: index.bytes,
              bytesAfter: Number(after.rows[0]!.bytes),
            })
          } catch (error) {
            // An interrupted concurrent rebuild leaves an invalid _ccnew index: the next run drops it.
            failures.push({ index: index.index, action: 'rebuild', error: describeError(error) })
          }
        }
        const saved = rebuilt.reduce((s, r) => s + Math.max(0, r.bytesBefore - r.bytesAfter), 0)
        const summary = `rebuilt ${rebuilt.length} of ${indexes.length} bloated indexes (${formatSize(saved)} saved), dropped ${dropped.length} leftovers`
        return {
          summary: failures.length === 0 && otherInvalid.length > 0 ? `${summary}; ${otherInvalid.length} other invalid indexes` : summary,
          findings: reindexFindings(failures, otherInvalid),
          data: {
            ...found,
            dropped,
            rebuilt,
            bytesSaved: saved,
            failures: failures.map((f) => `${f.action === 'drop' ? 'drop ' : ''}${f.index}: ${f.error}`),
          },
        }
      },
      { statementTimeoutMs: 0 },
    ),
}
