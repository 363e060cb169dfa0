import { diskUsage, formatBytes } from '../../systems/host.js'
import { listArchive, verifyChecksum } from '../../backups/verify.js'
import { stat } from 'node:fs/promises'
import { StepFailure, describeError } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { queryRows, withPostgres } from '../../systems/postgres.js'
import { dumpDatabase } from '../../backups/database.js'
import type { RestoreContext } from './context.js'

/** Before anything changes: the backup is whole, readable, and of this database. */
export const verifyBackupStep: Step<RestoreContext> = {
  id: 'verify',
  title: 'Verify the backup',
  async run({ config, runtimes, backup }) {
    const m = backup.manifest
    if (m.kind !== 'database') throw new StepFailure(`${m.id} is a ${m.kind} backup, not a database dump`, 'choose a database backup (probe-ops backup list)')
    if (m.database && m.database !== config.postgres.database) {
      throw new StepFailure(`${m.id} is a dump of database "${m.database}", not of "${config.postgres.database}"`, 'choose a backup of this database, or point postgres.database at the one it belongs to')
    }
    await verifyChecksum(backup)
    const listed = await listArchive(config, runtimes, backup)
    return { summary: `checksum matches; pg_restore reads ${listed.entries} entries`, data: { id: m.id, ...listed } }
  },
}

/** Where the database's files are, asked of the server (the live database need not exist). */
async function dataDirectory(config: RestoreContext['config']): Promise<string | undefined> {
  if (config.restore.dataDirPath) return config.restore.dataDirPath
  return withPostgres(config.postgres, async (client) => (await queryRows<{ dir: string }>(client, `select current_setting('data_directory') as dir`))[0]?.dir, { database: 'postgres' }).catch(() => undefined)
}

async function deviceOf(path: string): Promise<number | undefined> {
  return (await stat(path).catch(() => undefined))?.dev
}

/**
 * A restore needs room for a second copy of the database beside the live one, and, in the
 * backup directory, for the safety backup (about the size of the dump being restored).
 * Both count against one disk when they share it.
 */
export const diskStep: Step<RestoreContext> = {
  id: 'disk',
  title: 'Check free disk space',
  async run({ config, backup }) {
    const database = Math.round((backup.manifest.databaseBytes ?? backup.manifest.bytes * 4) * 1.2)
    const safety = Math.round(backup.manifest.bytes * 1.2)
    const reserve = config.restore.reserveBytes
    const path = await dataDirectory(config)
    const disk = path ? await diskUsage(path) : undefined
    const backups = await diskUsage(config.backup.dir)
    const shared = path !== undefined && (await deviceOf(path)) !== undefined && (await deviceOf(path)) === (await deviceOf(config.backup.dir))
    const data = { path, needed: database, free: disk?.freeBytes, backupDir: config.backup.dir, safetyNeeded: safety, backupDirFree: backups.freeBytes, sameDisk: shared, reserve }
    if (!backups.error && backups.freeBytes! - (shared ? safety + database : safety) < reserve) {
      const needed = shared ? safety + database : safety
      throw new StepFailure(
        `the safety backup${shared ? ' and the restored copy' : ''} need about ${formatBytes(needed)} on ${config.backup.dir}, which has ${formatBytes(backups.freeBytes!)} free and must keep ${formatBytes(reserve)}`,
        'free space there, point backup.dir at a bigger disk, or lower restore.reserveBytes',
        data,
      )
    }
    if (!disk || disk.error) {
      return { status: 'skipped', summary: `PostgreSQL's disk is not visible from here${path ? ` (${path})` : ''}; ${formatBytes(backups.freeBytes ?? 0)} free for the safety backup`, data, error: { message: 'free space for the restored copy not checked', hint: 'set restore.dataDirPath to a path on the database disk' } }
    }
    if (disk.freeBytes! - database < reserve) {
      throw new StepFailure(`the restore needs about ${formatBytes(database)} on ${path}, which has ${formatBytes(disk.freeBytes!)} free and must keep ${formatBytes(reserve)}`, 'free space on the database disk, or lower restore.reserveBytes', data)
    }
    const where = shared ? `${formatBytes(database + safety)} (copy and safety backup), ${formatBytes(disk.freeBytes!)} free on ${path}` : `${formatBytes(database)} on ${path} (${formatBytes(disk.freeBytes!)} free) and ${formatBytes(safety)} for the safety backup (${formatBytes(backups.freeBytes!)} free)`
    return { summary: `needs about ${where}`, data }
  },
}

/**
 * A dump of the live database before anything changes. Where there is no live database (the
 * disaster a restore is for) there is nothing to keep: a warning, and the restore goes on.
 */
export const safetyBackupStep: Step<RestoreContext> = {
  id: 'safety-backup',
  title: 'Back up the live database first',
  async run(context, run) {
    const live = context.config.postgres.database
    if (run.dryRun) return { summary: `would dump ${live} before changing it` }
    const exists = await withPostgres(context.config.postgres, async (client) => (await queryRows(client, 'select 1 from pg_database where datname = $1', [live])).length > 0, { database: 'postgres' })
    if (!exists) {
      const message = `there is no database ${live} to back up`
      return { status: 'warning', summary: `${message}: restoring without a safety backup`, error: { message, hint: 'nothing live can be lost; the restore creates it' } }
    }
    try {
      const { manifest } = await dumpDatabase(context.config, context.runtimes, { reason: 'safety', toolVersion: context.toolVersion, signal: run.signal })
      context.state.safetyBackup = manifest.id
      return { summary: `${manifest.id} (${formatBytes(manifest.bytes)})`, data: { id: manifest.id, bytes: manifest.bytes } }
    } catch (error) {
      if (run.signal.aborted) throw error
      const failure = error instanceof StepFailure ? error : new StepFailure(describeError(error))
      throw new StepFailure(failure.message, `${failure.hint ? `${failure.hint}; ` : ''}to restore without a safety backup, add --skip safety-backup (a full restore still keeps the live database as ${live}_pre_restore_...)`, failure.data)
    }
  },
}
