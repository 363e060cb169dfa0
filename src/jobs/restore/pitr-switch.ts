import { lstat, rename } from 'node:fs/promises'
import { isAbsolute, join, normalize } from 'node:path'
import type { Config, ServiceConfig } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import { z } from 'zod'
import { abandonedRunNote, foreign, removeRunNote, runNoteSchema, writeRunNote, type RunNote } from '../../lib/run-note.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'

/**
 * The switch of a point-in-time recovery stops PostgreSQL and renames two data directories:
 * killed in between, it would leave PostgreSQL stopped, or with no data directory at all. So it
 * first writes what it is about to do here, in backup.dir, and removes the note once PostgreSQL
 * runs again; `backup list` reports a note whose writer is gone, and `restore --cleanup` finishes
 * or undoes that switch from what it finds on disk.
 */
const switchJournalSchema = runNoteSchema.extend({
  /** The live cluster's data directory. */
  liveDir: z.string(),
  /** Where the live data directory goes (kept). */
  aside: z.string(),
  /** The recovered data directory that takes its place. */
  recovered: z.string(),
  service: z.string(),
})

export type SwitchJournal = z.infer<typeof switchJournalSchema>

const JOURNAL = '.pitr-switch.json'

function journalPath(config: Config): string {
  return join(config.backup.dir, JOURNAL)
}

export function postgresService(config: Config): ServiceConfig {
  const service = config.services.find((s) => s.name === 'postgres')
  if (!service) throw new StepFailure('no postgres service is configured', 'configure services.postgres with its runtime and dataDir')
  return service
}

/** The live cluster's data directory as a path on this host: the container's mount source, or dataDir. */
export async function liveDataDir(config: Config, runtimes: ServiceRuntimes): Promise<string | undefined> {
  const service = postgresService(config)
  if (!service.dataDir) return undefined
  if (service.runtime === 'docker') {
    const { state } = await runtimes.container(service)
    return state.mounts.find((m) => m.destination === service.dataDir)?.source
  }
  return service.dataDir
}

export async function beginSwitch(config: Config, switching: Omit<SwitchJournal, keyof RunNote>): Promise<void> {
  await writeRunNote(
    journalPath(config),
    switching,
    (path) =>
      new StepFailure(
        `another point-in-time switch is noted in ${path}`,
        'probe-ops backup list says whether it is still running; if it was interrupted, probe-ops restore --cleanup finishes or undoes it',
      ),
  )
}

export async function endSwitch(config: Config): Promise<void> {
  await removeRunNote(journalPath(config))
}

/** A switch whose writer is gone, or undefined (none, or one still running). */
export async function interruptedSwitch(config: Config): Promise<SwitchJournal | undefined> {
  const journal = await abandonedRunNote(journalPath(config), switchJournalSchema)
  if (!journal) return undefined
  const why = foreignSwitch(config, journal)
  if (why) throw foreign(journalPath(config), why)
  return journal
}

/** The stamp of a restore's start in the names below: 20261125T031500Z. */
export function switchStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
}

/** The names a switch gives the directories beside the live one. */
export function switchNames(liveDir: string, stamp: string): { aside: string; recovered: string } {
  return { aside: `${liveDir}.pre-pitr-${stamp}`, recovered: `${liveDir}.pitr-${stamp}` }
}

/**
 * Why a journal is not one a switch of this platform wrote, or undefined. Cleanup renames the
 * directories it names, as root: only the configured PostgreSQL's data directory and the two
 * names a switch gives beside it, absolute and without a way out (no "..", no link).
 */
function foreignSwitch(config: Config, journal: SwitchJournal): string | undefined {
  const service = config.services.find((s) => s.name === 'postgres')
  if (!service || journal.service !== service.name) return `it names service ${journal.service}, not the configured postgres`
  if (!isAbsolute(journal.liveDir) || normalize(journal.liveDir) !== journal.liveDir || journal.liveDir === '/')
    return `its data directory ${journal.liveDir} is not an absolute, plain path`
  // Under Docker the directory is the container's mount source, checked against it when acted on.
  if (service.runtime !== 'docker' && journal.liveDir !== service.dataDir)
    return `its data directory ${journal.liveDir} is not services.postgres.dataDir (${service.dataDir ?? 'unset'})`
  const stamp = /\.pre-pitr-(\d{8}T\d{6}Z)$/.exec(journal.aside)?.[1]
  const expected = stamp ? switchNames(journal.liveDir, stamp) : undefined
  if (!expected || expected.aside !== journal.aside || expected.recovered !== journal.recovered)
    return `${journal.aside} and ${journal.recovered} are not the names a switch gives beside ${journal.liveDir}`
  return undefined
}

