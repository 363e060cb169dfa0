import type { Client, ClientConfig } from 'pg'
import type { PostgresConfig } from '../config/load.js'
import { StepFailure, TimeoutError, describeError, formatSeconds } from '../errors.js'
import { withTimeout } from '../lib/time.js'
import { SystemError, errorCode, type SystemErrorCode } from './errors.js'

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

/** pg's own timeouts (query_timeout, connectionTimeoutMillis): its client-side errors carry no code, so these two are known by their words. */
const PG_CLIENT_TIMEOUTS = new Set(['Query read timeout', 'timeout expired'])

/**
 * What a pg or network error says happened, by its SQLSTATE or errno (along its causes): the
 * server refused, is unknown, rejected the credentials or the database, is starting, answered
 * nothing within the bound (our TimeoutError, a statement timeout, pg's own timeouts), or
 * anything else.
 */
export function postgresErrorCode(error: unknown): SystemErrorCode {
  if (error instanceof TimeoutError) return 'no-answer'
  if (error instanceof Error && !('code' in error) && PG_CLIENT_TIMEOUTS.has(error.message)) return 'no-answer'
  const code = errorCode(error)
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns'
    case '28P01':
    case '28000':
      return 'auth'
    case '3D000':
      return 'not-found'
    case '57P03':
      return 'starting'
    // query_canceled: the statement timeout probe-ops sets.
    case '57014':
      return 'no-answer'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ETIMEDOUT':
      return 'unreachable'
    case 'EACCES':
    case 'EPERM':
      return 'permission'
    default:
      return code !== undefined && sqlState(error) !== undefined ? 'bad-answer' : 'failed'
  }
}

/**
 * A pg or network error as one line, a SystemError of postgres with its code (postgresErrorCode);
 * an error that already says what happened (a SystemError, or a step's own StepFailure) is kept.
 */
export function postgresFailure(error: unknown, config: PostgresConfig, database = config.database): SystemError | StepFailure {
  if (error instanceof SystemError || error instanceof StepFailure) return error
  const code = postgresErrorCode(error)
  const at = `${config.host}:${config.port}`
  const failure = (message: string) => new SystemError('postgres', code, message, { cause: error, target: at })
  switch (code) {
    case 'refused':
      return failure(`PostgreSQL refused the connection at ${at}`)
    case 'dns':
      return failure(`PostgreSQL host ${config.host} does not resolve`)
    case 'auth':
      return failure(`PostgreSQL rejected the credentials of user ${config.user}`)
    case 'not-found':
      return failure(`database "${database}" does not exist at ${at}`)
    case 'starting':
      return failure(`PostgreSQL at ${at} is starting up or shutting down`)
    case 'no-answer':
      return failure(`PostgreSQL at ${at} accepted no query within ${formatSeconds(config.connectTimeoutMs)}`)
    default:
      return failure(`PostgreSQL at ${at}: ${describeError(error)}`)
  }
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
