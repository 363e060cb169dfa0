import { dumpDatabase } from '../../backups/database.js'
import { copyOptions } from '../../backups/copy.js'
import { readableCopy, removeStaging } from '../../backups/staging.js'
import { listArchive, verifyChecksum } from '../../backups/verify.js'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import { formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { diskUsage, sameFilesystem } from '../../systems/host.js'
import { dataDirectory, databaseExists, databaseSize, holdsObjects, withAdmin } from '../../systems/postgres-admin.js'
import { withPostgres } from '../../systems/postgres.js'
import { hintOf } from '../hints.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { DumpContext, FullRestoreContext } from './context.js'
import type { DiskData, SafetyBackupData, VerifyData } from './data.js'
import { diskNeeds, diskShortfall } from './planning.js'

/**
 * Before anything changes: a copy that is whole, readable, and of this database. The copies are
 * tried in the configuration's order; one that cannot be read or differs from its manifest is
 * passed over (said in the summary), and a copy from S3 or encrypted is staged and checked whole
 * first (staging.ts). When every copy fails, nothing has been touched.
 */
export const verifyBackup: StepDefinition<DumpContext, VerifyData> = {
  cleanupMs: 10_000,
  async run(context, run) {
    const { config, runtimes, unreadable } = context
    const m = context.backup.manifest
    if (m.kind !== 'database') throw new StepFailure(`${m.id} is a ${m.kind} backup, not a database dump`, 'choose a database backup (probe-ops backup list)')
    if (m.database && m.database !== config.postgres.database) {
      throw new StepFailure(
        `${m.id} is a dump of database "${m.database}", not of "${config.postgres.database}"`,
        'choose a backup of this database, or point postgres.database at the one it belongs to',
      )
    }
    const failures: string[] = []
    for (const copy of context.copies) {
      let staged: string | undefined
      try {
        const readable = await readableCopy(config, copy, copyOptions(config, run.signal))
        staged = readable.staged
        if (!staged) await verifyChecksum(readable.backup)
        const listed = await listArchive(config, runtimes, readable.backup)
        Object.assign(context, { backup: readable.backup, repository: copy.repository.name, staged })
        const passedOver = failures.length ? `; passed over ${failures.join('; ')}` : ''
        const from = context.copies.length > 1 || staged ? ` (from ${copy.repository.name}${staged ? `, staged in ${staged}` : ''})` : ''
        return {
          summary: withRefusedNote(`${m.id}${from}: checksum matches; pg_restore reads ${listed.entries} entries${passedOver}`, unreadable),
          findings: [
            ...refusedFindings(unreadable),
            ...failures.map((failure, index) => ({
              id: `copy-failed:${index}`,
              severity: 'medium' as const,
              message: `a copy could not be used: ${failure}`,
              fix: 'probe-ops backup verify names what differs; take a new backup',
            })),
          ],
          data: { id: m.id, repository: copy.repository.name, ...listed },
        }
      } catch (error) {
        if (staged) await removeStaging(staged)
        if (run.signal.aborted || context.copies.length === 1) throw error
        failures.push(`${copy.repository.name}: ${describeError(error)}`)
      }
    }
    throw new StepFailure(
      failures.length ? `every copy of ${m.id} failed: ${failures.join('; ')}` : `${m.id} has no copy`,
      'the live database was not touched; choose another backup (probe-ops backup list)',
    )
  },
}

/** What the server says of itself: where its files are, and the live database's size (none: it does not exist). */
async function serverFacts(config: Readonly<Config>): Promise<{ dataDir?: string; liveBytes?: number }> {
  return withAdmin(config.postgres, async (admin) => ({
    dataDir: config.restore.dataDirPath ?? (await dataDirectory(admin)),
    liveBytes: await databaseSize(admin, config.postgres.database),
  })).catch(() => ({ dataDir: config.restore.dataDirPath }))
}

/** Room for the restored copy beside the live database, and for the safety backup (planning.ts says how much). */
export const checkDisk: StepDefinition<FullRestoreContext, DiskData> = {
  async run({ config, backup }) {
    const { dataDir, liveBytes } = await serverFacts(config)
    const reserve = config.restore.reserveBytes
    const dataDisk = dataDir ? await diskUsage(dataDir) : undefined
    const backupDisk = await diskUsage(config.backup.dir)
    const shared = dataDir !== undefined && (await sameFilesystem(dataDir, config.backup.dir))
    const needs = diskNeeds(backup.manifest, liveBytes, shared)
    const visible = dataDisk && !dataDisk.error ? dataDisk.freeBytes : undefined
    const data: DiskData = {
      path: dataDir,
      needed: needs.copyBytes,
      free: dataDisk?.freeBytes,
      backupDir: config.backup.dir,
      safetyNeeded: needs.safetyBytes,
      backupDirFree: backupDisk.freeBytes,
      sameDisk: shared,
      reserve,
    }
    const short = diskShortfall(needs, { backupDir: backupDisk.error ? undefined : backupDisk.freeBytes, dataDir: visible }, reserve)
    if (short === 'backup-dir')
      throw new StepFailure(
        `the safety backup${shared ? ' and the restored copy' : ''} need about ${formatSize(needs.inBackupDir)} on ${config.backup.dir}, which has ${formatSize(backupDisk.freeBytes!)} free and must keep ${formatSize(reserve)}`,
        'free space there, point backup.dir at a bigger disk, or lower restore.reserveBytes',
        data,
      )
    if (visible === undefined) {
      return {
        skipped: true,
        summary: `PostgreSQL's disk is not visible from here${dataDir ? ` (${dataDir})` : ''}; ${formatSize(backupDisk.freeBytes ?? 0)} free for the safety backup`,
        findings: [
          {
            id: 'disk-not-checked',
            severity: 'info',
            subject: dataDir,
            message: 'free space for the restored copy not checked',
            fix: 'set restore.dataDirPath to a path on the database disk',
          },
        ],
        data,
      }
    }
    if (short === 'data-dir')
      throw new StepFailure(
        `the restore needs about ${formatSize(needs.copyBytes)} on ${dataDir}, which has ${formatSize(visible)} free and must keep ${formatSize(reserve)}`,
        'free space on the database disk, or lower restore.reserveBytes',
        data,
      )
    const where = shared
      ? `${formatSize(needs.copyBytes + needs.safetyBytes)} (copy and safety backup), ${formatSize(visible)} free on ${dataDir}`
      : `${formatSize(needs.copyBytes)} on ${dataDir} (${formatSize(visible)} free) and ${formatSize(needs.safetyBytes)} for the safety backup (${formatSize(backupDisk.freeBytes!)} free)`
    return { summary: `needs about ${where}`, data }
  },
}

/**
 * A dump of the live database before anything changes. Where there is no live database (the
 * disaster a restore is for) there is nothing to keep: a warning, and the restore goes on.
 */
export const safetyBackup: StepDefinition<DumpContext, SafetyBackupData> = {
  cleanupMs: 10_000,
  async run(context, run) {
    const live = context.config.postgres.database
    if (run.dryRun) return { summary: `would dump ${live} before changing it` }
    if (!(await withAdmin(context.config.postgres, (admin) => databaseExists(admin, live)))) {
      const message = `there is no database ${live} to back up`
      return {
        summary: `${message}: restoring without a safety backup`,
        findings: [{ id: 'no-live-database', severity: 'medium', subject: live, message, fix: 'nothing live can be lost; the restore creates it' }],
      }
    }
    // A fresh host's empty database: its dump would keep nothing, and the only repository may be another cluster's.
    if (!(await withPostgres(context.config.postgres, holdsObjects))) {
      const message = `the database ${live} holds no tables, views, sequences or functions of its own`
      return {
        summary: `${message}: restoring without a safety backup`,
        findings: [{ id: 'empty-live-database', severity: 'low', subject: live, message, fix: 'nothing live can be lost; the restore replaces it' }],
      }
    }
    try {
      const { manifest } = await dumpDatabase(context.config, context.runtimes, { reason: 'safety', toolVersion: context.toolVersion, signal: run.signal })
      context.state.safetyBackup = manifest.id
      return { summary: `${manifest.id} (${formatSize(manifest.bytes)})`, data: { id: manifest.id, bytes: manifest.bytes } }
    } catch (error) {
      if (run.signal.aborted) throw error
      const hint = hintOf(error)
      throw new StepFailure(
        describeError(error),
        `${hint ? `${hint}; ` : ''}to restore without a safety backup, add --skip safety-backup (a full restore still keeps the live database as ${live}_pre_restore_...)`,
        error instanceof StepFailure ? error.data : undefined,
      )
    }
  },
}
