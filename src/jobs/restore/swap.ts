import type { Client } from 'pg'
import { preRestoreName, restoreName } from '../../backups/leftovers.js'
import { clearStopping, markSwap, noteStopping, type SwapNote } from '../../backups/run-notes.js'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import type { StepDefinition, StepOutcome } from '../../report/outcome.js'
import { closePostgres, connectPostgres } from '../../systems/postgres.js'
import { databaseExists, renameDatabases } from '../../systems/postgres-admin.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { FullRestoreContext } from './context.js'
import type { SwapData } from './data.js'
import { downtimeBoundMs } from './planning.js'

type Services = Readonly<Config>['services']

interface Names {
  live: string
  incoming: string
  outgoing: string
  services: Services
}

/** The last step of a full restore: the platform stopped, the names swapped, the platform started (or the swap rolled back). */
export const swap: StepDefinition<FullRestoreContext, SwapData> = {
  async run(context, run) {
    const { config } = context
    const live = config.postgres.database
    const incoming = context.state.restoredDatabase
    const outgoing = preRestoreName(live, context.at)
    const services = config.services.filter((s) => config.restore.stopServices.includes(s.name))
    if (run.dryRun || !incoming)
      return {
        summary: `would stop ${services.map((s) => s.name).join(', ') || 'no service'}, rename ${live} to ${outgoing} and ${restoreName(live, context.at)} to ${live}, and start them again`,
      }
    // Ctrl-C, a kill or --timeout while the platform is down must not leave it down: the swap
    // finishes, or rolls itself back, before the run ends.
    return run.critical(
      'the swap',
      async () => {
        // Killed while they are down, `restore --cleanup` starts them again from this note.
        await noteStopping(config, names(services), { live, restored: incoming, preRestore: outgoing, phase: 'stopping' })
        try {
          return await swapWithServicesDown(context, { live, incoming, outgoing, services })
        } finally {
          // Whatever the outcome, the note goes only once every service runs again.
          const down: string[] = []
          for (const service of services) if (!(await context.runtimes.status(service).catch(() => ({ running: false }))).running) down.push(service.name)
          if (down.length === 0) await clearStopping(config)
        }
      },
      { boundMs: downtimeBoundMs(services), repair: 'probe-ops restore --cleanup finishes or undoes the swap and starts the platform' },
    )
  },
}

function names(services: Services): string[] {
  return services.map((s) => s.name)
}

/** The swap itself: services stopped, names swapped, services started (or the swap rolled back). */
async function swapWithServicesDown(context: FullRestoreContext, { live, incoming, outgoing, services }: Names): Promise<StepOutcome<SwapData>> {
  const { config, runtimes } = context
  const timeline: { at: string; event: string }[] = []
  const note = (event: string) => timeline.push({ at: new Date().toISOString(), event })
  const phase = (phase: SwapNote['phase']) => markSwap(config, names(services), { live, restored: incoming, preRestore: outgoing, phase })
  const downStarted = performance.now()
  let admin: Client
  try {
    for (const service of services) {
      await runtimes.stop(service)
      note(`stopped ${service.name}`)
      await failpoint('restore-swap-services-stopped')
    }
    admin = await connectPostgres(config.postgres, { database: 'postgres', statementTimeoutMs: 30_000 })
  } catch (error) {
    // Nothing was renamed: bring the platform back as it was.
    for (const service of services) await runtimes.start(service).catch(() => undefined)
    throw new StepFailure(`${describeError(error)}; nothing was swapped and the services were started again`, 'the live database was not touched', { timeline })
  }
  let hadLive = true
  try {
    try {
      // The disaster case: no live database to keep, the restored one just takes its name.
      hadLive = await databaseExists(admin, live)
      await renameDatabases(admin, live, { incoming, outgoing: hadLive ? outgoing : undefined })
    } catch (error) {
      for (const service of services) await runtimes.start(service).catch(() => undefined)
      throw new StepFailure(
        `the swap failed: ${describeError(error)}; the live database keeps its name and the services were started again`,
        `the restored copy is kept as ${incoming}; probe-ops restore --cleanup drops it`,
        { timeline },
      )
    }
    note(hadLive ? `renamed ${live} to ${outgoing}, ${incoming} to ${live}` : `there was no ${live}: renamed ${incoming} to ${live}`)
    await phase('swapped')
    await failpoint('restore-swap-swapped')
    if (hadLive) context.state.preRestoreDatabase = outgoing
    context.state.restoredDatabase = undefined
    try {
      for (const service of services) {
        await runtimes.start(service)
        await failpoint('restore-swap-starting')
        const ready = await waitUntilReady(service, config, runtimes)
        if (!ready.ready) throw new StepFailure(`${service.name} is not ready after the swap: ${ready.detail}`)
        note(`${service.name} ready`)
      }
    } catch (error) {
      if (!hadLive) {
        // There is nothing to go back to: without the restored database the platform is down for sure.
        note(`${describeError(error)}; kept the restored ${live}: there was none before to go back to`)
        throw new StepFailure(
          `${describeError(error)}; the restored database stays as ${live}, since there was none before`,
          `find why ${names(services).join(', ')} is not ready (probe-ops diagnose); the database itself was checked against the manifest`,
          { timeline },
        )
      }
      // The platform does not work with the restored database: put the old one back.
      note(`rolling back: ${describeError(error)}`)
      await phase('rolling-back')
      for (const service of services) await runtimes.stop(service).catch(() => undefined)
      await failpoint('restore-swap-rolling-back')
      await renameDatabases(admin, live, { incoming: outgoing, outgoing: incoming })
      context.state.preRestoreDatabase = undefined
      for (const service of services) await runtimes.start(service).catch(() => undefined)
      note(`rolled back: ${live} is the database of before the restore again; the restored copy is ${incoming}`)
      throw new StepFailure(
        `${describeError(error)}; the swap was rolled back`,
        `the restored copy is kept as ${incoming} for inspection; probe-ops restore --cleanup drops it`,
        { timeline },
      )
    }
  } finally {
    await closePostgres(admin)
  }
  const downtimeMs = Math.round(performance.now() - downStarted)
  const kept = hadLive ? `the old one is kept as ${outgoing}` : `there was no ${live} before`
  return {
    summary: `${live} is the restored database; ${kept}; services down for ${formatSeconds(downtimeMs)}`,
    data: {
      live,
      ...(hadLive ? { preRestore: outgoing } : {}),
      downtimeMs,
      timeline,
      ...(context.state.safetyBackup ? { safetyBackup: context.state.safetyBackup } : {}),
    },
  }
}
