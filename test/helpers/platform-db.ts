import pg from 'pg'
import { INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../../src/sandbox/schema.js'
import { bed } from '../bed/index.js'

/** Databases with the platform's schema and generated results, on the bed's PostgreSQL. */

export function adminConfig(database = 'postgres'): pg.ClientConfig {
  const { postgres } = bed()
  return { host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password, database }
}

export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client(adminConfig(database))
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

let counter = 0
export function databaseName(prefix: string): string {
  counter++
  return `${prefix}_${process.pid}_${counter}_${Date.now() % 100000}`
}

export interface PlatformOptions {
  days?: number
  rowsPerDay?: number
  /** task_results partitioned by day on execution_time, primary key (id, execution_time). */
  partitioned?: boolean
}

/** A new database with the platform's schema and `days` of results ending now. */
export async function createPlatformDatabase(name: string, options: PlatformOptions = {}): Promise<string> {
  const days = options.days ?? 120
  const rowsPerDay = options.rowsPerDay ?? 200
  await sql('postgres', `create database ${name}`)
  const schema = options.partitioned
    ? SCHEMA_SQL.replace(
        /create table task_results \(([\s\S]*?)\n\);/,
        (_m, body: string) => `create table task_results (${body},\n  primary key (id, execution_time)\n) partition by range (execution_time);`,
      )
    : SCHEMA_SQL
  await sql(name, schema)
  if (options.partitioned) {
    await sql(
      name,
      `do $$ declare d date; begin
         for d in select generate_series(current_date - ${days + 1}, current_date + 1, interval '1 day')::date loop
           execute format('create table task_results_%s partition of task_results for values from (%L) to (%L)', to_char(d, 'YYYYMMDD'), d, d + 1);
         end loop; end $$`,
    )
  }
  await sql(name, referenceDataSql({ agents: 5, tasks: 12 }))
  await sql(name, TASK_RESULTS_SQL, [days, rowsPerDay])
  // No result within 15 minutes of the 90-day retention line: a test that counts rows at its own
  // clock and a run that fixes its cutoff seconds later then agree on which rows are expired.
  await sql(
    name,
    `delete from task_results where execution_time between now() - interval '90 days 15 minutes' and now() - interval '90 days' + interval '15 minutes'`,
  )
  await sql(name, options.partitioned ? INDEX_SQL.replace(/alter table task_results add constraint task_results_pkey primary key \(id\);/, '') : INDEX_SQL)
  await sql(name, 'analyze')
  return name
}

export async function dropDatabase(name: string): Promise<void> {
  await sql('postgres', `drop database if exists ${name} with (force)`)
}

export async function countOlderThan(database: string, days: number, now: Date): Promise<{ older: number; newer: number }> {
  const [row] = await sql<{ older: string; newer: string }>(
    database,
    `select count(*) filter (where execution_time < $1) as older, count(*) filter (where execution_time >= $1) as newer from task_results`,
    [new Date(now.getTime() - days * 86_400_000).toISOString()],
  )
  return { older: Number(row!.older), newer: Number(row!.newer) }
}
