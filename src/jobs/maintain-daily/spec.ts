import { defineJob } from '../spec.js'
import type { MaintenanceContext } from './context.js'

/**
 * The nightly job. Retention runs before vacuum so that the vacuum makes the deleted rows'
 * space reusable in the same run. Steps run one after another: a failed one does not stop the
 * rest, and file and disk steps still run when PostgreSQL is down. Each step's module is loaded
 * when it runs: `--only retention` starts without the file, disk, alert and service code.
 */
export const maintainDaily = defineJob({
  id: 'maintain-daily',
  command: 'maintain daily',
  metrics: async () => (await import('./metrics.js')).maintainDailyMetrics,
  order: 'sequential',
  lock: 'maintain-daily',
  steps: [
    {
      id: 'clean-logs',
      title: 'Delete old log files',
      summary: 'delete old log files (never through symlinks, never one open for writing)',
      load: async () => (await import('./cleanup.js')).cleanLogs,
    },
    {
      id: 'clean-temp',
      title: 'Delete old temporary files',
      summary: 'delete old temporary files',
      load: async () => (await import('./cleanup.js')).cleanTemp,
    },
    {
      id: 'retention',
      title: 'Delete rows past their retention',
      summary: 'delete rows past their retention in short batches, or drop whole old partitions',
      load: async () => (await import('./retention.js')).retention,
    },
    {
      id: 'vacuum',
      title: 'VACUUM (ANALYZE) the database',
      summary: 'VACUUM (ANALYZE) the database',
      load: async () => (await import('./vacuum.js')).vacuum,
    },
    {
      id: 'reindex',
      title: 'Rebuild bloated indexes concurrently',
      summary: 'rebuild bloated indexes with REINDEX CONCURRENTLY; drop leftovers of interrupted rebuilds',
      load: async () => (await import('./reindex.js')).reindex,
    },
    {
      id: 'stats-reset',
      title: 'Reset pg_stat_statements',
      summary: 'pg_stat_statements_reset(), when the extension is installed',
      load: async () => (await import('./stats-reset.js')).statsReset,
    },
    {
      id: 'disk',
      title: 'Check disk usage',
      summary: 'disk usage against warning/critical percents, pushed to AlertManager (API v2)',
      load: async () => (await import('./disk.js')).disk,
    },
    {
      id: 'services',
      title: 'Check that every service runs and is ready',
      summary: 'every service running and ready; a down one fails the run and alerts',
      load: async () => (await import('./services.js')).services,
    },
  ],
  context: (config): MaintenanceContext => ({ config, startedAt: new Date() }),
})
