import { diskUsage, formatBytes } from '../../systems/host.js'
import { listArchive, verifyChecksum } from '../../backups/verify.js'
import { StepFailure } from '../../errors.js'
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

/** A restore needs room for a second copy of the database beside the live one. */
export const diskStep: Step<RestoreContext> = {
  id: 'disk',
  title: 'Check free disk space',
  async run({ config, backup }) {
    const needed = Math.round((backup.manifest.databaseBytes ?? backup.manifest.bytes * 4) * 1.2)
    let path = config.restore.dataDirPath
    if (!path) {
      path = await withPostgres(config.postgres, async (client) => (await queryRows<{ dir: string }>(client, `select current_setting('data_directory') as dir`))[0]?.dir).catch(() => undefined)
    }
    const disk = path ? await diskUsage(path) : undefined
    if (!disk || disk.error) return { status: 'skipped', summary: `PostgreSQL's disk is not visible from here${path ? ` (${path})` : ''}`, data: { needed }, error: { message: 'free space not checked', hint: 'set restore.dataDirPath to a path on the database disk' } }
    const left = disk.freeBytes! - needed
    const data = { path, needed, free: disk.freeBytes, reserve: config.restore.reserveBytes }
    if (left < config.restore.reserveBytes) {
      throw new StepFailure(`the restore needs about ${formatBytes(needed)} on ${path}, which has ${formatBytes(disk.freeBytes!)} free and must keep ${formatBytes(config.restore.reserveBytes)}`, 'free space on the database disk, or lower restore.reserveBytes', data)
    }
    return { summary: `needs about ${formatBytes(needed)}, ${formatBytes(disk.freeBytes!)} free on ${path}`, data }
  },
}

export const safetyBackupStep: Step<RestoreContext> = {
  id: 'safety-backup',
  title: 'Back up the live database first',
  async run(context, run) {
    if (run.dryRun) return { summary: `would dump ${context.config.postgres.database} before changing it` }
    const { manifest } = await dumpDatabase(context.config, context.runtimes, { reason: 'safety', toolVersion: context.toolVersion, signal: run.signal })
    context.state.safetyBackup = manifest.id
    return { summary: `${manifest.id} (${formatBytes(manifest.bytes)})`, data: { id: manifest.id, bytes: manifest.bytes } }
  },
}
