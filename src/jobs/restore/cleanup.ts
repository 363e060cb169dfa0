import { findDatabaseLeftovers } from '../../backups/leftovers.js'
import { listBackups, removeLeftover } from '../../backups/store.js'
import { dropDatabase } from '../../backups/verify.js'
import type { Step } from '../../report/runner.js'
import { describeError } from '../../errors.js'
import { quoteName, withPostgres } from '../../systems/postgres.js'
import type { BackupContext } from '../backup/context.js'
import { interruptedSwitch, resolveSwitch } from './pitr-switch.js'
import { downtimeBoundMs, finishRollback, startAfterSwap } from './full.js'
import { leftStopped } from './stopped-services.js'

/** What interrupted restores, verifications and backups left behind, removed. */
export function cleanupStep(dropPreRestore: boolean): Step<BackupContext> {
  return {
    id: 'cleanup',
    title: 'Remove what interrupted restores and backups left behind',
    async run({ config, runtimes }, run) {
      const actions: string[] = []
      const problems: string[] = []
      // Each repair moves data directories or database names, or starts the platform: once begun,
      // an interrupt or a timeout lets it end (its note stays until it has).
      const repair = <T>(what: string, work: () => Promise<T>) => run.critical(what, work, { boundMs: downtimeBoundMs(config.services) })
      // First: it may have left PostgreSQL down, and the rest needs PostgreSQL.
      const switching = await interruptedSwitch(config)
      if (switching) actions.push(await repair('putting the data directories in order', () => resolveSwitch(config, runtimes, switching, run.dryRun)))
      // Then a swap's rollback cut short: the old database takes the live name back.
      const stopped = await leftStopped(config)
      if (stopped) {
        const rolledBack = await repair('the rollback of the swap', () => finishRollback(config, stopped, run.dryRun)).catch((error: unknown) => {
          if (!run.dryRun) throw error
          problems.push(`the interrupted swap's database names not checked: ${describeError(error)}`)
          return undefined
        })
        if (rolledBack) actions.push(rolledBack)
      }
      let databases: Awaited<ReturnType<typeof findDatabaseLeftovers>> = []
      try {
        databases = await findDatabaseLeftovers(config)
      } catch (error) {
        // A dry run after an interrupted switch finds PostgreSQL down: it says what it would do first.
        if (!run.dryRun) throw error
        problems.push(`database leftovers not checked: ${describeError(error)}`)
      }
      for (const leftover of databases.filter((d) => d.kind === 'connections-disabled')) {
        actions.push(`allow connections to ${leftover.database} again`)
        if (!run.dryRun)
          await withPostgres(config.postgres, (c) => c.query(`alter database ${quoteName(leftover.database)} with allow_connections true`), {
            database: 'postgres',
          })
      }
      // Then the platform, as soon as its database accepts connections, and each service ready
      // before cleanup returns; the rest is tidying.
      const back = stopped ? await repair('starting the platform after the swap', () => startAfterSwap(config, runtimes, stopped, run.dryRun)) : undefined
      if (back) actions.push(back.action)
      for (const leftover of databases.filter((d) => d.kind !== 'connections-disabled')) {
        if (leftover.kind === 'pre-restore' && !dropPreRestore) continue
        actions.push(`drop database ${leftover.database}`)
        if (!run.dryRun)
          await dropDatabase(config, leftover.database).catch((error: unknown) => problems.push(`could not drop ${leftover.database}: ${describeError(error)}`))
      }
      const { leftovers } = await listBackups(config.backup.dir)
      for (const file of leftovers) {
        actions.push(`remove ${file.path}`)
        if (!run.dryRun) await removeLeftover(file.path).catch((error: unknown) => problems.push(`could not remove ${file.path}: ${describeError(error)}`))
      }
      const kept = databases.filter((d) => d.kind === 'pre-restore' && !dropPreRestore).map((d) => d.database)
      const summary = `${run.dryRun ? 'would ' : ''}${actions.length ? actions.join('; ') : 'nothing to clean up'}${kept.length ? `; kept ${kept.join(', ')} (--drop-pre-restore drops them)` : ''}`
      const data = { actions, kept, ...(back && !run.dryRun ? { services: back.services } : {}) }
      if (problems.length)
        return {
          status: run.dryRun ? 'warning' : 'failed',
          summary: `${summary}; ${problems.join('; ')}`,
          data: { ...data, problems },
          error: { message: problems[0]!, hint: 'fix that, then run probe-ops restore --cleanup again' },
        }
      return { summary, data }
    },
  }
}
