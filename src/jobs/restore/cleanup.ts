import { findDatabaseLeftovers } from '../../backups/leftovers.js'
import { listBackups, removeLeftover } from '../../backups/store.js'
import { dropDatabase } from '../../backups/verify.js'
import type { Step } from '../../report/runner.js'
import { quoteName, withPostgres } from '../../systems/postgres.js'
import type { BackupContext } from '../backup/context.js'
import { interruptedSwitch, resolveSwitch } from './pitr-switch.js'
import { leftStopped, startLeftStopped } from './stopped-services.js'

/** What interrupted restores, verifications and backups left behind, removed. */
export function cleanupStep(dropPreRestore: boolean): Step<BackupContext> {
  return {
    id: 'cleanup',
    title: 'Remove what interrupted restores and backups left behind',
    async run({ config, runtimes }, run) {
      const actions: string[] = []
      // First: it may have left PostgreSQL down, and the rest needs PostgreSQL.
      const switching = await interruptedSwitch(config)
      if (switching) actions.push(await resolveSwitch(config, runtimes, switching, run.dryRun))
      const databases = await findDatabaseLeftovers(config)
      const { leftovers } = await listBackups(config.backup.dir)
      for (const leftover of databases) {
        if (leftover.kind === 'pre-restore' && !dropPreRestore) continue
        if (leftover.kind === 'connections-disabled') {
          actions.push(`allow connections to ${leftover.database} again`)
          if (!run.dryRun) await withPostgres(config.postgres, (c) => c.query(`alter database ${quoteName(leftover.database)} with allow_connections true`), { database: 'postgres' })
          continue
        }
        actions.push(`drop database ${leftover.database}`)
        if (!run.dryRun) await dropDatabase(config, leftover.database)
      }
      for (const file of leftovers) {
        actions.push(`remove ${file.path}`)
        if (!run.dryRun) await removeLeftover(file.path)
      }
      // Last: the live database must accept connections again before the platform starts on it.
      const stopped = await leftStopped(config)
      if (stopped) actions.push(await startLeftStopped(config, runtimes, stopped, run.dryRun))
      const kept = databases.filter((d) => d.kind === 'pre-restore' && !dropPreRestore).map((d) => d.database)
      const summary = `${run.dryRun ? 'would ' : ''}${actions.length ? actions.join('; ') : 'nothing to clean up'}${kept.length ? `; kept ${kept.join(', ')} (--drop-pre-restore drops them)` : ''}`
      return { summary, data: { actions, kept } }
    },
  }
}
