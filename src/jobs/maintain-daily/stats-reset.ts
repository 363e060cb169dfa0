import type { StepDefinition, StepOutcome } from '../../report/outcome.js'
import { withPostgres } from '../../systems/postgres.js'
import type { MaintenanceContext } from './context.js'
import type { StatsResetData } from './data.js'

/** The guide's `UPDATE pg_stat_statements_reset();` is invalid SQL; this is the call it meant. */
export const statsReset: StepDefinition<MaintenanceContext, StatsResetData> = {
  run: ({ config }, run) =>
    withPostgres(config.postgres, async (client): Promise<StepOutcome<StatsResetData>> => {
      const installed = await client.query<{ extversion: string }>(`select extversion from pg_extension where extname = 'pg_stat_statements'`)
      if (installed.rowCount === 0) return { skipped: true, summary: 'pg_stat_statements is not installed in this database', data: { installed: false } }
      if (run.dryRun) return { summary: 'would reset pg_stat_statements', data: { installed: true } }
      await client.query('select pg_stat_statements_reset()')
      return { summary: 'pg_stat_statements reset', data: { installed: true, version: installed.rows[0]!.extversion } }
    }),
}
