import { takeBaseBackup } from '../../backups/base.js'
import { archiveConfig } from '../../backups/config-archive.js'
import { dumpDatabase } from '../../backups/database.js'
import { describeCopies, type StoredCopies } from '../../backups/commit.js'
import type { BackupManifest } from '../../backups/store.js'
import { formatSeconds } from '../../errors.js'
import { openRepositories } from '../../repositories/open.js'
import { formatSize } from '../../lib/format.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { hintOf } from '../hints.js'
import type { BackupContext } from '../shared/backup-context.js'
import type { ArchiveData, BaseData, DumpData } from './data.js'

/**
 * The steps that take a backup. `backup database` and `backup config` run them by hand
 * (`manual`); maintain weekly runs the same steps on its schedule (`scheduled`), under its own
 * step ids: what `reason` a manifest records is all that differs.
 */

type Reason = Exclude<BackupManifest['reason'], 'safety'>

/** "; stored in local, offsite" when there is more than the one repository. */
function storedIn({ copies }: StoredCopies): string {
  if (copies.length < 2) return ''
  const committed = copies.filter((copy) => copy.committed).map((copy) => copy.repository)
  return `; stored in ${committed.join(', ')}`
}

/** Where a dry run would write: every repository, as the report names them. */
function places(config: BackupContext['config']): string {
  return openRepositories(config.backup)
    .map((repository) => repository.where)
    .join(', ')
}

/** What every backup step reports of what it stored, and where (design-14 §5.1). */
function takenData({ manifest, copies, path }: StoredCopies) {
  return {
    id: manifest.id,
    ...(path ? { path } : {}),
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    ...(manifest.stored ? { stored: manifest.stored } : {}),
    copies: copies.map((copy) =>
      copy.committed
        ? { repository: copy.repository, committed: true, readBack: copy.readBack }
        : { repository: copy.repository, committed: false, error: copy.why },
    ),
  }
}

/** A high finding per repository that does not hold the backup, naming what exists where: the step fails, the copies stored stay valid. */
function missingCopies({ manifest, copies }: StoredCopies): Finding[] {
  const where = describeCopies(copies)
  return copies.flatMap((copy) =>
    copy.committed
      ? []
      : [
          {
            id: `copy-missing:${copy.repository}`,
            severity: 'high' as const,
            subject: copy.repository,
            message: `${manifest.id}: ${where}`,
            fix: `${hintOf(copy.error) ?? `fix repository ${copy.repository}`}; the copies stored are whole backups, and the next run stores one there again`,
          },
        ],
  )
}

export function databaseDumpStep(reason: Reason): StepDefinition<BackupContext, DumpData> {
  return {
    // Cut short, it ends pg_dump's server session and removes the half-written file before the exit.
    cleanupMs: 10_000,
    async run({ config, runtimes, toolVersion }, run) {
      if (run.dryRun) return { summary: `would dump ${config.postgres.database} (${config.backup.format} format) into ${places(config)}` }
      const stored = await dumpDatabase(config, runtimes, { reason, toolVersion, signal: run.signal })
      const { manifest } = stored
      const tables = manifest.tables ?? []
      const rows = tables.reduce((s, t) => s + t.rows, 0)
      return {
        summary: `${manifest.id}: ${formatSize(manifest.bytes)}, ${tables.length} tables, ${rows.toLocaleString('en-US')} rows, in ${formatSeconds(manifest.durationMs)}${storedIn(stored)}`,
        findings: missingCopies(stored),
        data: {
          ...takenData(stored),
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
      if (run.dryRun) return { summary: `would archive ${config.backup.configPaths.join(', ')} into ${places(config)}` }
      const stored = await archiveConfig(config, { reason, toolVersion, signal: run.signal })
      const { manifest } = stored
      const paths = manifest.paths ?? []
      const missing = manifest.missingPaths ?? []
      const summary = `${manifest.id}: ${formatSize(manifest.bytes)} of ${paths.length} paths${storedIn(stored)}`
      return {
        summary: missing.length > 0 ? `${summary}; missing: ${missing.join(', ')}` : summary,
        findings: [
          ...missingCopies(stored),
          ...missing.map((missingPath) => ({
            id: `config-path-missing:${missingPath}`,
            severity: 'medium' as const,
            subject: missingPath,
            message: `not found: ${missingPath}`,
            fix: 'remove it from backup.configPaths, or find out where it went',
          })),
        ],
        data: { ...takenData(stored), paths, missingPaths: missing },
      }
    },
  }
}

export const baseBackupStep: StepDefinition<BackupContext, BaseData> = {
  cleanupMs: 10_000,
  async run({ config, runtimes, toolVersion }, run) {
    if (run.dryRun) return { summary: `would take a base backup into ${places(config)}` }
    const stored = await takeBaseBackup(config, runtimes, { toolVersion, signal: run.signal })
    const { manifest } = stored
    const wal = manifest.wal
    return {
      summary: `${manifest.id}: ${formatSize(manifest.bytes)} in ${formatSeconds(manifest.durationMs)}; recovery can target any time after ${manifest.consistentAt}${storedIn(stored)}`,
      findings: missingCopies(stored),
      data: {
        ...takenData(stored),
        consistentAt: manifest.consistentAt!,
        ...(wal ? { wal: { timeline: wal.timeline, start: wal.start, stop: wal.stop } } : {}),
      },
    }
  },
}
