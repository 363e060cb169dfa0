import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { execa } from 'execa'
import { S3RVER_ACCESS_KEY_ID } from '../bed/s3.js'
import { join } from 'node:path'
import { PG_BIN_DIR } from '../bed/index.js'
import { osUser } from '../bed/process.js'

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