export function describeInterrupted(journal: SwitchJournal): string {
  return `a point-in-time switch of ${journal.liveDir} was interrupted (started ${journal.startedAt}): PostgreSQL may be stopped or without its data directory`
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

/** Stops the service and makes sure it is stopped: a data directory is never renamed under a running postmaster. */
export async function stopForSure(runtimes: ServiceRuntimes, service: ServiceConfig): Promise<void> {
  await runtimes.stop(service)
  if ((await runtimes.status(service)).running)
    throw new StepFailure(
      `${service.name} is still running after being stopped`,
      'stop it by hand (its data directory must not be moved under it), then run probe-ops restore --cleanup',
    )
}

async function startReady(config: Config, runtimes: ServiceRuntimes, service: ServiceConfig): Promise<void> {
  if (!(await runtimes.status(service)).running) await runtimes.start(service)
  const ready = await waitUntilReady(service, config, runtimes)
  if (!ready.ready) throw new StepFailure(`PostgreSQL is not ready: ${ready.detail}`)
}

/**
 * Finishes or undoes an interrupted switch, whichever the disk says is possible, and makes sure
 * PostgreSQL runs: with the live directory gone and the old one aside, the old one goes back;
 * with the recovered one in place, PostgreSQL runs on it (a cluster already running on it is
 * never taken back; one that cannot be started is, and the old one returns); with nothing moved,
 * PostgreSQL is started again. Says what it does, as `restore --cleanup` lists its actions.
 */
export async function resolveSwitch(config: Config, runtimes: ServiceRuntimes, journal: SwitchJournal, dryRun: boolean): Promise<string> {
  const service: ServiceConfig | undefined = config.services.find((s) => s.name === journal.service)
  if (!service)
    throw new StepFailure(
      `the interrupted switch names service ${journal.service}, which is not configured`,
      'configure it again, or move the data directories back by hand',
    )
  const actual = await liveDataDir(config, runtimes).catch((error: unknown) => `unknown (${describeError(error)})`)
  if (actual !== journal.liveDir)
    throw foreign(journalPath(config), `its data directory ${journal.liveDir} is not the live cluster's, ${actual ?? 'which is not configured'}`)
  const live = await isDirectory(journal.liveDir)
  const aside = await isDirectory(journal.aside)
  const recovered = await isDirectory(journal.recovered)
  const running = (await runtimes.status(service)).running
  let did: string
  if (!live && aside) {
    did = `put the old data directory back (${journal.aside} -> ${journal.liveDir}) and start PostgreSQL on it${recovered ? `; the recovered one stays at ${journal.recovered}` : ''}`
    if (dryRun) return did
    if (running) await stopForSure(runtimes, service)
    await rename(journal.aside, journal.liveDir)
    await startReady(config, runtimes, service)
  } else if (live && aside && !recovered) {
    if (running) {
      did = `keep PostgreSQL running on the recovered data, as the interrupted switch left it; the old data directory stays at ${journal.aside}`
      if (dryRun) return did
      await startReady(config, runtimes, service)
    } else {
      did = `start PostgreSQL on the recovered data, which the interrupted switch had put in place; the old data directory stays at ${journal.aside}`
      if (dryRun) return did
      try {
        await startReady(config, runtimes, service)
      } catch (error) {
        await stopForSure(runtimes, service)
        await rename(journal.liveDir, journal.recovered)
        await rename(journal.aside, journal.liveDir)
        await startReady(config, runtimes, service)
        did = `put the old data directory back and start PostgreSQL on it, since it did not come up on the recovered data (${describeError(error)}); the recovered one stays at ${journal.recovered}`
      }
    }
  } else if (live && !aside) {
    did = `${running ? 'keep PostgreSQL running' : 'start PostgreSQL'} on its own data directory (the interrupted switch had moved nothing)${recovered ? `; the recovered one stays at ${journal.recovered}` : ''}`
    if (dryRun) return did
    await startReady(config, runtimes, service)
  } else {
    const state = (path: string, exists: boolean) => `${path} ${exists ? 'exists' : 'is missing'}`
    throw new StepFailure(
      `cannot tell how far the switch got: ${state(journal.liveDir, live)}, ${state(journal.aside, aside)}, ${state(journal.recovered, recovered)}`,
      `a data directory may have been made anew (Docker creates a missing bind-mount source): put the right one at ${journal.liveDir} by hand, start PostgreSQL, then remove ${journalPath(config)}`,
    )
  }
  await endSwitch(config)
  return did
}
