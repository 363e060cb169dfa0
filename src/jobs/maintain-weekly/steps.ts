import { archiveConfig } from '../../backups/config-archive.js'
import { dumpDatabase } from '../../backups/database.js'
import { formatSeconds } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import { aptUpdates } from '../../systems/packages.js'
import type { BackupContext } from '../shared/backup-context.js'

/** The weekly job's own steps; each reuses the command that does the same by hand. */

export const weeklyDatabaseBackupStep: Step<BackupContext> = {
  id: 'backup-database',
  title: 'Back up the database',
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

export const weeklyConfigBackupStep: Step<BackupContext> = {
  id: 'backup-config',
  title: 'Back up the configuration files',
  async run({ config, toolVersion }, run) {
    if (run.dryRun) return { summary: `would archive ${config.backup.configPaths.join(', ')}` }
    const { manifest } = await archiveConfig(config, { reason: 'scheduled', toolVersion, signal: run.signal })
    const data = { id: manifest.id, bytes: manifest.bytes, missingPaths: manifest.missingPaths }
    const summary = `${manifest.id}: ${formatBytes(manifest.bytes)} of ${manifest.paths!.length} paths`
    if (manifest.missingPaths!.length > 0)
      return {
        status: 'warning',
        summary: `${summary}; missing: ${manifest.missingPaths!.join(', ')}`,
        data,
        error: { message: `not found: ${manifest.missingPaths!.join(', ')}`, hint: 'remove them from backup.configPaths, or find out where they went' },
      }
    return { summary, data }
  },
}

/** The guide's `apt list --upgradable`, with security updates told apart. */
export const packageUpdatesStep: Step<BackupContext> = {
  id: 'package-updates',
  title: 'Check for package updates',
  async run(_context, run) {
    const updates = await aptUpdates(60_000, run.signal)
    if (!updates) return { status: 'skipped', summary: 'this system has no apt' }
    const security = updates.packages.filter((p) => p.security)
    const data = {
      upgradable: updates.packages.length,
      security: security.map((p) => `${p.name} ${p.from ?? '?'} -> ${p.version}`),
      listsAgeDays: updates.listsAgeDays,
      packages: updates.packages.slice(0, 200),
    }
    const stale = updates.listsAgeDays !== undefined && updates.listsAgeDays > 7 ? ` (package lists ${updates.listsAgeDays} days old: run apt-get update)` : ''
    const summary = `${updates.packages.length} upgradable, ${security.length} security${stale}`
    if (security.length > 0)
      return {
        status: 'warning',
        summary,
        data,
        error: {
          message: `${security.length} security updates pending: ${security
            .slice(0, 5)
            .map((p) => p.name)
            .join(', ')}${security.length > 5 ? ', ...' : ''}`,
          hint: 'apt-get upgrade in the next maintenance window',
        },
      }
    return { summary, data }
  },
}
