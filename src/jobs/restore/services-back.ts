import { clearStopping, stoppedServicesNotePath, type StoppedServicesNote } from '../../backups/run-notes.js'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'
import type { ServiceBack } from './data.js'

/**
 * Starts each service a killed restore noted as stopped that is not running, and waits, for each
 * one, until it is really ready (SELECT 1, PING, its health URL), each within its readiness
 * timeout: one found running may be a restore's start cut short. Then the note goes. Says what it
 * did, as `restore --cleanup` lists its actions.
 */
export async function startLeftStopped(
  config: Readonly<Config>,
  runtimes: ServiceRuntimes,
  note: StoppedServicesNote,
  dryRun: boolean,
): Promise<{ action: string; services: ServiceBack[] }> {
  const services = note.services.map((name) => {
    const service = config.services.find((s) => s.name === name)
    if (!service)
      throw new StepFailure(
        `an interrupted restore stopped service ${name}, which is not configured`,
        `start it by hand, then remove ${stoppedServicesNotePath(config)}`,
      )
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
