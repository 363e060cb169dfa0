import { randomBytes } from 'node:crypto'
import { appendFile, chown, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type pg from 'pg'
import { describeError } from '../errors.js'
import { commandLine, processTree } from '../lib/process.js'
import type { OsUser } from '../systems/os-user.js'
import { readPid } from '../systems/process.js'
import { lastLine, runProgramToSuccess } from '../systems/programs.js'
import { PlatformFailure, logTail, serviceEnvironment, startService, stopService, waitUntilReady, type RunningService } from './services.js'

/** A throwaway PostgreSQL 15 cluster: initdb with a password (SCRAM only), on 127.0.0.1, run as its own OS user when we are root. */

export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin'

/** Where a cluster is and how to reach it as its superuser. */
export interface PostgresInfo {
  host: string
  port: number
  /** Superuser name (`postgres`). */
  user: string
  password: string
  /** The application database, `network_probe` unless told otherwise. */
  database: string
  /** postgres://user:password@host:port/database */
  url: string
  dataDir: string
  socketDir: string
  /** pid of the postmaster. */
  pid: number
  binDir: string
  logFile: string
}

export interface ClusterOptions {
  dataDir: string
  port: number
  password: string
  /** unix_socket_directories as the server sees it (in a container: its mount point); '' for none. */
  socketDir: string
  /** The OS user that owns and runs it (PostgreSQL refuses root). */
  user?: OsUser
  /** initdb's --locale. */
  locale?: string
  /** postgresql.conf settings besides ours, written as given (quote strings with pgString). */
  settings?: Record<string, string | number | boolean>
}

/** A string value for postgresql.conf. */
export function pgString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

/** Only SCRAM password authentication, on the socket and on 127.0.0.1 (replication too, for pg_basebackup). */
const PG_HBA = [
  '# password (SCRAM) authentication only',
  'local   all          all                    scram-sha-256',
  'host    all          all    127.0.0.1/32    scram-sha-256',
  'host    replication  all    127.0.0.1/32    scram-sha-256',
  '',
].join('\n')

async function chownTo(path: string, user: OsUser | undefined): Promise<void> {
  if (user && process.getuid?.() === 0) await chown(path, user.uid, user.gid)
}

/**
 * initdb as the cluster's user (the parent of dataDir must be writable by it), then our
 * pg_hba.conf and settings. The password goes through a file, never argv.
 */
export async function initCluster(options: ClusterOptions): Promise<void> {
  const { dataDir, user } = options
  const parent = dirname(dataDir)
  const passwordFile = join(parent, `.initdb-pw-${randomBytes(6).toString('hex')}`)
  await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600, flag: 'wx' })
  await chownTo(passwordFile, user)
  try {
    await runProgramToSuccess(
      join(PG_BIN_DIR, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        `--locale=${options.locale ?? 'C.UTF-8'}`,
        '--no-sync',
        '--no-instructions',
      ],
      { cwd: parent, user, env: serviceEnvironment(parent), replaceEnv: true, timeoutMs: 60_000 },
    )
  } catch (error) {
    throw new PlatformFailure(`initdb failed for ${dataDir}: ${describeError(error)}`, undefined, `check that ${parent} is writable by ${user?.name ?? 'you'}`)
  } finally {
    await rm(passwordFile, { force: true })
  }
  const hba = join(dataDir, 'pg_hba.conf')
  await writeFile(hba, PG_HBA, { mode: 0o600 })
  await chownTo(hba, user)
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: pgString('127.0.0.1'),
    port: options.port,
    unix_socket_directories: pgString(options.socketDir),
    shared_preload_libraries: pgString('pg_stat_statements'),
    'pg_stat_statements.track': 'all',
    synchronous_commit: 'off',
    logging_collector: 'off',
    log_destination: pgString('stderr'),
    ...options.settings,
  }
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${String(value)}\n`)
  await appendFile(join(dataDir, 'postgresql.conf'), `\n# --- local platform settings ---\n${lines.join('')}`)
}

export interface StartClusterOptions {
  dataDir: string
  logFile: string
  user?: OsUser
  /**
   * 'child': the postmaster is our child, stopped with us (the test bed). 'pg_ctl': pg_ctl
   * starts it in a session of its own, so it outlives us (the sandbox), and returns once it
   * accepts connections.
   */
  supervise: 'child' | 'pg_ctl'
}

