/**
 * A throwaway PostgreSQL 15 cluster for integration tests: initdb into a temp dir as the
 * `postgres` OS user, password (SCRAM) auth, TCP on 127.0.0.1 at a free port, its unix socket in
 * its own temp dir.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { appendFile, chmod, chown, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execa } from 'execa'
import pg from 'pg'
import { freePort } from './ports.js'
import { childPids, logTail, makeTempDir, osUser, removeDir, spawnService, stopService, track, waitUntil, type OsUser } from './process.js'

export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin'

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

export interface PostgresServer {
  info: PostgresInfo
  /** Fast shutdown (SIGINT, what `pg_ctl stop -m fast` sends), escalating; then removes the dirs. */
  stop(): Promise<void>
}

export interface StartPostgresOptions {
  /** Database to create besides `postgres` (default `network_probe`). */
  database?: string
  /** Extra postgresql.conf settings (values written verbatim, quote strings yourself). */
  extraConf?: Record<string, string | number | boolean>
  /** Password of the `postgres` superuser (random by default). */
  password?: string
  port?: number
}

export function randomPassword(): string {
  return randomBytes(16).toString('hex')
}

/** pg client settings for a bed postgres (the superuser, over TCP). */
export function pgClientConfig(info: Pick<PostgresInfo, 'host' | 'port' | 'user' | 'password' | 'database'>, database?: string): pg.ClientConfig {
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database: database ?? info.database,
    connectionTimeoutMillis: 5000,
  }
}

/** Run one query on a fresh connection and close it. */
export async function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  config: pg.ClientConfig,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client(config)
  client.on('error', () => {
    /* reported through the query */
  })
  try {
    await client.connect()
    return await client.query<R>(sql, params)
  } finally {
    await client.end().catch(() => undefined)
  }
}

function confLine(key: string, value: string | number | boolean): string {
  return `${key} = ${typeof value === 'string' ? value : String(value)}\n`
}

export interface InitDataDirOptions {
  dataDir: string
  password: string
  port: number
  /** unix_socket_directories as seen by the server (inside a container: its mount point). */
  socketDir: string
  user: OsUser
  extraConf?: Record<string, string | number | boolean>
}

/**
 * initdb as the postgres OS user (the parent of dataDir must be traversable by it), then write
 * pg_hba.conf and our settings. Only SCRAM password auth is accepted, on the socket and on
 * 127.0.0.1 (normal and replication connections, so pg_basebackup works).
 */
