import { formatPercent, formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { closePostgres, connectPostgres, postgresFailure, queryRows, where } from '../../systems/postgres.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { PostgresData } from './data.js'
import { connectionsUsed, postgresFindings } from './findings.js'

const FIGURES_SQL = `
select current_setting('server_version') as version,
       current_setting('max_connections')::int as max_connections,
       pg_database_size(current_database())::bigint as database_bytes,
       (select blks_hit::float8 / nullif(blks_hit + blks_read, 0) from pg_stat_database where datname = current_database()) as cache_hit_ratio,
       (select blks_read from pg_stat_database where datname = current_database())::bigint as blocks_read`

const CONNECTIONS_SQL = `
select coalesce(state, 'background') as state, count(*)::int as count
  from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() group by 1`

const LONGEST_SQL = `
select pid, extract(epoch from now() - query_start)::float8 as seconds, left(query, 200) as query, 'query' as kind, state
  from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'
union all
select pid, extract(epoch from now() - xact_start)::float8, left(query, 200), 'transaction', state
  from pg_stat_activity where xact_start is not null and pid <> pg_backend_pid() and backend_type = 'client backend'
order by 2 desc`

export const postgres: StepDefinition<DiagnoseContext, PostgresData> = {
  timeoutMs: checkBound,
  async run({ config, checkTimeoutMs }) {
    const pg = config.postgres
    const deadline = Date.now() + checkTimeoutMs
    // Loading the client library is part of the check's time: the bound counts from the step's start.
    await import('pg')
    const bound = Math.max(250, deadline - Date.now())
    const client = await connectPostgres(pg, { connectTimeoutMs: Math.min(bound, pg.connectTimeoutMs), statementTimeoutMs: bound })
    try {
      const started = performance.now()
      await client.query('select 1')
      const latencyMs = Math.round(performance.now() - started)
      const [row] = await queryRows<{ version: string; max_connections: number; database_bytes: string; cache_hit_ratio: number | null; blocks_read: string }>(
        client,
        FIGURES_SQL,
      )
      const connections: Record<string, number> = {}
      for (const r of await queryRows<{ state: string; count: number }>(client, CONNECTIONS_SQL)) connections[r.state] = r.count
      const longest = await queryRows<{ pid: number; seconds: number; query: string; kind: string; state: string }>(client, LONGEST_SQL)
      const q = longest.find((r) => r.kind === 'query')
      const t = longest.find((r) => r.kind === 'transaction')
      const figures: PostgresData = {
        latencyMs,
        version: row!.version,
        maxConnections: row!.max_connections,
        connections,
        databaseBytes: Number(row!.database_bytes),
        cacheHitRatio: row!.cache_hit_ratio === null ? null : Math.round(row!.cache_hit_ratio * 10000) / 10000,
        blocksRead: Number(row!.blocks_read),
        longestQuery: q ? { pid: q.pid, seconds: Math.round(q.seconds), query: q.query } : null,
        longestTransaction: t ? { pid: t.pid, seconds: Math.round(t.seconds), state: t.state } : null,
      }
      const used = connectionsUsed(figures)
      const others = Object.entries(connections)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')
      const { longestQuery: query, longestTransaction: transaction } = figures
      return {
        summary: `up, ${figures.version}, ${used}/${figures.maxConnections} connections, ${formatSize(figures.databaseBytes)}`,
        findings: postgresFindings(figures),
        details: [
          `${where(pg)}: PostgreSQL ${figures.version}, SELECT 1 in ${latencyMs} ms`,
          `connections ${used}/${figures.maxConnections}: ${others || 'none other'}`,
          `database ${formatSize(figures.databaseBytes)}, cache hit ${figures.cacheHitRatio === null ? 'n/a' : formatPercent(figures.cacheHitRatio)}`,
          `longest query ${query ? `${query.seconds} s (pid ${query.pid})` : 'none'}, longest transaction ${transaction ? `${transaction.seconds} s (pid ${transaction.pid}, ${transaction.state})` : 'none'}`,
        ],
        data: figures,
      }
    } catch (error) {
      throw postgresFailure(error, { ...pg, connectTimeoutMs: bound })
    } finally {
      await closePostgres(client)
    }
  },
}
