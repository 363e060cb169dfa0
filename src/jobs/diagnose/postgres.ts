import type { Step } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import { closePostgres, connectPostgres, postgresFailure, queryRows, where } from '../../systems/postgres.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'

interface Figures {
  version: string
  maxConnections: number
  connections: Record<string, number>
  databaseBytes: number
  cacheHitRatio: number | null
  blocksRead: number
  longestQuery: { pid: number; seconds: number; query: string } | null
  longestTransaction: { pid: number; seconds: number; state: string } | null
}

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

/** Long enough to be worth a look on a platform whose queries take milliseconds. */
const LONG_QUERY_S = 300
const IDLE_TRANSACTION_S = 300

export const postgresStep: Step<DiagnoseContext> = {
  id: 'postgres',
  title: 'PostgreSQL',
  async run({ config }) {
    const pg = config.postgres
    const deadline = Date.now() + config.diagnose.checkTimeoutMs
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
      const figures: Figures = {
        version: row!.version,
        maxConnections: row!.max_connections,
        connections,
        databaseBytes: Number(row!.database_bytes),
        cacheHitRatio: row!.cache_hit_ratio === null ? null : Math.round(row!.cache_hit_ratio * 10000) / 10000,
        blocksRead: Number(row!.blocks_read),
        longestQuery: q ? { pid: q.pid, seconds: Math.round(q.seconds), query: q.query } : null,
        longestTransaction: t ? { pid: t.pid, seconds: Math.round(t.seconds), state: t.state } : null,
      }
      const used = Object.values(connections).reduce((a, b) => a + b, 0) + 1
      const problems: Problem[] = []
      if (used >= figures.maxConnections * 0.8)
        problems.push({
          severity: 'warning',
          message: `${used} of ${figures.maxConnections} connections in use`,
          next: 'find who holds them: select usename, application_name, state, count(*) from pg_stat_activity group by 1,2,3',
        })
      if (figures.cacheHitRatio !== null && figures.blocksRead > 10_000 && figures.cacheHitRatio < 0.9)
        problems.push({
          severity: 'warning',
          message: `cache hit ratio ${(figures.cacheHitRatio * 100).toFixed(1)}%`,
          next: 'raise shared_buffers, or look for sequential scans: probe-ops capacity-report',
        })
      if (figures.longestQuery && figures.longestQuery.seconds > LONG_QUERY_S)
        problems.push({
          severity: 'warning',
          message: `query of pid ${figures.longestQuery.pid} running for ${figures.longestQuery.seconds} s`,
          next: `inspect it, and if it must go: select pg_cancel_backend(${figures.longestQuery.pid})`,
        })
      if (
        figures.longestTransaction &&
        figures.longestTransaction.state.startsWith('idle in transaction') &&
        figures.longestTransaction.seconds > IDLE_TRANSACTION_S
      ) {
        problems.push({
          severity: 'warning',
          message: `pid ${figures.longestTransaction.pid} idle in transaction for ${figures.longestTransaction.seconds} s`,
          next: `it holds locks and blocks vacuum: select pg_terminate_backend(${figures.longestTransaction.pid})`,
        })
      }
      const details = [
        `${where(pg)}: PostgreSQL ${figures.version}, SELECT 1 in ${latencyMs} ms`,
        `connections ${used}/${figures.maxConnections}: ${
          Object.entries(connections)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ') || 'none other'
        }`,
        `database ${formatBytes(figures.databaseBytes)}, cache hit ${figures.cacheHitRatio === null ? 'n/a' : `${(figures.cacheHitRatio * 100).toFixed(1)}%`}`,
        `longest query ${figures.longestQuery ? `${figures.longestQuery.seconds} s (pid ${figures.longestQuery.pid})` : 'none'}, longest transaction ${figures.longestTransaction ? `${figures.longestTransaction.seconds} s (pid ${figures.longestTransaction.pid}, ${figures.longestTransaction.state})` : 'none'}`,
      ]
      return verdict(`up, ${figures.version}, ${used}/${figures.maxConnections} connections, ${formatBytes(figures.databaseBytes)}`, details, problems, {
        latencyMs,
        ...figures,
      })
    } catch (error) {
      throw postgresFailure(error, { ...pg, connectTimeoutMs: bound })
    } finally {
      await closePostgres(client)
    }
  },
}
