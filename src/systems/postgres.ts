import type { Client, ClientConfig } from 'pg'
import type { PostgresConfig } from '../config/load.js'
import { NoAnswerFailure, StepFailure, TimeoutError, describeError, formatSeconds } from '../errors.js'
import { withTimeout } from '../lib/time.js'

/** PostgreSQL through `pg`. The password goes to the client object, never to a command line. */

export interface ConnectOptions {
  database?: string
  /** The bound for connecting; defaults to postgres.connectTimeoutSeconds. */
  connectTimeoutMs?: number
  /** The bound for each statement (0: none); defaults to postgres.statementTimeoutSeconds. */
  statementTimeoutMs?: number
  /** Names the session in pg_stat_activity (default "probe-ops"), e.g. so that an abort can end it. */
  applicationName?: string
}

export function where(config: PostgresConfig, database = config.database): string {
  return `${config.user}@${config.host}:${config.port}/${database}`
}

export async function connectPostgres(config: PostgresConfig, options: ConnectOptions = {}): Promise<Client> {
  const { default: pg } = await import('pg')
  const connectTimeoutMs = options.connectTimeoutMs ?? config.connectTimeoutMs
  const statementTimeoutMs = options.statementTimeoutMs ?? config.statementTimeoutMs
  const database = options.database ?? config.database
  const clientConfig: ClientConfig = {
    host: config.host,
    port: config.port,
    user: config.user,
    database,
    password: config.password?.reveal(),
    application_name: options.applicationName ?? 'probe-ops',
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    // The server-side timeout cannot fire when the server itself hangs; this one can.
    query_timeout: statementTimeoutMs > 0 ? statementTimeoutMs + 1000 : undefined,
    ssl: config.sslmode === 'disable' ? false : { rejectUnauthorized: config.sslmode === 'verify-full' },
  }
  const client = new pg.Client(clientConfig)
  // A connection lost later surfaces through the failing query; unhandled it would crash the run.
  client.on('error', () => undefined)
  try {
    await withTimeout(`PostgreSQL at ${config.host}:${config.port}`, connectTimeoutMs + 500, client.connect(), () => destroy(client))
  } catch (error) {
    destroy(client)
    throw postgresFailure(error, { ...config, connectTimeoutMs }, database)
  }
  return client
}

/** Ends a client without waiting for a server that may never answer. */
export function destroy(client: Client): void {
  const connection = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
  connection?.stream?.destroy()
  client.end().catch(() => undefined)
}

export async function closePostgres(client: Client): Promise<void> {
  await withTimeout('closing the PostgreSQL connection', 2000, client.end()).catch(() => destroy(client))
}

/** A pg or network error as one line with what to do about it. */
export function postgresFailure(error: unknown, config: PostgresConfig, database = config.database): StepFailure {
  const code = (error as { code?: string }).code
  const at = `${config.host}:${config.port}`
  if (error instanceof StepFailure) return error
  if (code === 'ECONNREFUSED') return new StepFailure(`PostgreSQL refused the connection at ${at}`, 'PostgreSQL is down: run `probe-ops recover postgres`')
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new StepFailure(`PostgreSQL host ${config.host} does not resolve`, 'fix postgres.host or PGHOST')
  if (code === '28P01' || code === '28000')
    return new StepFailure(`PostgreSQL rejected the credentials of user ${config.user}`, 'check PGPASSWORD or postgres.passwordFile')
  if (code === '3D000') return new StepFailure(`database "${database}" does not exist at ${at}`, 'fix postgres.database or PGDATABASE')
  if (code === '57P03') return new StepFailure(`PostgreSQL at ${at} is starting up or shutting down`, 'wait a few seconds and try again')
  const message = describeError(error)
  if (error instanceof TimeoutError || /timeout/i.test(message)) {
    return new NoAnswerFailure(
      `PostgreSQL at ${at} accepted no query within ${formatSeconds(config.connectTimeoutMs)}`,
      'it accepts connections but does not answer: look for a hung or overloaded server, then `probe-ops recover postgres`',
    )
  }
  return new StepFailure(`PostgreSQL at ${at}: ${message}`, 'check that PostgreSQL is running and the connection settings are right')
}

export async function queryRows<Row extends object>(client: Client, sql: string, params: unknown[] = []): Promise<Row[]> {
  const result = await client.query(sql, params)
  return result.rows as Row[]
}

/** Runs work on one connection and always closes it. */
export async function withPostgres<T>(config: PostgresConfig, work: (client: Client) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const client = await connectPostgres(config, options)
  try {
    return await work(client)
  } finally {
    await closePostgres(client)
  }
}

/** One double-quoted identifier: a database or role name, which may itself hold dots. */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** A double-quoted identifier, schema-qualified when given as schema.name. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.')
}

/** The SQLSTATE of a pg error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}