/** Starts a cluster initCluster made; its log file is created for its user. */
export async function startCluster(options: StartClusterOptions): Promise<{ pid: number; service?: RunningService }> {
  const { dataDir, logFile, user } = options
  await writeFile(logFile, '', { mode: 0o640, flag: 'a' })
  await chownTo(logFile, user)
  const cwd = dirname(dataDir)
  if (options.supervise === 'child') {
    const service = await startService({ name: 'postgres', command: join(PG_BIN_DIR, 'postgres'), args: ['-D', dataDir], logFile, cwd, user })
    return { pid: service.pid, service }
  }
  try {
    await runProgramToSuccess(join(PG_BIN_DIR, 'pg_ctl'), ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30', '-s'], {
      cwd,
      user,
      env: serviceEnvironment(cwd),
      replaceEnv: true,
      timeoutMs: 40_000,
      detached: true,
    })
  } catch (error) {
    throw new PlatformFailure(`PostgreSQL did not start: ${lastLine(await logTail(logFile)) ?? describeError(error)}`, logFile)
  }
  const pid = await postmasterPid(dataDir)
  if (pid === undefined) throw new PlatformFailure(`PostgreSQL started, but ${join(dataDir, 'postmaster.pid')} names no process`, logFile)
  return { pid }
}

/** The postmaster running `dataDir` by its postmaster.pid, when that process really runs this data directory. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const pid = await readPid(join(dataDir, 'postmaster.pid')).catch(() => undefined)
  return pid !== undefined && commandLine(pid)?.includes(dataDir) ? pid : undefined
}

/** Fast shutdown (what `pg_ctl stop -m fast` sends), then immediate, then SIGKILL. */
const CLUSTER_STOP_STEPS = [
  ['SIGINT', 10_000],
  ['SIGQUIT', 5_000],
] as const

/**
 * Stops a cluster: the postmaster we know of (our child, or pids proven to be this cluster's) and
 * whichever its postmaster.pid names now (it may have been restarted since, by pg_ctl). Every
 * process of it is resumed first, so that a paused one can act on the shutdown. Returns whether
 * all of them are gone.
 */
export async function stopCluster(dataDir: string, known: { service?: RunningService; pids?: readonly number[] } = {}): Promise<boolean> {
  const current = await postmasterPid(dataDir)
  const targets = [
    ...(known.service ? [known.service] : []),
    ...[...new Set([...(known.pids ?? []), ...(current === undefined ? [] : [current])])].filter((pid) => pid !== known.service?.pid).map((pid) => ({ pid })),
  ]
  for (const target of targets) resumeTree(target.pid)
  const stopped = await Promise.all(targets.map((target) => stopService(target, CLUSTER_STOP_STEPS)))
  return stopped.every(Boolean)
}

/** SIGCONT to a process and all its descendants (safe when nothing is stopped). */
export function resumeTree(pid: number): void {
  for (const member of processTree(pid)) {
    try {
      process.kill(member, 'SIGCONT')
    } catch {
      // gone meanwhile
    }
  }
}

/** How a client reaches a cluster. */
export type ClusterConnection = Pick<PostgresInfo, 'host' | 'port' | 'user' | 'password' | 'database'>

/** pg client settings for a cluster's superuser over TCP. */
export function clusterClientConfig(connection: ClusterConnection, database?: string): pg.ClientConfig {
  return {
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    database: database ?? connection.database,
    connectionTimeoutMillis: 5000,
  }
}

/** One query on a fresh connection, closed after. */
export async function queryOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(
  config: pg.ClientConfig,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const { default: postgres } = await import('pg')
  const client = new postgres.Client(config)
  client.on('error', () => {
    // reported through the query
  })
  try {
    await client.connect()
    return await client.query<R>(sql, params)
  } finally {
    await client.end().catch(() => undefined)
  }
}

export interface WaitForClusterOptions {
  timeoutMs: number
  what?: string
  service?: RunningService
  logFile?: string
  /** Runs after each failed attempt; throws GiveUp when the cluster cannot come (its container is gone). */
  check?: () => Promise<void>
}

/** Polls until SELECT 1 works with these settings. */
export async function waitForCluster(config: pg.ClientConfig, options: WaitForClusterOptions): Promise<void> {
  await waitUntilReady(
    options.what ?? `PostgreSQL on ${config.host}:${config.port} to answer SELECT 1`,
    async () => {
      try {
        await queryOnce({ ...config, connectionTimeoutMillis: 2000 }, 'SELECT 1')
        return true
      } catch (error) {
        await options.check?.()
        throw error
      }
    },
    { timeoutMs: options.timeoutMs, intervalMs: 100, service: options.service, logFile: options.logFile },
  )
}

export async function createDatabaseIfMissing(config: pg.ClientConfig, database: string): Promise<void> {
  const exists = await queryOnce(config, 'SELECT 1 FROM pg_database WHERE datname = $1', [database])
  if (exists.rowCount === 0) await queryOnce(config, `CREATE DATABASE "${database.replaceAll('"', '""')}"`)
}

/** Everything about a cluster in one record, its URL made in one place. */
export function clusterInfo(facts: Omit<PostgresInfo, 'host' | 'user' | 'url' | 'binDir'>): PostgresInfo {
  const { port, password, database } = facts
  return {
    ...facts,
    host: '127.0.0.1',
    user: 'postgres',
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    binDir: PG_BIN_DIR,
  }
}
