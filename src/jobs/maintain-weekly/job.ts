import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { backupContext } from '../backup/job.js'
import type { BackupContext } from '../backup/context.js'
import { configuredCertificates } from '../cert-check/steps.js'
import { packageUpdatesStep } from '../shared/package-updates.js'
import { performanceReportStep } from './performance.js'
import { weeklyConfigBackupStep, weeklyDatabaseBackupStep } from './steps.js'

/** The weekly job: backups, updates, certificates and the performance report, one after another. */
export function maintainWeeklyJob(config: Config, toolVersion: string): { job: Job<BackupContext>; context: BackupContext } {
  return {
    job: {
      command: 'maintain weekly',
      concurrent: false,
      steps: [
        weeklyDatabaseBackupStep,
        weeklyConfigBackupStep,
        // The security-check's step, but the weekly job only reports updates: package lists too old are a fact, not a warning.
        { id: 'package-updates', title: 'Check for package updates', load: async () => packageUpdatesStep('info') },
        { id: 'certificates', title: 'Certificates', load: async () => configuredCertificates },
        { id: 'performance-report', title: 'Performance report', load: async () => performanceReportStep },
      ],
    },
    context: backupContext(config, toolVersion),
  }
}
