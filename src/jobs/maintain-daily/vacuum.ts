import type { StepDefinition } from '../../report/outcome.js'
import { queryRows, withPostgres } from '../../systems/postgres.js'
import type { MaintenanceContext } from './context.js'
import type { VacuumData } from './data.js'

interface TableDead {
  table: string
  dead: number
  live: number
}

const DEAD_TUPLES_SQL = `select schemaname || '.' || relname as table, n_dead_tup::bigint as dead, n_live_tup::bigint as live from pg_stat_user_tables`

async function deadTuples(client: Parameters<Parameters<typeof withPostgres>[1]>[0]): Promise<Map<string, TableDead>> {
  const rows = await queryRows<{ table: string; dead: string; live: string }>(client, DEAD_TUPLES_SQL)
  return new Map(rows.map((r) => [r.table, { table: r.table, dead: Number(r.dead), live: Number(r.live) }]))
}

/** VACUUM (ANALYZE) of the platform database; it never blocks reads or writes. */
export const vacuum: StepDefinition<MaintenanceContext, VacuumData> = {
  run: ({ config }, run) =>
    withPostgres(
      config.postgres,
      async (client) => {
        const before = await deadTuples(client)
        const totalDead = [...before.values()].reduce((s, t) => s + t.dead, 0)
        if (run.dryRun) {
          const worst = [...before.values()].sort((a, b) => b.dead - a.dead).slice(0, 5)
          return {
            summary: `would vacuum ${before.size} tables with ${totalDead.toLocaleString('en-US')} dead rows`,
            data: { tables: before.size, deadRows: totalDead, top: worst },
          }
        }
        // A whole-database vacuum takes as long as it takes; the job's --timeout still bounds it.
        await client.query('set statement_timeout = 0')
        const started = performance.now()
        await client.query('vacuum (analyze)')
        const ms = Math.round(performance.now() - started)
        await client.query('select pg_stat_clear_snapshot()')
        const after = await deadTuples(client)
        const dropped = [...before.values()]
          .map((b) => ({ table: b.table, deadBefore: b.dead, deadAfter: after.get(b.table)?.dead ?? 0 }))
          .map((t) => ({ ...t, removed: Math.max(0, t.deadBefore - t.deadAfter) }))
          .sort((a, b) => b.removed - a.removed)
        const removed = dropped.reduce((s, t) => s + t.removed, 0)
        return {
          summary: `vacuumed ${before.size} tables in ${(ms / 1000).toFixed(1)} s, ${removed.toLocaleString('en-US')} dead rows cleared`,
          data: { tables: before.size, durationMs: ms, deadRowsCleared: removed, top: dropped.slice(0, 5) },
        }
      },
      { statementTimeoutMs: 0 },
    ),
}
