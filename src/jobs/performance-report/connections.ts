import type { StepDefinition } from '../../report/outcome.js'
import { textTable } from '../../report/table.js'
import { queryRows } from '../../systems/postgres.js'
import { withDatabase, type PerformanceContext } from './context.js'
import type { ConnectionsData } from './data.js'
import { connectionFindings } from './findings.js'

export const connections: StepDefinition<PerformanceContext, ConnectionsData> = {
  async run({ config }) {
    return withDatabase(config, async (client) => {
      const [limits] = await queryRows<{ max: number; reserved: number }>(
        client,
        `select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as reserved`,
      )
      const states = await queryRows<{ state: string; count: number }>(
        client,
        `select coalesce(state, 'unknown') as state, count(*)::int as count from pg_stat_activity where backend_type = 'client backend' group by 1 order by 2 desc`,
      )
      const holders = await queryRows<{ user: string | null; application: string; database: string | null; count: number }>(
        client,
        `select usename as user, coalesce(nullif(application_name, ''), '(none)') as application, datname as database, count(*)::int as count
           from pg_stat_activity where backend_type = 'client backend' group by 1, 2, 3 order by 4 desc limit 5`,
      )
      const [waits] = await queryRows<{ waiting: number; idle_in_transaction: number; longest_idle_s: number | null }>(
        client,
        `select count(*) filter (where wait_event_type = 'Lock')::int as waiting,
                count(*) filter (where state like 'idle in transaction%')::int as idle_in_transaction,
                max(extract(epoch from now() - state_change)) filter (where state like 'idle in transaction%')::float8 as longest_idle_s
           from pg_stat_activity where backend_type = 'client backend'`,
      )
      const used = states.reduce((a, s) => a + s.count, 0)
      const usable = Math.max(1, limits!.max - limits!.reserved)
      const details = [
        ...textTable(
          ['user', 'application', 'database', 'connections'],
          holders.map((h) => [h.user ?? '?', h.application, h.database ?? '-', String(h.count)]),
          ['l', 'l', 'l', 'r'],
        ),
        `${waits?.waiting ?? 0} waiting on a lock, ${waits?.idle_in_transaction ?? 0} idle in transaction${waits?.longest_idle_s ? ` (longest ${Math.round(waits.longest_idle_s)} s)` : ''}`,
      ]
      return {
        summary: `${used} of ${usable} usable connections (max_connections ${limits!.max}): ${states.map((s) => `${s.count} ${s.state}`).join(', ')}`,
        findings: connectionFindings(used, usable),
        details,
        data: {
          maxConnections: limits!.max,
          reserved: limits!.reserved,
          used,
          usedRatio: used / usable,
          byState: Object.fromEntries(states.map((s) => [s.state, s.count])),
          topHolders: holders,
          waitingOnLocks: waits?.waiting ?? 0,
          idleInTransaction: waits?.idle_in_transaction ?? 0,
        },
      }
    })
  },
}
