import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { execa } from 'execa'
import { S3RVER_ACCESS_KEY_ID } from '../bed/s3.js'
import { join } from 'node:path'
import type pg from 'pg'
import { PG_BIN_DIR, pgClientConfig, pgQuery, type PostgresInfo } from '../bed/index.js'
import { osUser } from '../bed/process.js'
import { waitFor } from './polling.js'

/** A file PostgreSQL's user owns, private to it (as credentials and identity files are on a host). */
export function givePostgres(path: string): void {
  const user = osUser('postgres')
  chownSync(path, user.uid, user.gid)
  chmodSync(path, 0o600)
}

/**
 * probe-ops' services for a test's own PostgreSQL: only postgres, a process on `dataDir` that
 * probe-ops stops through its pid file and starts again with pg_ctl as PostgreSQL's user.
 */
export function postgresProcessServices(dataDir: string): Record<string, unknown> {
  return {
    management: { enabled: false },
    web: { enabled: false },
    redis: { enabled: false },
    postgres: {
      runtime: 'process',
      pidFile: join(dataDir, 'postmaster.pid'),
      dataDir,
      start: ['runuser', '-u', 'postgres', '--', join(PG_BIN_DIR, 'pg_ctl'), '-D', dataDir, '-l', join(dataDir, '..', 'restarted.log'), '-w', 'start'],
      readinessTimeoutSeconds: 30,
      stopGraceSeconds: 20,
    },
  }
}

/**
 * A test's directory that PostgreSQL's user goes through (its wal push and wal fetch read the
 * configuration there), with a local repository it owns, s3rver's credentials and an age identity
 * it can read, as backup wal-setup asks on a host.
 */
export async function walArchiveFiles(prefix: string): Promise<{ root: string; local: string; identity: string; recipient: string }> {
  const root = mkdtempSync(prefix)
  chmodSync(root, 0o711)
  const local = join(root, 'local')
  mkdirSync(local, { mode: 0o700 })
  const user = osUser('postgres')
  chownSync(local, user.uid, user.gid)
  writeFileSync(join(root, 'credentials'), `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = S3RVER\n`)
  givePostgres(join(root, 'credentials'))
  const identity = join(root, 'identity')
  await execa('age-keygen', ['-o', identity])
  givePostgres(identity)
  const recipient = (await execa('age-keygen', ['-y', identity])).stdout.trim()
  return { root, local, identity, recipient }
}

/**
 * SQL on a test's own archiving cluster (its network_probe database), and a WAL switch awaited
 * until PostgreSQL's archiver has pushed the segment (wal push exits 0 only once every
 * repository holds it). `info` is read at each call: the test starts the server later.
 */
export function archivingCluster(info: () => PostgresInfo): {
  query<R extends pg.QueryResultRow>(text: string): Promise<R[]>
  archiveNow(): Promise<void>
} {
  const query = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => (await pgQuery<R>(pgClientConfig(info(), 'network_probe'), text)).rows
  const archiveNow = async (): Promise<void> => {
    const [row] = await query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment')
    await waitFor(`${row!.segment} to be archived`, async () => {
      const [state] = await query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver')
      return state!.last !== null && state!.last >= row!.segment ? true : undefined
    }).catch((error: Error) => {
      throw new Error(`${error.message}; the server's log ends: ${readFileSync(info().logFile, 'utf8').split('\n').slice(-15).join('\n')}`)
    })
  }
  return { query, archiveNow }
}
