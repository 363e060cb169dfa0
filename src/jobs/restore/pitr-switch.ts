import { rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { beginSwitch, clearStopping, endRecovery, endSwitch, noteStopping, switchNames, switchStamp } from '../../backups/run-notes.js'
import type { Config, ServiceConfig } from '../../config/load.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import type { StepDefinition, StepOutcome, StepRun } from '../../report/outcome.js'
import { pgCtl } from '../../systems/pg-tools.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'
import type { PitrContext, SideCluster } from './context.js'
import type { SwitchData } from './data.js'
import { downtimeBoundMs, replayEnd } from './planning.js'
import { BLOCK_BEGIN, BLOCK_END, rewriteAutoConf, sideCluster } from './pitr.js'
import { postgresService, stopForSure } from './switch-repair.js'

/**
 * The last step of a point-in-time recovery: the recovered cluster switched in place of the live
 * one, or (--side-only) left running beside it with the next commands printed.
 */
export const switchRecovered: StepDefinition<PitrContext, SwitchData> = {
  run: (context, run) => (context.sideOnly ? leaveBeside(context, run) : switchInPlace(context, run)),
}

async function leaveBeside(context: PitrContext, run: StepRun): Promise<StepOutcome<SwitchData>> {
  const side = sideCluster(context)
  const bin = context.config.backup.binDir
  if (run.dryRun || !side?.port) return { summary: 'would leave it running on a side port and print the next commands' }
  side.kept = true
  const { postgres } = context.config
  const nextSteps = [
    `inspect it:   psql -h 127.0.0.1 -p ${side.port} -U ${postgres.user} ${postgres.database}`,
    `stop it:      ${process.getuid?.() === 0 ? 'runuser -u postgres -- ' : ''}${bin}/pg_ctl -D ${side.dataDir} stop -m fast`,
    `switch to it: stop the live PostgreSQL, move ${side.liveDir ?? 'its data directory'} aside, move ${side.dataDir} in its place, remove the probe-ops block from its postgresql.auto.conf, start PostgreSQL`,
    `or drop it:   stop it, then rm -rf ${side.dataDir}`,
  ]
  return {
    summary: `left running on 127.0.0.1:${side.port} (${side.dataDir})`,
    details: nextSteps,
    data: { port: side.port, dataDir: side.dataDir, nextSteps },
  }
}

async function switchInPlace(context: PitrContext, run: StepRun): Promise<StepOutcome<SwitchData>> {
  const side = sideCluster(context)
  if (run.dryRun || !side) {
    const platform = platformServices(context.config, postgresService(context.config)).map((s) => s.name)
    const around = platform.length ? `, with ${platform.join(', ')} stopped around it` : ''
    return { summary: `would stop the live PostgreSQL, put the recovered data directory in its place and start it${around}` }
  }
  // From here on the switch says where the recovered data directory is, or moves it in.
  side.kept = true
  const { liveDir } = side
  if (!liveDir)
    throw new StepFailure(
      `the live data directory is not visible from here (services.postgres.dataDir)`,
      `the recovered cluster is still running on port ${side.port}: switch by hand, or use --side-only`,
    )
  const service = postgresService(context.config)
  const platform = platformServices(context.config, service)
  const { aside } = switchNames(liveDir, switchStamp(context.at))
  // Ctrl-C, a kill or --timeout from here on lets the switch finish, or undo itself, first.
  return run.critical('the switch of data directories', () => switchDataDirectories(context, service, platform, { ...side, liveDir, aside }), {
    boundMs: downtimeBoundMs([service, ...platform]) + 120_000,
    repair: 'probe-ops restore --cleanup finishes or undoes the switch and starts PostgreSQL',
  })
}

/** The services a restore stops while their database changes under them (restore.stopServices), PostgreSQL aside. */
function platformServices(config: Readonly<Config>, postgres: ServiceConfig): ServiceConfig[] {
  return config.services.filter((s) => config.restore.stopServices.includes(s.name) && s.name !== postgres.name)
}

/**
 * The platform started again after the switch (or after switching back), each service waited for
 * until ready; the note of them goes only when all are. Says which one is not, if any.
 */
async function startPlatform(config: Readonly<Config>, runtimes: ServiceRuntimes, platform: readonly ServiceConfig[]): Promise<string | undefined> {
  const problems: string[] = []
  for (const service of platform) {
    try {
      if (!(await runtimes.status(service)).running) await runtimes.start(service)
      const ready = await waitUntilReady(service, config, runtimes)
      if (!ready.ready) problems.push(`${service.name} is not ready: ${ready.detail}`)
    } catch (error) {
      problems.push(`${service.name} did not start: ${describeError(error)}`)
    }
  }
  if (problems.length === 0 && platform.length > 0) await clearStopping(config)
  return problems.length ? problems.join('; ') : undefined
}

/**
 * The switch with the platform (restore.stopServices) stopped around it, as a logical restore's
 * swap stops it: nothing reads the old data after the moment recovered to, or caches it past the
 * switch. Noted before they stop: killed while they are down, `restore --cleanup` starts them
 * again once it has put the data directories in order.
 */
async function switchDataDirectories(
  context: PitrContext,
  service: ServiceConfig,
  platform: readonly ServiceConfig[],
  side: SideCluster & { liveDir: string; aside: string },
): Promise<StepOutcome<SwitchData>> {
  const { config, runtimes } = context
  const names = platform.map((s) => s.name)
  let outcome: StepOutcome<SwitchData>
  try {
    outcome = await switchWithPlatformDown(context, service, platform, side)
  } catch (error) {
    const notReady = platform.length > 0 ? await startPlatform(config, runtimes, platform) : undefined
    if (notReady) throw new StepFailure(`${describeError(error)}; and ${notReady}`, `probe-ops restore --cleanup, then probe-ops diagnose`)
    throw error
  }
  const notReady = platform.length > 0 ? await startPlatform(config, runtimes, platform) : undefined
  if (notReady)
    throw new StepFailure(
      `${outcome.summary}, but ${notReady}`,
      `probe-ops recover ${names.join(' ')} (the switch itself is done; the old data directory is kept)`,
    )
  return names.length ? { ...outcome, summary: `${outcome.summary}; ${names.join(', ')} stopped around it and ready again` } : outcome
}

/** Stops the live cluster, puts the recovered data directory in its place and starts it; or, failing that, puts the old one back. */
async function switchWithPlatformDown(
  { config, runtimes, target }: PitrContext,
  service: ServiceConfig,
  platform: readonly ServiceConfig[],
  side: SideCluster & { liveDir: string; aside: string },
): Promise<StepOutcome<SwitchData>> {
  const { aside, dataDir, liveDir } = side
  // Noted before anything changes (a backup.dir that cannot take the note stops the switch while
  // the recovered cluster still runs); killed from here on, `restore --cleanup` finishes or
  // undoes the switch from this note.
  await beginSwitch(config, { liveDir, aside, recovered: dataDir, service: service.name })
  // The switch's note now answers for the recovered directory.
  await endRecovery(config)
  await failpoint('pitr-switch-begun')
  const stop = await pgCtl(config, ['-D', dataDir, 'stop', '-m', 'fast', '-w'], { user: side.user, timeoutMs: 120_000 })
  if (!stop.ok) {
    await endSwitch(config)
    throw new StepFailure(`the recovered cluster did not stop: ${stop.output}`, 'the live cluster was not touched')
  }
  // Back to the live cluster's own settings: drop the side-port block.
  try {
    await rewriteAutoConf(
      dataDir,
      side.user,
      (text) => text.replace(new RegExp(`\\n?${BLOCK_BEGIN}[\\s\\S]*?${BLOCK_END}\\n?`), '\n'),
      `the live cluster was not touched; the recovered data directory, stopped, is kept at ${dataDir}: find out what replaced its postgresql.auto.conf`,
    )
  } catch (error) {
    await endSwitch(config)
    throw error
  }
  const downStarted = performance.now()
  if (platform.length > 0) {
    await noteStopping(
      config,
      platform.map((s) => s.name),
    )
    await failpoint('pitr-switch-platform-noted')
    try {
      for (const stopped of platform) await runtimes.stop(stopped)
    } catch (error) {
      // Nothing moved yet: the caller starts them again.
      await endSwitch(config)
      throw new StepFailure(`${describeError(error)} while stopping the platform for the switch`, 'the live cluster was not touched')
    }
  }
  await stopForSure(runtimes, service)
  await rename(liveDir, aside)
  await failpoint('pitr-switch-between-renames')
  await rename(dataDir, liveDir)
  await failpoint('pitr-switch-before-start')
  try {
    await runtimes.start(service)
    const ready = await waitUntilReady(service, config, runtimes)
    if (!ready.ready) throw new StepFailure(`PostgreSQL is not ready on the recovered data: ${ready.detail}`)
  } catch (error) {
    // Switching back moves data directories again: only with PostgreSQL surely stopped, and the
    // note stays until it runs again (else `restore --cleanup` finishes the job).
    await stopForSure(runtimes, service)
    await rename(liveDir, dataDir)
    await rename(aside, liveDir)
    await runtimes.start(service)
    const back = await waitUntilReady(service, config, runtimes)
    if (!back.ready)
      throw new StepFailure(
        `${describeError(error)}; switched back to the old data directory, but PostgreSQL is not ready on it either: ${back.detail}`,
        `probe-ops recover postgres; the recovered data directory is kept at ${dataDir}`,
      )
    await endSwitch(config)
    throw new StepFailure(`${describeError(error)}; switched back to the live data directory`, `the recovered data directory is kept at ${dataDir}`)
  }
  await failpoint('pitr-switch-after-start')
  await endSwitch(config)
  const downtimeMs = Math.round(performance.now() - downStarted)
  return {
    summary: `PostgreSQL runs on the data recovered to ${replayEnd(target)}; the old data directory is kept at ${aside}; down for ${formatSeconds(downtimeMs)}`,
    data: { dataDir: liveDir, previous: aside, downtimeMs, parent: dirname(liveDir) },
  }
}
