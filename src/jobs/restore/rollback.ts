import type { StoppedServicesNote } from '../../backups/run-notes.js'
import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { databaseExists, renameDatabases, withAdmin } from '../../systems/postgres-admin.js'
import type { ServiceRuntimes } from '../../systems/services.js'
import type { ServiceBack } from './data.js'
import { rollbackNeeded, type Rollback } from './planning.js'
import { startLeftStopped } from './services-back.js'

/** What `restore --cleanup` does about a full restore killed during its swap. */

const ADMIN = { statementTimeoutMs: 30_000 }

/** Whether the database kept from before is there: without it there is nothing to go back to. */
async function keptExists(config: Readonly<Config>, rollback: Rollback): Promise<boolean> {
  return withAdmin(config.postgres, (admin) => databaseExists(admin, rollback.incoming), ADMIN)
}

async function renameBack(config: Readonly<Config>, rollback: Rollback): Promise<void> {
  await withAdmin(config.postgres, (admin) => renameDatabases(admin, rollback.live, { incoming: rollback.incoming, outgoing: rollback.outgoing }), ADMIN)
}

function describeRollback(rollback: Rollback): string {
  return `${rollback.incoming} takes the name ${rollback.live} again, the restored copy becomes ${rollback.outgoing}`
}

/**
 * For a restore killed while rolling its swap back: the platform did not come up on the restored
 * database, so the database kept from before takes the live name again (unless that already
 * happened). Says what it does, or nothing.
 */
export async function finishRollback(config: Readonly<Config>, note: StoppedServicesNote, dryRun: boolean): Promise<string | undefined> {
  const rollback = rollbackNeeded(note)
  if (!rollback) return undefined
  if (!(await keptExists(config, rollback))) return undefined
  if (!dryRun) await renameBack(config, rollback)
  return `finish the interrupted rollback: ${describeRollback(rollback)}`
}

/**
 * For a restore killed after its swap, before the platform was up: start it, and if it does not
 * come up on the restored database, roll the swap back as the restore itself would have.
 */
export async function startAfterSwap(
  config: Readonly<Config>,
  runtimes: ServiceRuntimes,
  note: StoppedServicesNote,
  dryRun: boolean,
): Promise<{ action: string; services: ServiceBack[] }> {
  try {
    return await startLeftStopped(config, runtimes, note, dryRun)
  } catch (error) {
    const rollback = dryRun ? undefined : rollbackNeeded(note, true)
    if (!rollback || note.swap?.phase !== 'swapped' || !(await keptExists(config, rollback))) throw error
    for (const service of config.services.filter((s) => note.services.includes(s.name))) await runtimes.stop(service).catch(() => undefined)
    await renameBack(config, rollback)
    const started = await startLeftStopped(config, runtimes, note, dryRun)
    return {
      action: `roll the swap back, since the platform did not come up on the restored database (${describeError(error)}): ${describeRollback(rollback)}; ${started.action}`,
      services: started.services,
    }
  }
}
