import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { backupContext, type BackupContext } from '../shared/backup-context.js'
import { performanceReportStep } from '../performance-report/step.js'
import { certificatesStep } from '../security-check/certificates.js'
import { packageUpdatesStep, weeklyConfigBackupStep, weeklyDatabaseBackupStep } from './steps.js'

/** The weekly job: backups, updates, certificates and the performance report, one after another. */
export function maintainWeeklyJob(config: Config, toolVersion: string): { job: Job<BackupContext>; context: BackupContext } {
  return {
    job: {
      command: 'maintain weekly',
      concurrent: false,
      steps: [weeklyDatabaseBackupStep, weeklyConfigBackupStep, packageUpdatesStep, certificatesStep, performanceReportStep],
    },
    context: backupContext(config, toolVersion),
  }
}
