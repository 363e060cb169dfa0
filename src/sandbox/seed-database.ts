import type { PostgresConfig } from '../config/load.js'
import { describeError, formatSeconds } from '../errors.js'
import { DEFAULT_SEED, INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from './schema.js'
import { SandboxError } from './layout.js'
import type { SandboxState } from './state.js'

export interface Seed {
  days: number
  rowsPerDay: number
}

/** The platform's schema in network_probe, its reference data and `seed` of task results ending now; what it holds, for state.json. */
export async function seedDatabase(
  config: PostgresConfig,
  seed: Seed,
  logFile: string,
  progress: (line: string) => void,
): Promise<NonNullable<SandboxState['data']>> {
  const { connectPostgres, closePostgres } = await import('../systems/postgres.js')
  const started = performance.now()
  const db = await connectPostgres({ ...config, database: 'network_probe' })
  try {
    await db.query('create extension if not exists pg_stat_statements')
    await db.query(SCHEMA_SQL)
    await db.query(referenceDataSql(DEFAULT_SEED))
    await db.query(TASK_RESULTS_SQL, [seed.days, seed.rowsPerDay])
    await db.query(INDEX_SQL)
    await db.query('analyze')
    const [row] = (
      await db.query<{ rows: string; oldest: Date | null; newest: Date | null }>(
        'select count(*) as rows, min(execution_time) as oldest, max(execution_time) as newest from task_results',
      )
    ).rows
    const rows = Number(row!.rows)
    progress(`postgres: network_probe has ${rows.toLocaleString('en-US')} task results over ${seed.days} days (${formatSeconds(performance.now() - started)})`)
    return { days: seed.days, rowsPerDay: seed.rowsPerDay, rows, oldest: row!.oldest?.toISOString() ?? null, newest: row!.newest?.toISOString() ?? null }
  } catch (error) {
    throw new SandboxError(`creating the platform's schema and data failed: ${describeError(error)}`, `read ${logFile}`)
  } finally {
    await closePostgres(db)
  }
}
