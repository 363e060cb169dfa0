import { diskUsage, formatBytes, sameFilesystem } from '../../systems/host.js'
import { listArchive, verifyChecksum } from '../../backups/verify.js'
import { StepFailure, describeError } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { queryRows, withPostgres } from '../../systems/postgres.js'
import { hintOf } from '../hints.js'
import { dumpDatabase } from '../../backups/database.js'
import { withRefused } from '../backup/refused.js'
import type { RestoreContext } from './context.js'

/** Before anything changes: the backup is whole, readable, and of this database. */
export const verifyBackupStep: Step<RestoreContext> = {
  id: 'verify',
  title: 'Verify the backup',
  async run({ config, runtimes, backup, unreadable }) {
    const m = backup.manifest
    if (m.kind !== 'database') throw new StepFailure(`${m.id} is a ${m.kind} backup, not a database dump`, 'choose a database backup (probe-ops backup list)')
    if (m.database && m.database !== config.postgres.database) {
      throw new StepFailure(
        `${m.id} is a dump of database "${m.database}", not of "${config.postgres.database}"`,
        'choose a backup of this database, or point postgres.database at the one it belongs to',
      )
    }
    await verifyChecksum(backup)
    const listed = await listArchive(config, runtimes, backup)
    return withRefused({ summary: `${m.id}: checksum matches; pg_restore reads ${listed.entries} entries`, data: { id: m.id, ...listed } }, unreadable)
  },
}

/** What the server says of itself: where its files are, and the live database's size (none: it does not exist). */
async function serverFacts(config: RestoreContext['config']): Promise<{ dataDir?: string; liveBytes?: number }> {
  return withPostgres(
    config.postgres,
    async (client) => {
      const [row] = await queryRows<{ dir: string; bytes: string | null }>(
        client,
        `select current_setting('data_directory') as dir, (select pg_database_size(datname) from pg_database where datname = $1) as bytes`,
        [config.postgres.database],
      )
      return { dataDir: config.restore.dataDirPath ?? row?.dir, liveBytes: row?.bytes === null || row?.bytes === undefined ? undefined : Number(row.bytes) }
    },
    { database: 'postgres' },
  ).catch(() => ({ dataDir: config.restore.dataDirPath }))
}

/**
 * A restore needs room for a second copy of the database beside the live one, and, in the
 * backup directory, for the safety backup: the live database compressed as well as the backup
 * was. Both count against one disk when they share it.
 */
export const diskStep: Step<RestoreContext> = {
  id: 'disk',
  title: 'Check free disk space',
  async run({ config, backup }) {
    const m = backup.manifest
    const copyBytes = Math.round((m.databaseBytes ?? m.bytes * 4) * 1.2)
    const { dataDir, liveBytes } = await serverFacts(config)
    // No live database, no safety backup. A backup taken at a higher compression level than today's is smaller: hence the margin.
    const safetyBytes = liveBytes === undefined ? 0 : Math.round(liveBytes * (m.databaseBytes ? m.bytes / m.databaseBytes : 0.25) * 1.5)
    const reserve = config.restore.reserveBytes
    const dataDisk = dataDir ? await diskUsage(dataDir) : undefined
    const backupDisk = await diskUsage(config.backup.dir)
    const shared = dataDir !== undefined && (await sameFilesystem(dataDir, config.backup.dir))
    const data = {
      path: dataDir,
      needed: copyBytes,
      free: dataDisk?.freeBytes,
      backupDir: config.backup.dir,
      safetyNeeded: safetyBytes,
      backupDirFree: backupDisk.freeBytes,
      sameDisk: shared,
      reserve,
    }
    const inBackupDir = shared ? safetyBytes + copyBytes : safetyBytes
    if (!backupDisk.error && backupDisk.freeBytes! - inBackupDir < reserve) {
      throw new StepFailure(
        `the safety backup${shared ? ' and the restored copy' : ''} need about ${formatBytes(inBackupDir)} on ${config.backup.dir}, which has ${formatBytes(backupDisk.freeBytes!)} free and must keep ${formatBytes(reserve)}`,
        'free space there, point backup.dir at a bigger disk, or lower restore.reserveBytes',
        data,
      )
    }
    if (!dataDisk || dataDisk.error) {
      return {
        status: 'skipped',
        summary: `PostgreSQL's disk is not visible from here${dataDir ? ` (${dataDir})` : ''}; ${formatBytes(backupDisk.freeBytes ?? 0)} free for the safety backup`,
        data,
        error: { message: 'free space for the restored copy not checked', hint: 'set restore.dataDirPath to a path on the database disk' },
      }
    }
    if (dataDisk.freeBytes! - copyBytes < reserve) {
      throw new StepFailure(
        `the restore needs about ${formatBytes(copyBytes)} on ${dataDir}, which has ${formatBytes(dataDisk.freeBytes!)} free and must keep ${formatBytes(reserve)}`,
        'free space on the database disk, or lower restore.reserveBytes',
        data,
      )
    }
    const where = shared
      ? `${formatBytes(copyBytes + safetyBytes)} (copy and safety backup), ${formatBytes(dataDisk.freeBytes!)} free on ${dataDir}`
      : `${formatBytes(copyBytes)} on ${dataDir} (${formatBytes(dataDisk.freeBytes!)} free) and ${formatBytes(safetyBytes)} for the safety backup (${formatBytes(backupDisk.freeBytes!)} free)`
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
  cleanupMs: 10_000,
  async run(context, run) {
    const live = context.config.postgres.database
    if (run.dryRun) return { summary: `would dump ${live} before changing it` }
    const exists = await withPostgres(
      context.config.postgres,
      async (client) => (await queryRows(client, 'select 1 from pg_database where datname = $1', [live])).length > 0,
      { database: 'postgres' },
    )
    if (!exists) {
      const message = `there is no database ${live} to back up`
      return {
        status: 'warning',
        summary: `${message}: restoring without a safety backup`,
        error: { message, hint: 'nothing live can be lost; the restore creates it' },
      }
    }
    try {
      const { manifest } = await dumpDatabase(context.config, context.runtimes, { reason: 'safety', toolVersion: context.toolVersion, signal: run.signal })
      context.state.safetyBackup = manifest.id
      return { summary: `${manifest.id} (${formatBytes(manifest.bytes)})`, data: { id: manifest.id, bytes: manifest.bytes } }
    } catch (error) {
      if (run.signal.aborted) throw error
      const failure = error instanceof StepFailure ? error : new StepFailure(describeError(error), hintOf(error))
      throw new StepFailure(
        failure.message,
        `${failure.hint ? `${failure.hint}; ` : ''}to restore without a safety backup, add --skip safety-backup (a full restore still keeps the live database as ${live}_pre_restore_...)`,
        failure.data,
      )
    }
  },
}
