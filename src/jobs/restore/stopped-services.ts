import { join } from 'node:path'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import { z } from 'zod'
import { isRestoreCopyName } from '../../backups/leftovers.js'
import { abandonedRunNote, foreign, removeRunNote, runNoteSchema, updateRunNote, writeRunNote } from '../../lib/run-note.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'

/**
 * A full restore stops the platform's services for its swap and starts them again; killed in
 * between, it would leave them stopped. It notes them in backup.dir first, and removes the note
 * once it has started them again, whatever the swap's outcome.
 */
const stoppedServicesSchema = runNoteSchema.extend({
  services: z.array(z.string()),
  /**
   * How far the swap got: with `rolling-back`, the restored database may still carry the live
   * name though the platform did not come up on it, and cleanup finishes putting the old one back.
   */
  swap: z.object({ live: z.string(), restored: z.string(), preRestore: z.string(), phase: z.enum(['stopping', 'swapped', 'rolling-back']) }).optional(),
})

export type StoppedServices = z.infer<typeof stoppedServicesSchema>

const NOTE = '.restore-stopped-services.json'

function notePath(config: Config): string {
  return join(config.backup.dir, NOTE)
}

export async function noteStopping(config: Config, services: string[], swap: NonNullable<StoppedServices['swap']>): Promise<void> {
  await writeRunNote(notePath(config), { services, swap }, (path) => new StepFailure(`services stopped by another restore are noted in ${path}`, 'probe-ops backup list says whether it is still running; if it was interrupted, probe-ops restore --cleanup starts them again'))
}

export async function markSwap(config: Config, services: string[], swap: NonNullable<StoppedServices['swap']>): Promise<void> {
  await updateRunNote(notePath(config), { services, swap })
}

export async function clearStopping(config: Config): Promise<void> {
  await removeRunNote(notePath(config))
}

/**
 * Services a killed restore left stopped, or undefined. Cleanup renames the databases its swap
 * names: only this platform's live database and the copies a restore of it makes, never others.
 */
export async function leftStopped(config: Config): Promise<StoppedServices | undefined> {
  const note = await abandonedRunNote(notePath(config), stoppedServicesSchema)
  const swap = note?.swap
  const live = config.postgres.database
  if (swap && (swap.live !== live || !isRestoreCopyName(live, swap.restored, 'restore') || !isRestoreCopyName(live, swap.preRestore, 'pre-restore'))) {
    throw foreign(notePath(config), `its swap names databases ${swap.live}, ${swap.restored} and ${swap.preRestore}, not ${live} and the copies a restore of it makes`)
  }
  return note
}

export function describeLeftStopped(note: StoppedServices): string {
  return `a restore stopped ${note.services.join(', ')} for its swap and was interrupted (started ${note.startedAt}): they may still be stopped`
}

/** Starts, and waits for, each noted service that is not running; says what it does, as `restore --cleanup` lists its actions. */
export async function startLeftStopped(config: Config, runtimes: ServiceRuntimes, note: StoppedServices, dryRun: boolean): Promise<string> {
  const services = note.services.map((name) => {
    const service = config.services.find((s) => s.name === name)
    if (!service) throw new StepFailure(`an interrupted restore stopped service ${name}, which is not configured`, `start it by hand, then remove ${notePath(config)}`)
    return service
  })
  const started: string[] = []
  for (const service of services) {
    if ((await runtimes.status(service)).running) continue
    started.push(service.name)
    if (dryRun) continue
    try {
      await runtimes.start(service)
    } catch (error) {
      throw new StepFailure(`could not start ${service.name}: ${describeError(error)}`, `probe-ops recover ${service.name}`)
    }
    const ready = await waitUntilReady(service, config)
    if (!ready.ready) throw new StepFailure(`${service.name} started but is not ready: ${ready.detail}`, `probe-ops recover ${service.name}`)
  }
  if (!dryRun) await clearStopping(config)
  return started.length ? `start ${started.join(', ')}, stopped by an interrupted restore` : `forget the interrupted restore's note: ${note.services.join(', ')} already running`
}
