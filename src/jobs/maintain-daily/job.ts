import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { ServiceRuntimes } from '../../systems/services.js'
import { cleanLogsStep, cleanTempStep } from './cleanup.js'
import type { MaintenanceContext } from './context.js'
import { diskStep } from './disk.js'
import { reindexStep } from './reindex.js'
import { retentionStep } from './retention.js'
import { servicesStep } from './services.js'
import { statsResetStep } from './stats-reset.js'
import { vacuumStep } from './vacuum.js'

/**
 * The nightly job. Retention runs before vacuum so that the vacuum makes the deleted rows'
 * space reusable in the same run. Steps run one after another: a failed one does not stop the
 * rest, and file and disk steps still run when PostgreSQL is down.
 */
export function maintainDailyJob(config: Config, now = new Date()): { job: Job<MaintenanceContext>; context: MaintenanceContext } {
  return {
    job: {
      command: 'maintain daily',
      concurrent: false,
      steps: [cleanLogsStep, cleanTempStep, retentionStep, vacuumStep, reindexStep, statsResetStep, diskStep, servicesStep],
    },
    context: { config, runtimes: new ServiceRuntimes(config), startedAt: now },
  }
}
