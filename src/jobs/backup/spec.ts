import { defineJob } from '../spec.js'
import { backupContext, type BackupContext } from '../shared/backup-context.js'
import type { CatalogContext, RepositoryOptions, VerifyContext, VerifyOptions, WalSetupContext, WalSetupOptions } from './context.js'

/** The context of a job that reads the repositories --repository picks (checked at once: an unknown name is exit 2). */
async function catalogContext(config: Parameters<typeof backupContext>[0], options: RepositoryOptions, toolVersion: string): Promise<CatalogContext> {
  if (options.repositories?.length) (await import('../../backups/catalog.js')).pickRepositories(config.backup, options.repositories)
  return { ...backupContext(config, toolVersion), ...(options.repositories?.length ? { repositories: options.repositories } : {}) }
}

/**
 * The backup jobs. The ones that write into backup.dir take the `backup` lock (a second one exits
 * 3); listing and verifying only read (verify records its result in the manifest it checked).
 */

export const backupDatabase = defineJob({
  id: 'backup-database',
  command: 'backup database',
  metrics: async () => (await import('./metrics.js')).backupDatabaseMetrics,
  order: 'sequential',
  lock: 'backup',
  steps: [
    {
      id: 'dump',
      title: 'Dump the database',
      summary: 'pg_dump into backup.dir under a temporary name, checksummed, renamed into place with its manifest',
      load: async () => (await import('./dump.js')).databaseDumpStep('manual'),
    },
  ],
  context: (config, _options: Record<string, never>, toolVersion): BackupContext => backupContext(config, toolVersion),
})

export const backupConfig = defineJob({
  id: 'backup-config',
  command: 'backup config',
  metrics: async () => (await import('./metrics.js')).backupConfigMetrics,
  order: 'sequential',
  lock: 'backup',
  steps: [
    {
      id: 'archive',
      title: 'Archive the configuration files',
      summary: 'tar.gz of backup.configPaths into backup.dir with its manifest; a path that does not exist is a warning',
      load: async () => (await import('./dump.js')).configArchiveStep('manual'),
    },
  ],
  context: (config, _options: Record<string, never>, toolVersion): BackupContext => backupContext(config, toolVersion),
})

export const backupBase = defineJob({
  id: 'backup-base',
  command: 'backup base',
  metrics: async () => (await import('./metrics.js')).backupBaseMetrics,
  order: 'sequential',
  lock: 'backup',
  steps: [
    {
      id: 'base',
      title: 'Take a base backup (pg_basebackup)',
      summary: 'pg_basebackup in tar format, compressed, with the WAL it needs, into backup.dir with its manifest',
      load: async () => (await import('./dump.js')).baseBackupStep,
    },
  ],
  context: (config, _options: Record<string, never>, toolVersion): BackupContext => backupContext(config, toolVersion),
})

export const backupWalSetup = defineJob({
  id: 'backup-wal-setup',
  command: 'backup wal-setup',
  order: 'sequential',
  // Only --apply changes anything.
  lock: (options: WalSetupOptions) => (options.apply ? 'backup' : undefined),
  steps: [
    {
      id: 'settings',
      title: 'WAL archiving settings',
      summary:
        'wal_level, archive_mode, archive_command (wal push), restore_command (wal fetch) and archive_timeout against what archiving needs; --apply sets them and reads them back',
      load: async () => (await import('./wal.js')).settingsStep,
    },
    {
      id: 'repositories',
      title: 'Repositories ready for WAL',
      summary: "each repository's cluster file (created with --apply), and what PostgreSQL's OS user must reach to run wal push",
      load: async () => (await import('./wal-repositories.js')).repositoriesStep,
    },
    {
      id: 'check',
      title: 'Check that a WAL segment reaches the archive',
      summary: 'force a WAL switch and wait until the segment is in every repository',
      load: async () => (await import('./wal.js')).walCheckStep,
    },
  ],
  context: (config, options: WalSetupOptions, toolVersion): WalSetupContext => ({
    ...backupContext(config, toolVersion),
    apply: options.apply,
    newArchive: options.newArchive === true,
    state: {},
  }),
})

export const backupList = defineJob({
  id: 'backup-list',
  command: 'backup list',
  metrics: async () => (await import('./metrics.js')).backupListMetrics,
  order: 'sequential',
  steps: [
    {
      id: 'list',
      title: 'List backups',
      summary:
        'every backup of every repository (--repository: those named) with its copies, kind, age, size and last verification, and what interrupted runs left',
      load: async () => (await import('./list.js')).listStep,
    },
  ],
  context: catalogContext,
})

export const backupVerify = defineJob({
  id: 'backup-verify',
  command: 'backup verify',
  metrics: async () => (await import('./metrics.js')).backupVerifyMetrics,
  order: 'sequential',
  stopOnFailure: true,
  steps: [
    {
      id: 'checksum',
      title: 'Compare the checksum with the manifest',
      summary: 'SHA-256 and size of every copy against its manifest (decrypted too, where backup.encryption.identityFile is set)',
      load: async () => (await import('./verify.js')).checksumStep,
    },
    {
      id: 'archive',
      title: 'Read the archive with pg_restore --list',
      summary: 'pg_restore can read the dump (a copy in S3 streamed in), and says what it holds',
      load: async () => (await import('./verify.js')).readArchiveStep,
    },
    {
      id: 'restore-test',
      title: 'Restore it where nothing live runs: restore time and data-loss window (RTO/RPO)',
      summary:
        'with --restore-test: a dump into a scratch database, row counts compared; a base backup into a scratch cluster in backup.dir, recovered to the end of the WAL archive and checked; then removed. Above backup.objectives: a warning',
      load: async () => (await import('./restore-test.js')).restoreTestStep,
    },
    {
      id: 'wal',
      title: 'Check the WAL a base backup needs, and the recoverable window',
      summary:
        'a base backup: the WAL it was taken over is archived in every repository that holds it; the recoverable windows there, and every gap in the WAL',
      load: async () => (await import('./wal-window.js')).walChainStep,
    },
  ],
  /** The backup named: an unknown one is the user's mistake (exit 2), before anything runs. */
  context: async (config, options: VerifyOptions, toolVersion): Promise<VerifyContext> =>
    (await import('./verify-context.js')).verifyContext(config, options, backupContext(config, toolVersion)),
})

export const backupPrune = defineJob({
  id: 'backup-prune',
  command: 'backup prune',
  metrics: async () => (await import('./metrics.js')).backupPruneMetrics,
  order: 'sequential',
  lock: 'backup',
  steps: [
    {
      id: 'prune',
      title: 'Remove backups past their retention',
      summary:
        "per repository and kind: the newest keep.last, and the newest of each of the last days, weeks and months (the repository's keep, else backup.keep); S3 data without a manifest older than 24 h",
      load: async () => (await import('./prune.js')).pruneStep,
    },
  ],
  confirm: (context: CatalogContext) => ({
    what: `backup prune deletes backups past their retention in ${context.repositories?.join(', ') ?? (context.config.backup.repositories ? 'every repository' : context.config.backup.dir)}`,
    word: 'prune',
  }),
  context: catalogContext,
})
