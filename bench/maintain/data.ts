/**
 * The data sets of bench/maintain-daily.ts, built once per bench run as template databases
 * (connections disallowed, so autovacuum leaves them as they are) and copied with
 * CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY before every measured run:
 *
 *   tpl_flat      the demo schema (src/sandbox/schema.ts), `rows` task_results over 120 days
 *                 ending now (a quarter older than 90 days), vacuumed and analyzed;
 *   tpl_bloated   tpl_flat after the guide's DELETE of the rows older than 90 days, not vacuumed
 *                 (autovacuum off on task_results; each copy turns it back on);
 *   tpl_part_N    task_results partitioned by day on execution_time, primary key
 *                 (id, execution_time), as test/helpers/platform-db.ts builds it, holding tpl_flat's
 *                 rows (all of them, or every k-th id for a smaller set).
 */
import pg from 'pg'
import { INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql, DEFAULT_SEED } from '../../src/sandbox/schema.js'

export type Sql = <R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, params?: unknown[]) => Promise<R[]>

export function sqlRunner(base: pg.ClientConfig): Sql {
  return async (database, text, params = []) => {
    const client = new pg.Client({ ...base, database, application_name: 'bench-admin' })
    client.on('error', () => undefined)
    await client.connect()
    try {
      return (await client.query(text, params)).rows
    } finally {
      await client.end().catch(() => undefined)
    }
  }
}

export const DAYS = 120
export const RETENTION_DAYS = 90

export async function copyDatabase(sql: Sql, template: string, name: string): Promise<void> {
  await sql('postgres', `create database ${name} template ${template} strategy file_copy`)
}

export async function dropDatabase(sql: Sql, name: string): Promise<void> {
  await sql('postgres', `drop database if exists ${name} with (force)`)
}

async function freeze(sql: Sql, name: string): Promise<void> {
  await sql('postgres', `alter database ${name} with allow_connections false is_template true`)
}

/** Rows older than `cutoff`, and all rows. */
export async function countRows(sql: Sql, database: string, cutoff: Date): Promise<{ older: number; total: number }> {
  const [row] = await sql<{ older: string; total: string }>(
    database,
    'select (select count(*) from task_results where execution_time < $1) as older, (select count(*) from task_results) as total',
    [cutoff.toISOString()],
  )
  return { older: Number(row!.older), total: Number(row!.total) }
}

export async function buildFlat(sql: Sql, name: string, rows: number): Promise<{ rows: number; rowsPerDay: number; older: number; size: string }> {
  const rowsPerDay = Math.ceil(rows / DAYS)
  await sql('postgres', `create database ${name}`)
  await sql(name, SCHEMA_SQL)
  // The guide resets pg_stat_statements every night: the platform has it (the server preloads it).
  await sql(name, 'create extension if not exists pg_stat_statements')
  await sql(name, referenceDataSql({ agents: DEFAULT_SEED.agents, tasks: DEFAULT_SEED.tasks }))
  await sql(name, TASK_RESULTS_SQL, [DAYS, rowsPerDay])
  await sql(name, INDEX_SQL)
  await sql(name, 'vacuum (analyze)')
  await sql(name, 'checkpoint')
  const { older, total } = await countRows(sql, name, new Date(Date.now() - RETENTION_DAYS * 86_400_000))
  const [size] = await sql<{ size: string }>(name, 'select pg_size_pretty(pg_database_size(current_database())) as size')
  await freeze(sql, name)
  return { rows: total, rowsPerDay, older, size: size!.size }
}

/** The guide's DELETE, already done, its dead rows still in the table and the indexes. */
export async function buildBloated(sql: Sql, flat: string, name: string): Promise<number> {
  await copyDatabase(sql, flat, name)
  await sql(name, 'alter table task_results set (autovacuum_enabled = false)')
  const [row] = await sql<{ n: string }>(
    name,
    `with d as (delete from task_results where execution_time < now() - interval '${RETENTION_DAYS} days' returning 1) select count(*) as n from d`,
  )
  await sql(name, 'checkpoint')
  await freeze(sql, name)
  return Number(row!.n)
}

/** Partitioned by day like test/helpers/platform-db.ts, filled from tpl_flat's rows (every `every`-th id). */
export async function buildPartitioned(sql: Sql, flat: string, name: string, every: number): Promise<{ rows: number; partitions: number }> {
  await copyDatabase(sql, flat, name)
  await sql(
    name,
    `alter table task_results rename to task_results_flat;
     alter sequence task_results_id_seq owned by none;
     create table task_results (like task_results_flat including defaults, primary key (id, execution_time)) partition by range (execution_time);
     do $$ declare d date; begin
       for d in select generate_series(current_date - ${DAYS + 1}, current_date + 1, interval '1 day')::date loop
         execute format('create table task_results_%s partition of task_results for values from (%L) to (%L)', to_char(d, 'YYYYMMDD'), d, d + 1);
       end loop; end $$;
     insert into task_results select * from task_results_flat${every > 1 ? ` where id % ${every} = 0` : ''};
     drop table task_results_flat;
     alter sequence task_results_id_seq owned by task_results.id;`,
  )
  // The primary key is (id, execution_time) already; tasks' index came with the copy.
  await sql(
    name,
    INDEX_SQL.replace(/alter table task_results add constraint task_results_pkey primary key \(id\);/, '').replace(/create index idx_tasks_protocol[^;]*;/, ''),
  )
  await sql(name, 'vacuum (analyze)')
  await sql(name, 'checkpoint')
  const [row] = await sql<{ rows: string; partitions: string }>(
    name,
    `select (select count(*) from task_results) as rows, (select count(*) from pg_inherits where inhparent = 'task_results'::regclass) as partitions`,
  )
  await freeze(sql, name)
  return { rows: Number(row!.rows), partitions: Number(row!.partitions) }
}
