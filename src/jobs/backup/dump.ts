import { takeBaseBackup } from '../../backups/base.js'
import { archiveConfig } from '../../backups/config-archive.js'
import { dumpDatabase } from '../../backups/database.js'
import type { BackupManifest } from '../../backups/store.js'
import { formatSeconds } from '../../errors.js'
import { formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import type { BackupContext } from '../shared/backup-context.js'
import type { ArchiveData, BaseData, DumpData } from './data.js'

/**
 * The steps that take a backup. `backup database` and `backup config` run them by hand
 * (`manual`); maintain weekly runs the same steps on its schedule (`scheduled`), under its own
 * step ids: what `reason` a manifest records is all that differs.
 */

type Reason = Exclude<BackupManifest['reason'], 'safety'>

export function databaseDumpStep(reason: Reason): StepDefinition<BackupContext, DumpData> {
  return {
    // Cut short, it ends pg_dump's server session and removes the half-written file before the exit.
    cleanupMs: 10_000,
    async run({ config, runtimes, toolVersion }, run) {
      if (run.dryRun) return { summary: `would dump ${config.postgres.database} (${config.backup.format} format) into ${config.backup.dir}` }
      const { manifest, path } = await dumpDatabase(config, runtimes, { reason, toolVersion, signal: run.signal })
      const tables = manifest.tables ?? []
      const rows = tables.reduce((s, t) => s + t.rows, 0)
      return {
        summary: `${manifest.id}: ${formatSize(manifest.bytes)}, ${tables.length} tables, ${rows.toLocaleString('en-US')} rows, in ${formatSeconds(manifest.durationMs)}`,
        data: {
          id: manifest.id,
          path,
          bytes: manifest.bytes,
          sha256: manifest.sha256,
          format: manifest.format === 'directory' ? 'directory' : 'custom',
          tables,
          durationMs: manifest.durationMs,
        },
      }
    },
  }
}

export function configArchiveStep(reason: Reason): StepDefinition<BackupContext, ArchiveData> {
  return {
    async run({ config, toolVersion }, run) {
      if (run.dryRun) return { summary: `would archive ${config.backup.configPaths.join(', ')} into ${config.backup.dir}` }
      const { manifest, path } = await archiveConfig(config, { reason, toolVersion, signal: run.signal })
      const paths = manifest.paths ?? []
      const missing = manifest.missingPaths ?? []
      const summary = `${manifest.id}: ${formatSize(manifest.bytes)} of ${paths.length} paths`
      return {
        summary: missing.length > 0 ? `${summary}; missing: ${missing.join(', ')}` : summary,
        findings: missing.map((missingPath) => ({
          id: `config-path-missing:${missingPath}`,
          severity: 'medium',
          subject: missingPath,
          message: `not found: ${missingPath}`,
          fix: 'remove it from backup.configPaths, or find out where it went',
        })),
        data: { id: manifest.id, path, bytes: manifest.bytes, sha256: manifest.sha256, paths, missingPaths: missing },
      }
    },
  }
}

export const baseBackupStep: StepDefinition<BackupContext, BaseData> = {
  cleanupMs: 10_000,
  async run({ config, runtimes, toolVersion }, run) {
    if (run.dryRun) return { summary: `would take a base backup into ${config.backup.dir}` }
    const { manifest, path } = await takeBaseBackup(config, runtimes, { toolVersion, signal: run.signal })
    return {
      summary: `${manifest.id}: ${formatSize(manifest.bytes)} in ${formatSeconds(manifest.durationMs)}; recovery can target any time after ${manifest.consistentAt}`,
      data: { id: manifest.id, path, bytes: manifest.bytes, consistentAt: manifest.consistentAt! },
    }
  },
}
