import { existsSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config, ServiceConfig } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import { abandonedRunNote, removeRunNote, writeRunNote, type RunNote } from '../../lib/run-note.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'

/**
 * The switch of a point-in-time recovery stops PostgreSQL and renames two data directories:
 * killed in between, it would leave PostgreSQL stopped, or with no data directory at all. So it
 * first writes what it is about to do here, in backup.dir, and removes the note once PostgreSQL
 * runs again; `backup list` reports a note whose writer is gone, and `restore --cleanup` finishes
 * or undoes that switch from what it finds on disk.
 */
export interface SwitchJournal extends RunNote {
  /** The live cluster's data directory. */
  liveDir: string
  /** Where the live data directory goes (kept). */
  aside: string
  /** The recovered data directory that takes its place. */
  recovered: string
  service: string
}

const JOURNAL = '.pitr-switch.json'

function journalPath(config: Config): string {
  return join(config.backup.dir, JOURNAL)
}

export async function beginSwitch(config: Config, switching: Omit<SwitchJournal, keyof RunNote>): Promise<void> {
  await writeRunNote(journalPath(config), switching)
}

export async function endSwitch(config: Config): Promise<void> {
  await removeRunNote(journalPath(config))
}

/** A switch whose writer is gone, or undefined (none, or one still running). */
export function interruptedSwitch(config: Config): Promise<SwitchJournal | undefined> {
  return abandonedRunNote<SwitchJournal>(journalPath(config))
}

export function describeInterrupted(journal: SwitchJournal): string {
  return `a point-in-time switch of ${journal.liveDir} was interrupted (started ${journal.startedAt}): PostgreSQL may be stopped or without its data directory`
}

/**
 * Finishes or undoes an interrupted switch, whichever the disk says is possible, and starts
 * PostgreSQL: with the live directory gone and the old one aside, the old one goes back; with the
 * recovered one in place, PostgreSQL starts on it (and if it does not come up, the old one goes
 * back); with nothing moved, PostgreSQL is started again. Says what it does, as `restore
 * --cleanup` lists its actions.
 */
export async function resolveSwitch(config: Config, runtimes: ServiceRuntimes, journal: SwitchJournal, dryRun: boolean): Promise<string> {
  const service: ServiceConfig | undefined = config.services.find((s) => s.name === journal.service)
  if (!service) throw new StepFailure(`the interrupted switch names service ${journal.service}, which is not configured`, 'configure it again, or move the data directories back by hand')
  const [live, aside, recovered] = [journal.liveDir, journal.aside, journal.recovered].map((p) => existsSync(p))
  const startReady = async (): Promise<void> => {
    await runtimes.start(service)
    const ready = await waitUntilReady(service, config)
    if (!ready.ready) throw new StepFailure(`PostgreSQL did not come up: ${ready.detail}`)
  }
  let did: string
  if (!live && aside) {
    did = `put the old data directory back (${journal.aside} -> ${journal.liveDir}) and start PostgreSQL on it${recovered ? `; the recovered one stays at ${journal.recovered}` : ''}`
    if (dryRun) return did
    await rename(journal.aside, journal.liveDir)
    await startReady()
  } else if (live && aside && !recovered) {
    did = `start PostgreSQL on the recovered data, which the interrupted switch had put in place; the old data directory stays at ${journal.aside}`
    if (dryRun) return did
    try {
      await startReady()
    } catch (error) {
      await runtimes.stop(service).catch(() => undefined)
      await rename(journal.liveDir, journal.recovered)
      await rename(journal.aside, journal.liveDir)
      await startReady()
      did = `put the old data directory back and start PostgreSQL on it, since it did not come up on the recovered data (${describeError(error)}); the recovered one stays at ${journal.recovered}`
    }
  } else if (live && !aside) {
    did = `start PostgreSQL on its own data directory (the interrupted switch had moved nothing)${recovered ? `; the recovered one stays at ${journal.recovered}` : ''}`
    if (dryRun) return did
    await startReady()
  } else {
    throw new StepFailure(`cannot tell how far the switch got: ${journal.liveDir} ${live ? 'exists' : 'is missing'}, ${journal.aside} ${aside ? 'exists' : 'is missing'}`, 'put the right data directory in place by hand, start PostgreSQL, then remove ' + journalPath(config))
  }
  await endSwitch(config)
  return did
}
