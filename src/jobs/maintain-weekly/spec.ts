import { defineJob } from '../spec.js'

/**
 * `maintain weekly`: weekly-maintenance.sh: the backups, pending updates, certificates and the
 * performance report, one after another; one failed step does not stop the others.
 */
export const maintainWeekly = defineJob({
  id: 'maintain-weekly',
  command: 'maintain weekly',
  metrics: async () => (await import('./metrics.js')).maintainWeeklyMetrics,
  order: 'sequential',
  steps: [
    {
      id: 'backup-database',
      title: 'Back up the database',
      summary: 'the database dump of `backup database` (checksummed, atomic, 0600, with a manifest)',
      load: async () => (await import('../backup/dump.js')).databaseDumpStep('scheduled'),
    },
    {
      id: 'backup-config',
      title: 'Back up the configuration files',
      summary: 'the archive of `backup config`',
      load: async () => (await import('../backup/dump.js')).configArchiveStep('scheduled'),
    },
    {
      id: 'package-updates',
      title: 'Check for package updates',
      summary: 'upgradable packages from apt, security updates apart (skipped without apt)',
      // The security-check's step, but the weekly job only reports updates: package lists too old are a fact, not a warning.
      load: async () => (await import('../shared/package-updates.js')).packageUpdatesStep('info'),
    },
    {
      id: 'certificates',
      title: 'Certificates',
      summary: 'as `cert check` for the configured files and endpoints',
      load: async () => (await import('../cert-check/steps.js')).configuredCertificates,
    },
    {
      id: 'performance-report',
      title: 'Performance report',
      summary: 'as `report performance`, saved to the reports directory',
      load: async () => (await import('./performance.js')).performanceReportStep,
    },
  ],
  lock: 'maintain-weekly',
  // The backups' context (services' runtimes for pg_dump), loaded with the code that builds it.
  context: async (config, _options: Record<string, never>, toolVersion) => (await import('../shared/backup-context.js')).backupContext(config, toolVersion),
})
