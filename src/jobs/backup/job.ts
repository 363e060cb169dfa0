import type { Config } from '../../config/load.js'
import { findBackup } from '../../backups/store.js'
import type { Job } from '../../report/runner.js'
import { ServiceRuntimes } from '../../systems/services.js'
import type { BackupContext } from './context.js'
import { archiveConfigStep, archiveStep, checksumStep, dumpStep, listStep, pruneStep, restoreTestStep, type VerifyContext } from './steps.js'

export function backupContext(config: Config, toolVersion: string): BackupContext {
  return { config, runtimes: new ServiceRuntimes(config), toolVersion }
}

export const backupDatabaseJob: Job<BackupContext> = { command: 'backup database', concurrent: false, steps: [dumpStep] }
export const backupConfigJob: Job<BackupContext> = { command: 'backup config', concurrent: false, steps: [archiveConfigStep] }
export const backupListJob: Job<BackupContext> = { command: 'backup list', concurrent: false, steps: [listStep] }
export const backupPruneJob: Job<BackupContext> = { command: 'backup prune', concurrent: false, steps: [pruneStep()] }

export async function backupVerifyJob(
  config: Config,
  toolVersion: string,
  name: string,
  restoreTest: boolean,
): Promise<{ job: Job<VerifyContext>; context: VerifyContext }> {
  const { backup, unreadable } = await findBackup(config.backup.dir, name, config.postgres.database)
  return {
    job: { command: 'backup verify', concurrent: false, stopOnFailure: true, steps: [checksumStep, archiveStep, restoreTestStep(restoreTest)] },
    context: { ...backupContext(config, toolVersion), backup, unreadable },
  }
}
