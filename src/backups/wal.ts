import { chown, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from 'pg'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { sleep } from '../lib/time.js'
import { queryRows } from '../systems/postgres.js'
import { postgresOsUser } from '../systems/os-user.js'
import { makeDirectories } from '../lib/files.js'

/**
 * WAL archiving for point-in-time recovery: PostgreSQL copies each finished WAL segment into
 * backup.walDir (the archive_command of the PostgreSQL documentation, which refuses to
 * overwrite), and archive_timeout bounds how much a crash can lose.
 */

export const ARCHIVE_TIMEOUT_S = 300

export function walDir(config: Config): string {
  return config.backup.walDir ?? join(config.backup.dir, 'wal')
}

export function archiveCommand(dir: string): string {
  return `test ! -f '${dir}/%f' && cp '%p' '${dir}/%f'`
}

export interface WalSettings {
  walLevel: string
  archiveMode: string
  archiveCommand: string
  archiveTimeout: string
  /** Settings changed but waiting for a restart. */
  pendingRestart: string[]
}

export async function readWalSettings(client: Client): Promise<WalSettings> {
  const rows = await queryRows<{ name: string; setting: string; pending_restart: boolean }>(
    client,
    `select name, setting, pending_restart from pg_settings where name in ('wal_level', 'archive_mode', 'archive_command', 'archive_timeout')`,
  )
  const get = (n: string) => rows.find((r) => r.name === n)?.setting ?? ''
  return {
    walLevel: get('wal_level'),
    archiveMode: get('archive_mode'),
    archiveCommand: get('archive_command'),
    archiveTimeout: get('archive_timeout'),
    pendingRestart: rows.filter((r) => r.pending_restart).map((r) => r.name),
  }
}

export interface WalChange {
  name: string
  from: string
  to: string
  needsRestart: boolean
}

export function wantedChanges(current: WalSettings, dir: string): WalChange[] {
  const changes: WalChange[] = []
  if (current.walLevel === 'minimal') changes.push({ name: 'wal_level', from: current.walLevel, to: 'replica', needsRestart: true })
  if (current.archiveMode !== 'on' && current.archiveMode !== 'always')
    changes.push({ name: 'archive_mode', from: current.archiveMode, to: 'on', needsRestart: true })
  if (current.archiveCommand !== archiveCommand(dir))
    changes.push({ name: 'archive_command', from: current.archiveCommand, to: archiveCommand(dir), needsRestart: false })
  if (current.archiveTimeout === '0' || Number(current.archiveTimeout) > ARCHIVE_TIMEOUT_S)
    changes.push({ name: 'archive_timeout', from: current.archiveTimeout, to: String(ARCHIVE_TIMEOUT_S), needsRestart: false })
  return changes
}

/** The archive directory, owned by PostgreSQL's OS user, which writes into it. */
export async function prepareWalDir(config: Config, dataDir?: string): Promise<void> {
  const dir = walDir(config)
  await makeDirectories(dir, 0o700)
  const owner = postgresOsUser(dataDir)
  if (owner && process.getuid?.() === 0) await chown(dir, owner.uid, owner.gid)
}

export async function applyWalSettings(client: Client, changes: WalChange[]): Promise<void> {
  for (const change of changes) {
    // ALTER SYSTEM takes no parameters: the value is quoted as a literal.
    await client.query(`alter system set ${change.name} = '${change.to.replace(/'/g, "''")}'`)
  }
  await client.query('select pg_reload_conf()')
}

/** Forces a segment switch and waits until that segment is in the archive. */
export async function checkArchiving(client: Client, dir: string, timeoutMs = 15_000): Promise<{ segment: string; ms: number }> {
  const started = Date.now()
  const [before] = await queryRows<{ failed: string }>(client, 'select failed_count::text as failed from pg_stat_archiver')
  // A segment with nothing in it is not switched; write a little WAL first.
  await client.query('select txid_current()')
  const [switched] = await queryRows<{ segment: string }>(client, 'select pg_walfile_name(pg_switch_wal()) as segment')
  const segment = switched!.segment
  while (Date.now() - started < timeoutMs) {
    const present = await stat(join(dir, segment)).then(
      () => true,
      () => false,
    )
    if (present) return { segment, ms: Date.now() - started }
    const [now] = await queryRows<{ failed: string; last_failed: string | null }>(
      client,
      'select failed_count::text as failed, last_failed_wal as last_failed from pg_stat_archiver',
    )
    if (now!.failed !== before!.failed)
      throw new StepFailure(`archive_command failed for ${now!.last_failed}`, `read PostgreSQL's log; can the server's OS user write to ${dir}?`)
    await sleep(200)
  }
  throw new StepFailure(
    `segment ${segment} did not reach ${dir} within ${timeoutMs / 1000} s`,
    'is archive_mode on (it needs a restart)? run probe-ops backup wal-setup',
  )
}

/** The newest archived segment's time: the latest moment point-in-time recovery can reach. */
export async function newestArchived(dir: string): Promise<Date | undefined> {
  let newest: Date | undefined
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9A-F]{24}$/.test(name)) continue
    const info = await stat(join(dir, name))
    if (!newest || info.mtime > newest) newest = info.mtime
  }
  return newest
}
