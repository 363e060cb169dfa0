import { dirname } from 'node:path'
import { findDatabaseLeftovers, type DatabaseLeftover } from '../../backups/leftovers.js'
import { interruptedRecovery, interruptedRestoreTest, interruptedSwitch, leftStopped } from '../../backups/run-notes.js'
import { abandonedStagings, removeStaging } from '../../backups/staging.js'
import { listBackups, removeLeftover } from '../../backups/store.js'
import { describeError } from '../../errors.js'
import { abandonedSpools, removeSpool } from '../../wal/spool.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { dropDatabase, setConnectionsAllowed, withAdmin } from '../../systems/postgres-admin.js'
import type { CleanupContext } from './context.js'
import type { CleanupData } from './data.js'
import { downtimeBoundMs } from './planning.js'
import { finishRollback, startAfterSwap } from './rollback.js'
import { liveDataDir, resolveSwitch } from './switch-repair.js'
import { removeAbandonedRecovery, removeAbandonedRestoreTest } from './abandoned.js'

/** What interrupted restores, verifications and backups left behind, removed (or repaired). */
export const cleanup: StepDefinition<CleanupContext, CleanupData> = {
  async run({ config, runtimes, dropPreRestore }, run) {
    const actions: string[] = []
    const findings: Finding[] = []
    // What could not be done: fails the run (a dry run, which changes nothing, only warns).
    const couldNot = (what: string, subject: string, message: string) =>
      findings.push({
        id: `cleanup-failed:${what}:${subject}`,
        severity: run.dryRun ? 'medium' : 'high',
        subject,
        message,
        fix: 'fix that, then run probe-ops restore --cleanup again',
      })
    // Each repair moves data directories or database names, or starts the platform: once begun,
    // an interrupt or a timeout lets it end (its note stays until it has).
    const repair = <T>(what: string, work: () => Promise<T>) => run.critical(what, work, { boundMs: downtimeBoundMs(config.services) })
    // First: it may have left PostgreSQL down, and the rest needs PostgreSQL.
    const switching = await interruptedSwitch(config)
    if (switching) actions.push(await repair('putting the data directories in order', () => resolveSwitch(config, runtimes, switching, run.dryRun)))
    // A recovery killed before its switch: its side directory (and any server on it) goes; the live cluster was never touched.
    const recovering = await interruptedRecovery(config)
    if (recovering) {
      const abandoned = await removeAbandonedRecovery(config, recovering, { switched: switching !== undefined, dryRun: run.dryRun })
      if (abandoned.done) actions.push(abandoned.done)
      if (abandoned.failed) couldNot('remove', recovering.recovered, abandoned.failed)
    }
    // A restore test killed with its scratch cluster in backup.dir (maybe running): the live cluster was never touched.
    const testing = await interruptedRestoreTest(config)
    if (testing) {
      const abandoned = await removeAbandonedRestoreTest(config, testing, { dryRun: run.dryRun })
      if (abandoned.done) actions.push(abandoned.done)
      if (abandoned.failed) couldNot('remove', testing.dataDir, abandoned.failed)
    }
    // Then a swap's rollback cut short: the old database takes the live name back.
    const stopped = await leftStopped(config)
    if (stopped) {
      const rolledBack = await repair('the rollback of the swap', () => finishRollback(config, stopped, run.dryRun)).catch((error: unknown) => {
        if (!run.dryRun) throw error
        couldNot('check', 'swap', `the interrupted swap's database names not checked: ${describeError(error)}`)
        return undefined
      })
      if (rolledBack) actions.push(rolledBack)
    }
    let databases: DatabaseLeftover[] = []
    try {
      databases = await findDatabaseLeftovers(config)
    } catch (error) {
      // A dry run after an interrupted switch finds PostgreSQL down: it says what it would do first.
      if (!run.dryRun) throw error
      couldNot('check', 'databases', `database leftovers not checked: ${describeError(error)}`)
    }
    for (const leftover of databases.filter((d) => d.kind === 'connections-disabled')) {
      actions.push(`allow connections to ${leftover.database} again`)
      if (!run.dryRun) await withAdmin(config.postgres, (admin) => setConnectionsAllowed(admin, leftover.database, true))
    }
    // Then the platform, as soon as its database accepts connections, and each service ready
    // before cleanup returns; the rest is tidying.
    const back = stopped ? await repair('starting the platform after the swap', () => startAfterSwap(config, runtimes, stopped, run.dryRun)) : undefined
    if (back) actions.push(back.action)
    for (const leftover of databases.filter((d) => d.kind !== 'connections-disabled')) {
      if (leftover.kind === 'pre-restore' && !dropPreRestore) continue
      actions.push(`drop database ${leftover.database}`)
      if (!run.dryRun)
        await withAdmin(config.postgres, (admin) => dropDatabase(admin, leftover.database), { statementTimeoutMs: 0 }).catch((error: unknown) =>
          couldNot('drop', leftover.database, `could not drop ${leftover.database}: ${describeError(error)}`),
        )
    }
    const { leftovers } = await listBackups(config.backup.dir)
    // A restore killed while it staged or used a copy from S3 (the restore lock is held: none runs now).
    const staged = (await abandonedStagings(config.backup.dir)).map((path) => ({ path, remove: removeStaging }))
    // The WAL spool of a recovery killed before it ended: beside its side directory (or in backup.dir on a fresh host).
    const liveDir = await liveDataDir(config, runtimes).catch(() => undefined)
    const beside = [recovering?.liveDir, switching?.liveDir, liveDir].flatMap((dir) => (dir ? [dirname(dir)] : []))
    const spools = (await abandonedSpools([config.backup.dir, ...beside])).map((path) => ({ path, remove: removeSpool }))
    for (const file of [...leftovers.map((l) => ({ path: l.path, remove: removeLeftover })), ...staged, ...spools]) {
      actions.push(`remove ${file.path}`)
      if (!run.dryRun)
        await file.remove(file.path).catch((error: unknown) => couldNot('remove', file.path, `could not remove ${file.path}: ${describeError(error)}`))
    }
    const kept = databases.filter((d) => d.kind === 'pre-restore' && !dropPreRestore).map((d) => d.database)
    const done = `${run.dryRun ? 'would ' : ''}${actions.length ? actions.join('; ') : 'nothing to clean up'}${kept.length ? `; kept ${kept.join(', ')} (--drop-pre-restore drops them)` : ''}`
    return {
      summary: [done, ...findings.map((f) => f.message)].join('; '),
      findings,
      data: { actions, kept, ...(back && !run.dryRun ? { services: back.services } : {}) },
    }
  },
}
