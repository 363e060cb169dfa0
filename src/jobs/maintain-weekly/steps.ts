import { archiveConfig } from '../../backups/config-archive.js'
import { dumpDatabase } from '../../backups/database.js'
import { formatSeconds } from '../../errors.js'
import type { StepDefinition } from '../../report/outcome.js'
import { formatBytes } from '../../systems/host.js'
import type { BackupContext } from '../backup/context.js'
import type { ConfigBackupData, DatabaseBackupData } from './data.js'

/** The weekly job's own steps; each reuses the command that does the same by hand. */

export const weeklyDatabaseBackupStep: StepDefinition<BackupContext, DatabaseBackupData> = {
  // As `backup database`: cut short, it ends pg_dump's session and removes the half-written file.
  cleanupMs: 10_000,
  async run({ config, runtimes, toolVersion }, run) {
    if (run.dryRun) return { summary: `would dump ${config.postgres.database} into ${config.backup.dir}` }
    const { manifest } = await dumpDatabase(config, runtimes, { reason: 'scheduled', toolVersion, signal: run.signal })
    return {
      summary: `${manifest.id}: ${formatBytes(manifest.bytes)} in ${formatSeconds(manifest.durationMs)}`,
      data: { id: manifest.id, bytes: manifest.bytes, sha256: manifest.sha256 },
    }
  },
}

export const weeklyConfigBackupStep: StepDefinition<BackupContext, ConfigBackupData> = {
  async run({ config, toolVersion }, run) {
    if (run.dryRun) return { summary: `would archive ${config.backup.configPaths.join(', ')}` }
    const { manifest } = await archiveConfig(config, { reason: 'scheduled', toolVersion, signal: run.signal })
    const missing = manifest.missingPaths ?? []
    const summary = `${manifest.id}: ${formatBytes(manifest.bytes)} of ${manifest.paths?.length ?? 0} paths`
    return {
      summary: missing.length > 0 ? `${summary}; missing: ${missing.join(', ')}` : summary,
      // Kept apart: the archive is still good, but without what these paths held.
      findings: missing.map((path) => ({
        id: `config-path-missing:${path}`,
        severity: 'medium',
        subject: path,
        message: `not found: ${path}`,
        fix: 'remove it from backup.configPaths, or find out where it went',
      })),
      data: { id: manifest.id, bytes: manifest.bytes, missingPaths: missing },
    }
  },
}
