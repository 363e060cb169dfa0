import { lstat, rename } from 'node:fs/promises'
import { endSwitch, switchNotePath, type SwitchNote } from '../../backups/run-notes.js'
import type { Config, ServiceConfig } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import { foreign } from '../../lib/run-note.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'
import { switchDecision } from './planning.js'

/** The postgres service and its data directory: what a point-in-time switch moves, and what cleanup puts back. */

export function postgresService(config: Readonly<Config>): ServiceConfig {
  const service = config.services.find((s) => s.name === 'postgres')
  if (!service) throw new StepFailure('no postgres service is configured', 'configure services.postgres with its runtime and dataDir')
  return service
}

/** The live cluster's data directory as a path on this host: the container's mount source, or dataDir. */
export async function liveDataDir(config: Readonly<Config>, runtimes: ServiceRuntimes): Promise<string | undefined> {
  const service = postgresService(config)
  if (!service.dataDir) return undefined
  if (service.runtime === 'docker') {
    const { state } = await runtimes.container(service)
    return state.mounts.find((m) => m.destination === service.dataDir)?.source
  }
  return service.dataDir
}

/** Stops the service and makes sure it is stopped: a data directory is never renamed under a running postmaster. */
export async function stopForSure(runtimes: ServiceRuntimes, service: ServiceConfig): Promise<void> {
  await runtimes.stop(service)
  if ((await runtimes.status(service)).running)
    throw new StepFailure(
      `${service.name} is still running after being stopped`,
      'stop it by hand (its data directory must not be moved under it), then run probe-ops restore --cleanup',
    )
}

/** Whether a data directory is there; a link or anything else where one should be is never renamed. */
async function isDirectory(path: string): Promise<boolean> {
  const found = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  if (found && !found.isDirectory())
    throw new StepFailure(
      `${path} is ${found.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: not a data directory a switch left`,
      'put the right data directories in place by hand, start PostgreSQL, then remove the journal',
    )
  return found !== undefined
}

async function startReady(config: Readonly<Config>, runtimes: ServiceRuntimes, service: ServiceConfig): Promise<void> {
  if (!(await runtimes.status(service)).running) await runtimes.start(service)
  const ready = await waitUntilReady(service, config, runtimes)
  if (!ready.ready) throw new StepFailure(`PostgreSQL is not ready: ${ready.detail}`)
}

/**
 * Finishes or undoes an interrupted switch, whichever the disk says is possible (planning.ts's
 * switchDecision), and makes sure PostgreSQL runs. Says what it does, as `restore --cleanup`
 * lists its actions.
 */
export async function resolveSwitch(config: Readonly<Config>, runtimes: ServiceRuntimes, note: SwitchNote, dryRun: boolean): Promise<string> {
  const service = config.services.find((s) => s.name === note.service)
  if (!service)
    throw new StepFailure(
      `the interrupted switch names service ${note.service}, which is not configured`,
      'configure it again, or move the data directories back by hand',
    )
  const actual = await liveDataDir(config, runtimes).catch((error: unknown) => `unknown (${describeError(error)})`)
  if (actual !== note.liveDir)
    throw foreign(switchNotePath(config), `its data directory ${note.liveDir} is not the live cluster's, ${actual ?? 'which is not configured'}`)
  const found = {
    live: await isDirectory(note.liveDir),
    aside: await isDirectory(note.aside),
    recovered: await isDirectory(note.recovered),
    running: (await runtimes.status(service)).running,
  }
  const recoveredStays = found.recovered ? `; the recovered one stays at ${note.recovered}` : ''
  let did: string
  switch (switchDecision(found)) {
    case 'put-back':
      did = `put the old data directory back (${note.aside} -> ${note.liveDir}) and start PostgreSQL on it${recoveredStays}`
      if (dryRun) return did
      if (found.running) await stopForSure(runtimes, service)
      await rename(note.aside, note.liveDir)
      await startReady(config, runtimes, service)
      break
    case 'keep-recovered':
      did = `keep PostgreSQL running on the recovered data, as the interrupted switch left it; the old data directory stays at ${note.aside}`
      if (dryRun) return did
      await startReady(config, runtimes, service)
      break
    case 'start-recovered':
      did = `start PostgreSQL on the recovered data, which the interrupted switch had put in place; the old data directory stays at ${note.aside}`
      if (dryRun) return did
      try {
        await startReady(config, runtimes, service)
      } catch (error) {
        await stopForSure(runtimes, service)
        await rename(note.liveDir, note.recovered)
        await rename(note.aside, note.liveDir)
        await startReady(config, runtimes, service)
        did = `put the old data directory back and start PostgreSQL on it, since it did not come up on the recovered data (${describeError(error)}); the recovered one stays at ${note.recovered}`
      }
      break
    case 'start-own':
      did = `${found.running ? 'keep PostgreSQL running' : 'start PostgreSQL'} on its own data directory (the interrupted switch had moved nothing)${recoveredStays}`
      if (dryRun) return did
      await startReady(config, runtimes, service)
      break
    case 'unknown': {
      const state = (path: string, exists: boolean) => `${path} ${exists ? 'exists' : 'is missing'}`
      throw new StepFailure(
        `cannot tell how far the switch got: ${state(note.liveDir, found.live)}, ${state(note.aside, found.aside)}, ${state(note.recovered, found.recovered)}`,
        `a data directory may have been made anew (Docker creates a missing bind-mount source): put the right one at ${note.liveDir} by hand, start PostgreSQL, then remove ${switchNotePath(config)}`,
      )
    }
  }
  await endSwitch(config)
  return did
}
