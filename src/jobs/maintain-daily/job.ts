import type { Config } from '../../config/load.js'
import { loadedWhenRun, type Job } from '../../report/runner.js'
import type { MaintenanceContext } from './context.js'

/**
 * The nightly job. Retention runs before vacuum so that the vacuum makes the deleted rows'
 * space reusable in the same run. Steps run one after another: a failed one does not stop the
 * rest, and file and disk steps still run when PostgreSQL is down. Each step's module is loaded
 * when it runs: `--only retention` starts without the file, disk, alert and service code.
 */
export function maintainDailyJob(config: Config, now = new Date()): { job: Job<MaintenanceContext>; context: MaintenanceContext } {
  return {
    job: {
      command: 'maintain daily',
      concurrent: false,
      steps: [
        loadedWhenRun('clean-logs', 'Delete old log files', async () => (await import('./cleanup.js')).cleanLogsStep),
        loadedWhenRun('clean-temp', 'Delete old temporary files', async () => (await import('./cleanup.js')).cleanTempStep),
        loadedWhenRun('retention', 'Delete rows past their retention', async () => (await import('./retention.js')).retentionStep),
        loadedWhenRun('vacuum', 'VACUUM (ANALYZE) the database', async () => (await import('./vacuum.js')).vacuumStep),
        loadedWhenRun('reindex', 'Rebuild bloated indexes concurrently', async () => (await import('./reindex.js')).reindexStep),
        loadedWhenRun('stats-reset', 'Reset pg_stat_statements', async () => (await import('./stats-reset.js')).statsResetStep),
        loadedWhenRun('disk', 'Check disk usage', async () => (await import('./disk.js')).diskStep),
        loadedWhenRun('services', 'Check that every service runs and is ready', async () => (await import('./services.js')).servicesStep),
      ],
    },
    context: { config, startedAt: now },
  }
}
