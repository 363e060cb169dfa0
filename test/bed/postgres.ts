/**
 * A throwaway PostgreSQL 15 cluster for integration tests: the toolkit's (src/local-platform), in
 * a temp dir as the `postgres` OS user, password (SCRAM) auth, TCP on 127.0.0.1 at a free port,
 * its unix socket in its own temp dir, the postmaster a child of the test process.
 */
import { randomBytes } from 'node:crypto'
import { chmod, chown } from 'node:fs/promises'
import path from 'node:path'
import {
  clusterClientConfig,
  clusterInfo,
  createDatabaseIfMissing,
  initCluster,
  pgString,
  queryOnce,
  resumeTree,
  startCluster,
  stopCluster,
  waitForCluster,
  type ClusterOptions,
  type PostgresInfo,
} from '../../src/local-platform/postgres.js'
import { childPids } from '../../src/lib/process.js'
import { freePort } from './ports.js'
import { bedError, logTail, makeTempDir, osUser, removeDir, track, type OsUser } from './process.js'

export { PG_BIN_DIR } from '../../src/local-platform/postgres.js'
export type { OsUser, PostgresInfo }
/** pg client settings for a bed postgres (the superuser, over TCP). */
export const pgClientConfig = clusterClientConfig
/** Run one query on a fresh connection and close it. */
export const pgQuery = queryOnce
export const createDatabase = createDatabaseIfMissing

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

export interface InitDataDirOptions {
  dataDir: string
  password: string
  port: number
  /** unix_socket_directories as seen by the server (inside a container: its mount point). */
  socketDir: string
  user: OsUser
  extraConf?: Record<string, string | number | boolean>
}

/** The bed's settings: nothing is kept (no fsync), small, room for every test's connections. */
const BED_SETTINGS: ClusterOptions['settings'] = { fsync: 'off', shared_buffers: pgString('32MB'), max_connections: 100 }

/** initdb as the postgres OS user (the parent of dataDir must be writable by it), SCRAM only, the bed's settings. */
export async function initDataDir(options: InitDataDirOptions): Promise<void> {
  const { extraConf, ...cluster } = options
  await initCluster({ ...cluster, settings: { ...BED_SETTINGS, ...extraConf } })
}

/** Poll until SELECT 1 works with these settings. */
export function waitForPostgres(...args: Parameters<typeof waitForCluster>): Promise<void> {
  return bedError(() => waitForCluster(...args))
}

/** A fresh dir owned by `user` only. */
async function privateDir(prefix: string, user: OsUser): Promise<string> {
  const dir = await makeTempDir(prefix)
  await chmod(dir, 0o700)
  await chown(dir, user.uid, user.gid)
  return dir
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const user = osUser('postgres')
  const tracked = track()
  const release = async (): Promise<void> => {
    for (const dir of tracked.entry.dirs) await removeDir(dir)
    tracked.untrack()
  }
  try {
    const root = await privateDir('pgbed-', user)
    tracked.entry.dirs.push(root)
    const socketDir = await privateDir('pgs-', user)
    tracked.entry.dirs.push(socketDir)
    const dataDir = path.join(root, 'data')
    const password = options.password ?? randomPassword()
    const port = options.port ?? (await freePort())
    const database = options.database ?? 'network_probe'
    await initDataDir({ dataDir, password, port, socketDir, user, extraConf: options.extraConf })
    const logFile = path.join(root, 'postgres.log')
    const { service } = await startCluster({ dataDir, logFile, user, supervise: 'child' })
    tracked.entry.graceful.push([service!.pid, 'SIGQUIT'])
    tracked.entry.pids.push(service!.pid)
    const info = clusterInfo({ port, password, database, dataDir, socketDir, pid: service!.pid, logFile })
    // A test may have restarted the cluster itself (pg_ctl): stopCluster stops whatever postmaster.pid names too.
    const stop = async (): Promise<void> => {
      await stopCluster(dataDir, { service })
      await release()
    }
    try {
      await waitForCluster(pgClientConfig(info, 'postgres'), { timeoutMs: 30_000, service })
      if (database !== 'postgres') await createDatabase(pgClientConfig(info, 'postgres'), database)
    } catch (error) {
      const log = await logTail(logFile)
      await stop()
      throw new Error(`test bed: ${error instanceof Error ? error.message : String(error)}\n--- postgres log ---\n${log}`)
    }
    return { info, stop }
  } catch (error) {
    await release()
    throw error
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
export function pausePostgres(server: { pid: number }, options: PauseOptions = {}): void {
  process.kill(server.pid, 'SIGSTOP')
  if (!options.backends) return
  for (const pid of childPids(server.pid)) {
    try {
      process.kill(pid, 'SIGSTOP')
    } catch {
      /* exited */
    }
  }
}

/** SIGCONT the postmaster and all its children (safe to call when nothing is paused). */
export function resumePostgres(server: { pid: number }): void {
  resumeTree(server.pid)
}
