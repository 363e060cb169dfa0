import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from 'pg'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { sleep } from '../lib/time.js'
import { parseWalKey, WAL_DIRECTORY } from '../repositories/layout.js'
import { queryRows } from '../systems/postgres.js'
import type { WalChange, WalSettings } from '../wal/settings.js'

/**
 * WAL archiving for point-in-time recovery, PostgreSQL's side: the settings `backup wal-setup`
 * reads and sets (archive_command = probe-ops wal push, src/wal/settings.ts), the check that a
 * segment reaches the archive, and the newest archived segment a recovery can reach.
 */

/** The local repository's wal/ (backup.walDir, or backup.dir/wal). */
export function walDir(config: Config): string {
  return config.backup.walDir ?? join(config.backup.dir, WAL_DIRECTORY)
}

const SETTINGS = ['wal_level', 'archive_mode', 'archive_command', 'restore_command', 'archive_timeout']

export async function readWalSettings(client: Client): Promise<WalSettings> {
  const rows = await queryRows<{ name: string; setting: string; source: string; pending_restart: boolean }>(
    client,
    `select name, setting, source, pending_restart from pg_settings where name = any($1)`,
    [SETTINGS],
  )
  const get = (n: string) => rows.find((r) => r.name === n)?.setting ?? ''
  return {
    walLevel: get('wal_level'),
    archiveMode: get('archive_mode'),
    archiveCommand: get('archive_command'),
    restoreCommand: get('restore_command'),
    archiveTimeout: get('archive_timeout'),
    pendingRestart: rows.filter((r) => r.pending_restart).map((r) => r.name),
    sources: Object.fromEntries(rows.map((r) => [r.name, r.source])),
  }
}

export async function applyWalSettings(client: Client, changes: WalChange[]): Promise<void> {
  for (const change of changes) {
    // ALTER SYSTEM takes no parameters: the value is quoted as a literal.
    await client.query(`alter system set ${change.name} = '${change.to.replace(/'/g, "''")}'`)
  }
  await client.query('select pg_reload_conf()')
}

/**
 * Forces a segment switch and waits until `archived` says the segment is in the archive (every
 * repository), or PostgreSQL counts a failure of archive_command.
 */
export async function checkArchiving(
  client: Client,
  archived: (segment: string) => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<{ segment: string; ms: number }> {
  const started = Date.now()
  const [before] = await queryRows<{ failed: string }>(client, 'select failed_count::text as failed from pg_stat_archiver')
  // A segment with nothing in it is not switched; write a little WAL first.
  await client.query('select txid_current()')
  const [switched] = await queryRows<{ segment: string }>(client, 'select pg_walfile_name(pg_switch_wal()) as segment')
  const segment = switched!.segment
  while (Date.now() - started < timeoutMs) {
    if (await archived(segment)) return { segment, ms: Date.now() - started }
    const [now] = await queryRows<{ failed: string; last_failed: string | null }>(
      client,
      'select failed_count::text as failed, last_failed_wal as last_failed from pg_stat_archiver',
    )
    if (now!.failed !== before!.failed)
      throw new StepFailure(
        `archive_command failed for ${now!.last_failed}`,
        "PostgreSQL's log has the line probe-ops: wal push wrote; can PostgreSQL's OS user read the configuration and reach every repository?",
      )
    await sleep(200)
  }
  throw new StepFailure(
    `segment ${segment} did not reach every repository within ${timeoutMs / 1000} s`,
    'is archive_mode on (it needs a restart)? run probe-ops backup wal-setup',
  )
}

/**
 * The newest archived segment's time in the local repository's wal/: the latest moment
 * point-in-time recovery can reach. Both the content-addressed copies of wal push
 * (<archiveId>/<TL+log>/<name>-<sha256>…) and the plain ones the old `cp` command left count.
 */
export async function newestArchived(dir: string): Promise<Date | undefined> {
  let newest: Date | undefined
  const consider = async (path: string) => {
    const info = await stat(path)
    if (!newest || info.mtime > newest) newest = info.mtime
  }
  const names = (path: string) => readdir(path).catch(() => [] as string[])
  for (const name of await names(dir)) {
    if (/^[0-9A-F]{24}$/.test(name)) await consider(join(dir, name))
    else if (/^\d+-\d+$/.test(name))
      for (const folder of await names(join(dir, name)))
        for (const file of await names(join(dir, name, folder)))
          if (parseWalKey(`${WAL_DIRECTORY}/${name}/${folder}/${file}`)?.name.length === 24) await consider(join(dir, name, folder, file))
  }
  return newest
}
