import { existsSync } from 'node:fs'
import type { Config } from '../../config/load.js'
import { findBackup } from '../../backups/store.js'
import { UsageError } from '../../errors.js'
import type { Job } from '../../report/runner.js'
import { backupContext } from '../backup/job.js'
import type { BackupContext } from '../backup/context.js'
import { cleanupStep } from './cleanup.js'
import type { RestoreContext } from './context.js'
import { checkRestoredStep, restoreBesideStep, swapStep } from './full.js'
import { partialRestore } from './partial.js'
import { pitrSteps, planPitr } from './pitr.js'
import { diskStep, safetyBackupStep, verifyBackupStep } from './verify.js'
import { describeInterrupted, interruptedSwitch } from './pitr-switch.js'
import { describeLeftStopped, leftStopped } from './stopped-services.js'

export type RestoreMode = 'full' | 'partial' | 'pitr'

export interface RestoreRequest {
  backup: string
  mode: RestoreMode
  tables: string[]
  intoSchema?: string
  targetTime?: string
  sideOnly?: boolean
  /** Full mode: leave objects and the database to the restoring user (pg_restore --no-owner). */
  noOwner?: boolean
  /** Full mode: skip GRANTs on objects and on the database (pg_restore --no-privileges). */
  noPrivileges?: boolean
}

/**
 * A restore never loses the live database: it verifies the backup, checks the disk and dumps
 * the live database before anything changes; a full restore then builds the new database
 * beside the live one (while the safety backup runs: neither touches the live database) and
 * only swaps names once both are done and the copy is checked. Any failure stops the rest.
 */
export async function restoreJob(config: Config, toolVersion: string, request: RestoreRequest): Promise<{ job: Job<RestoreContext>; context: RestoreContext }> {
  if (!existsSync(config.backup.dir))
    throw new UsageError(`the backup directory ${config.backup.dir} does not exist`, 'set backup.dir, or take a backup first: probe-ops backup database')
  const switching = await interruptedSwitch(config)
  if (switching) throw new UsageError(describeInterrupted(switching), 'probe-ops restore --cleanup finishes or undoes it first')
  const stopped = await leftStopped(config)
  if (stopped) throw new UsageError(describeLeftStopped(stopped), 'probe-ops restore --cleanup starts them again first')
  const command = `restore ${request.mode}`
  const ownership = { owners: !request.noOwner, privileges: !request.noPrivileges }
  if (request.mode === 'pitr') {
    const plan = await planPitr(config, request.backup, request.targetTime, request.sideOnly ?? false)
    const context: RestoreContext = {
      ...backupContext(config, toolVersion),
      backup: plan.base,
      unreadable: plan.unreadable,
      at: new Date(),
      ownership,
      state: {},
    }
    return { job: { command, concurrent: false, stopOnFailure: true, steps: pitrSteps(plan) }, context }
  }
  const { backup, unreadable } = await findBackup(config.backup.dir, request.backup, config.postgres.database, 'database')
  const context: RestoreContext = { ...backupContext(config, toolVersion), backup, unreadable, at: new Date(), ownership, state: {} }
  if (request.mode === 'full') {
    return {
      job: {
        command,
        concurrent: false,
        stopOnFailure: true,
        steps: [verifyBackupStep, diskStep, safetyBackupStep, restoreBesideStep, checkRestoredStep, swapStep],
        together: [['safety-backup', 'restore']],
      },
      context,
    }
  }
  if (request.mode === 'partial') {
    if (request.tables.length === 0)
      throw new UsageError('--mode partial needs at least one --table', 'e.g. probe-ops restore BACKUP --mode partial --table task_results')
    const partial = partialRestore({ tables: request.tables, intoSchema: request.intoSchema })
    return { job: { command, concurrent: false, stopOnFailure: true, steps: [verifyBackupStep, partial.plan, safetyBackupStep, partial.restore] }, context }
  }
  throw new UsageError(`unknown mode ${request.mode as string}`)
}

export function cleanupJob(config: Config, toolVersion: string, dropPreRestore: boolean): { job: Job<BackupContext>; context: BackupContext } {
  return { job: { command: 'restore cleanup', concurrent: false, steps: [cleanupStep(dropPreRestore)] }, context: backupContext(config, toolVersion) }
}
