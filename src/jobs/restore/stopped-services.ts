import { join } from 'node:path'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
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
  await writeRunNote(
    notePath(config),
    { services, swap },
    (path) =>
      new StepFailure(
        `services stopped by another restore are noted in ${path}`,
        'probe-ops backup list says whether it is still running; if it was interrupted, probe-ops restore --cleanup starts them again',
      ),
  )
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
    throw foreign(
      notePath(config),
      `its swap names databases ${swap.live}, ${swap.restored} and ${swap.preRestore}, not ${live} and the copies a restore of it makes`,
    )
  }
  return note
}

export function describeLeftStopped(note: StoppedServices): string {
  return `a restore stopped ${note.services.join(', ')} for its swap and was interrupted (started ${note.startedAt}): they may still be stopped`
}

/** What became of a service a restore had stopped, as `restore --cleanup` reports it. */
export interface ServiceBack {
  service: string
  /** Whether cleanup started it, or found it running (a restore killed while starting it). */
  action: 'started' | 'found running'
  ready: boolean
  /** What its readiness check answered last. */
  readiness: string
  /** How long it was waited for (from its start, when cleanup started it). */
  waitedMs: number
}

/**
 * Starts each noted service that is not running and waits, for each one, until it is really
 * ready (SELECT 1, PING, its health URL), each within its readiness timeout: one found running
 * may be a restore's start cut short. Says what it did, as `restore --cleanup` lists its actions.
 */
export async function startLeftStopped(
  config: Config,
  runtimes: ServiceRuntimes,
  note: StoppedServices,
  dryRun: boolean,
): Promise<{ action: string; services: ServiceBack[] }> {
  const services = note.services.map((name) => {
    const service = config.services.find((s) => s.name === name)
    if (!service)
      throw new StepFailure(`an interrupted restore stopped service ${name}, which is not configured`, `start it by hand, then remove ${notePath(config)}`)
    return service
  })
  const back: ServiceBack[] = []
  const toStart: string[] = []
  for (const service of services) {
    const running = (await runtimes.status(service)).running
    if (!running) toStart.push(service.name)
    if (dryRun) continue
    const waitStarted = performance.now()
    if (!running) {
      try {
        await runtimes.start(service)
      } catch (error) {
        throw new StepFailure(`could not start ${service.name}: ${describeError(error)}`, `probe-ops recover ${service.name}`, { services: back })
      }
    }
    const ready = await waitUntilReady(service, config, runtimes)
    const waitedMs = Math.round(performance.now() - waitStarted)
    back.push({ service: service.name, action: running ? 'found running' : 'started', ready: ready.ready, readiness: ready.detail, waitedMs })
    if (!ready.ready) {
      throw new StepFailure(
        `${service.name} ${running ? 'runs' : 'started'} but is not ready after ${formatSeconds(waitedMs)}: ${ready.detail}`,
        `probe-ops recover ${service.name}`,
        { services: back },
      )
    }
  }
  if (dryRun)
    return {
      action: toStart.length
        ? `start ${toStart.join(', ')}, stopped by an interrupted restore, and wait until ready`
        : `forget the interrupted restore's note: ${note.services.join(', ')} already running`,
      services: back,
    }
  await clearStopping(config)
  const readiness = back.map((b) => `${b.service} ready after ${formatSeconds(b.waitedMs)} (${b.readiness})`).join(', ')
  return {
    action: toStart.length
      ? `start ${toStart.join(', ')}, stopped by an interrupted restore: ${readiness}`
      : `${readiness}: the interrupted restore's note is removed`,
    services: back,
  }
}