export async function initDataDir(opts: InitDataDirOptions): Promise<void> {
  const { dataDir, user } = opts
  const pwFile = path.join(path.dirname(dataDir), `.pw-${randomBytes(4).toString('hex')}`)
  await writeFile(pwFile, `${opts.password}\n`, { mode: 0o600 })
  await chown(pwFile, user.uid, user.gid)
  try {
    await execa(
      path.join(PG_BIN_DIR, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions'],
      {
        uid: user.uid,
        gid: user.gid,
        cwd: path.dirname(dataDir),
        env: { LANG: 'C.UTF-8', HOME: path.dirname(dataDir) },
        extendEnv: false,
        all: true,
        timeout: 60_000,
      },
    ).catch((err: unknown) => {
      const detail = err instanceof Error ? err.message : String(err)
      throw new Error(`test bed: initdb failed for ${dataDir}: ${detail}`)
    })
  } finally {
    await rm(pwFile, { force: true })
  }
  const hba = path.join(dataDir, 'pg_hba.conf')
  await writeFile(
    hba,
    [
      '# test bed: password (SCRAM) authentication only',
      'local   all          all                    scram-sha-256',
      'host    all          all    127.0.0.1/32    scram-sha-256',
      'host    replication  all    127.0.0.1/32    scram-sha-256',
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  await chown(hba, user.uid, user.gid)
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: "'127.0.0.1'",
    port: opts.port,
    unix_socket_directories: `'${opts.socketDir}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    shared_buffers: "'32MB'",
    max_connections: 100,
    shared_preload_libraries: "'pg_stat_statements'",
    'pg_stat_statements.track': "'all'",
    log_destination: "'stderr'",
    logging_collector: 'off',
    ...opts.extraConf,
  }
  await appendFile(
    path.join(dataDir, 'postgresql.conf'),
    `\n# --- test bed settings ---\n${Object.entries(settings)
      .map(([k, v]) => confLine(k, v))
      .join('')}`,
  )
}

/** Poll until SELECT 1 works with these settings. */
export async function waitForPostgres(
  config: pg.ClientConfig,
  opts: { timeoutMs: number; what?: string; service?: Parameters<typeof waitUntil>[2]['service']; check?: () => Promise<void> },
): Promise<void> {
  await waitUntil(
    opts.what ?? `postgres on ${config.host}:${config.port} to answer SELECT 1`,
    async () => {
      try {
        await pgQuery({ ...config, connectionTimeoutMillis: 2000 }, 'SELECT 1')
        return true
      } catch (err) {
        await opts.check?.()
        throw err
      }
    },
    { timeoutMs: opts.timeoutMs, intervalMs: 100, service: opts.service },
  )
}

export async function createDatabase(config: pg.ClientConfig, database: string): Promise<void> {
  const exists = await pgQuery(config, 'SELECT 1 FROM pg_database WHERE datname = $1', [database])
  if (exists.rowCount === 0) {
    await pgQuery(config, `CREATE DATABASE "${database.replaceAll('"', '""')}"`)
  }
}

/** pid recorded in a data dir's postmaster.pid, when the file exists. */
function postmasterPidFromFile(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'postmaster.pid')
  if (!existsSync(file)) return undefined
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const user = osUser('postgres')
  const root = await makeTempDir('pgbed-')
  const socketDir = await makeTempDir('pgs-')
  const tracked = track({ dirs: [root, socketDir] })
  const cleanup = async (): Promise<void> => {
    await removeDir(root)
    await removeDir(socketDir)
    tracked.untrack()
  }
  try {
    await chmod(root, 0o700)
    await chown(root, user.uid, user.gid)
    await chmod(socketDir, 0o700)
    await chown(socketDir, user.uid, user.gid)
    const dataDir = path.join(root, 'data')
    const password = opts.password ?? randomPassword()
    const port = opts.port ?? (await freePort())
    const database = opts.database ?? 'network_probe'
    await initDataDir({ dataDir, password, port, socketDir, user, extraConf: opts.extraConf })

    const logFile = path.join(root, 'postgres.log')
    await writeFile(logFile, '')
    await chown(logFile, user.uid, user.gid)
    const service = await spawnService({
      name: 'postgres',
      command: path.join(PG_BIN_DIR, 'postgres'),
      args: ['-D', dataDir],
      logFile,
      cwd: root,
      env: { LANG: 'C.UTF-8', PATH: process.env.PATH ?? '/usr/bin:/bin' },
      uid: user.uid,
      gid: user.gid,
    })
    tracked.entry.graceful.push([service.pid, 'SIGQUIT'])
    tracked.entry.pids.push(service.pid)
    const info: PostgresInfo = {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database,
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      dataDir,
      socketDir,
      pid: service.pid,
      binDir: PG_BIN_DIR,
      logFile,
    }
    const stop = async (): Promise<void> => {
      resumePostgres(info)
      // SIGINT = fast shutdown (pg_ctl stop -m fast); SIGQUIT = immediate; then SIGKILL.
      await stopService(service, [
        ['SIGINT', 10_000],
        ['SIGQUIT', 5_000],
      ])
      // A test may have restarted the cluster itself (pg_ctl): stop whatever postmaster.pid names.
      const other = postmasterPidFromFile(dataDir)
      if (other !== undefined && other !== service.pid) {
        try {
          process.kill(other, 'SIGCONT')
          process.kill(other, 'SIGQUIT')
        } catch {
          /* not running */
        }
        await execa(path.join(PG_BIN_DIR, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-t', '10'], {
          uid: user.uid,
          gid: user.gid,
          reject: false,
          timeout: 15_000,
        })
      }
      await cleanup()
    }
    try {
      await waitForPostgres(pgClientConfig(info, 'postgres'), { timeoutMs: 30_000, service })
      if (database !== 'postgres') await createDatabase(pgClientConfig(info, 'postgres'), database)
    } catch (err) {
      const log = await logTail(logFile)
      await stop()
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- postgres log ---\n${log}`)
    }
    return { info, stop }
  } catch (err) {
    await cleanup()
    throw err
  }
}

export interface PauseOptions {
  /**
   * Also stop every child of the postmaster (backends, checkpointer, …): then established
   * connections hang too, not only new ones. Default false (only the postmaster: new
   * connections complete the TCP handshake but never get a reply).
   */
  backends?: boolean
}

/** SIGSTOP the postmaster (and optionally its children): the server hangs. */
export function pausePostgres(pg: { pid: number }, opts: PauseOptions = {}): void {
  process.kill(pg.pid, 'SIGSTOP')
  if (opts.backends) {
    for (const pid of childPids(pg.pid)) {
      try {
        process.kill(pid, 'SIGSTOP')
      } catch {
        /* exited */
      }
    }
  }
}

/** SIGCONT the postmaster and all its children (safe to call when nothing is paused). */
export function resumePostgres(pg: { pid: number }): void {
  for (const pid of childPids(pg.pid)) {
    try {
      process.kill(pid, 'SIGCONT')
    } catch {
      /* exited */
    }
  }
  try {
    process.kill(pg.pid, 'SIGCONT')
  } catch {
    /* not running */
  }
}
