import { basename, isAbsolute, join, normalize } from 'node:path'
import { z } from 'zod'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { abandonedRunNote, foreign, removeRunNote, runNoteSchema, updateRunNote, writeRunNote, type RunNote } from '../lib/run-note.js'
import { isRestoreCopyName } from './leftovers.js'

/**
 * The notes a restore leaves in backup.dir before a moment a kill must not leave half done, and
 * removes once it is whole again: `backup list` reports a note whose writer is gone, `restore
 * --cleanup` finishes or undoes what it names, and a new restore is refused while one is there.
 * The generic mechanism (created once, signed by its process, checked when read) is
 * lib/run-note.ts; this module knows the two notes and where they live.
 */

// ----- The switch of a point-in-time recovery -----

/**
 * It stops PostgreSQL and renames two data directories: killed in between, it would leave
 * PostgreSQL stopped, or with no data directory at all.
 */
const switchNoteSchema = runNoteSchema.extend({
  /** The live cluster's data directory. */
  liveDir: z.string(),
  /** Where the live data directory goes (kept). */
  aside: z.string(),
  /** The recovered data directory that takes its place. */
  recovered: z.string(),
  service: z.string(),
})

export type SwitchNote = z.infer<typeof switchNoteSchema>

export function switchNotePath(config: Readonly<Config>): string {
  return join(config.backup.dir, '.pitr-switch.json')
}

export async function beginSwitch(config: Readonly<Config>, switching: Omit<SwitchNote, keyof RunNote>): Promise<void> {
  await writeRunNote(
    switchNotePath(config),
    switching,
    (path) =>
      new StepFailure(
        `another point-in-time switch is noted in ${path}`,
        'probe-ops backup list says whether it is still running; if it was interrupted, probe-ops restore --cleanup finishes or undoes it',
      ),
  )
}

export async function endSwitch(config: Readonly<Config>): Promise<void> {
  await removeRunNote(switchNotePath(config))
}

/** A switch whose writer is gone, or undefined (none, or one still running); a note this platform's switch did not write is refused. */
export async function interruptedSwitch(config: Readonly<Config>): Promise<SwitchNote | undefined> {
  const note = await abandonedRunNote(switchNotePath(config), switchNoteSchema)
  if (!note) return undefined
  const why = foreignSwitch(config, note)
  if (why) throw foreign(switchNotePath(config), why)
  return note
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
 * Why a note is not one a switch of this platform wrote, or undefined. Cleanup renames the
 * directories it names, as root: only the configured PostgreSQL's data directory and the two
 * names a switch gives beside it, absolute and without a way out (no "..", no link).
 */
export function foreignSwitch(config: Readonly<Config>, note: SwitchNote): string | undefined {
  const service = config.services.find((s) => s.name === 'postgres')
  if (!service || note.service !== service.name) return `it names service ${note.service}, not the configured postgres`
  if (!isAbsolute(note.liveDir) || normalize(note.liveDir) !== note.liveDir || note.liveDir === '/')
    return `its data directory ${note.liveDir} is not an absolute, plain path`
  // Under Docker the directory is the container's mount source, checked against it when acted on.
  if (service.runtime !== 'docker' && note.liveDir !== service.dataDir)
    return `its data directory ${note.liveDir} is not services.postgres.dataDir (${service.dataDir ?? 'unset'})`
  const stamp = /\.pre-pitr-(\d{8}T\d{6}Z)$/.exec(note.aside)?.[1]
  const expected = stamp ? switchNames(note.liveDir, stamp) : undefined
  if (!expected || expected.aside !== note.aside || expected.recovered !== note.recovered)
    return `${note.aside} and ${note.recovered} are not the names a switch gives beside ${note.liveDir}`
  return undefined
}

export function describeInterruptedSwitch(note: SwitchNote): string {
  return `a point-in-time switch of ${note.liveDir} was interrupted (started ${note.startedAt}): PostgreSQL may be stopped or without its data directory`
}

// ----- The side cluster a recovery builds before its switch -----

/**
 * A recovery from a base backup unpacks and starts a side cluster beside the live data directory
 * (the recovered name of switchNames): killed before its switch, it would leave that directory
 * (and maybe its server) behind. Same fields as the switch's note, so the same check applies.
 */
export function recoveryNotePath(config: Readonly<Config>): string {
  return join(config.backup.dir, '.pitr-recovery.json')
}

export async function beginRecovery(config: Readonly<Config>, recovery: Omit<SwitchNote, keyof RunNote>): Promise<void> {
  await writeRunNote(
    recoveryNotePath(config),
    recovery,
    (path) => new StepFailure(`another recovery is noted in ${path}`, 'if it was interrupted, probe-ops restore --cleanup removes what it left'),
  )
}

/** The recovered directory is handed over (to the switch, or the operator) or gone. */
export async function endRecovery(config: Readonly<Config>): Promise<void> {
  await removeRunNote(recoveryNotePath(config))
}

/** A recovery whose writer is gone before its switch, or undefined; a note this platform's restore did not write is refused. */
export async function interruptedRecovery(config: Readonly<Config>): Promise<SwitchNote | undefined> {
  const note = await abandonedRunNote(recoveryNotePath(config), switchNoteSchema)
  if (!note) return undefined
  const why = foreignSwitch(config, note)
  if (why) throw foreign(recoveryNotePath(config), why)
  return note
}

// ----- The scratch cluster of a restore test -----

/**
 * `backup verify <base> --restore-test` unpacks the base into backup.dir and starts it on a side
 * port: killed meanwhile, it would leave that directory, and a server running on it. Only a
 * directory of this name, directly in backup.dir, is ever acted on.
 */
const RESTORE_TEST_DIR = /^\.restore-test-\d{8}T\d{6}Z$/

const restoreTestNoteSchema = runNoteSchema.extend({ dataDir: z.string() })

export type RestoreTestNote = z.infer<typeof restoreTestNoteSchema>

export function restoreTestNotePath(config: Readonly<Config>): string {
  return join(config.backup.dir, '.restore-test.json')
}

/** The scratch data directory of a restore test started at `at` (a dotted name: host state, never a backup or a leftover). */
export function restoreTestDir(config: Readonly<Config>, at: Date): string {
  return join(config.backup.dir, `.restore-test-${switchStamp(at)}`)
}

export async function beginRestoreTest(config: Readonly<Config>, dataDir: string): Promise<void> {
  await writeRunNote(
    restoreTestNotePath(config),
    { dataDir },
    (path) =>
      new StepFailure(
        `another restore test is noted in ${path}`,
        'wait for it to end; if it was interrupted, probe-ops restore --cleanup (or the next restore test) removes what it left',
      ),
  )
}

export async function endRestoreTest(config: Readonly<Config>): Promise<void> {
  await removeRunNote(restoreTestNotePath(config))
}

/** A restore test whose writer is gone, or undefined (none, or one still running); a note naming anything but a scratch directory in backup.dir is refused. */
export async function interruptedRestoreTest(config: Readonly<Config>): Promise<RestoreTestNote | undefined> {
  const note = await abandonedRunNote(restoreTestNotePath(config), restoreTestNoteSchema)
  if (!note) return undefined
  const name = basename(note.dataDir)
  if (join(config.backup.dir, name) !== note.dataDir || !RESTORE_TEST_DIR.test(name))
    throw foreign(restoreTestNotePath(config), `its directory ${note.dataDir} is not a restore test's scratch directory in ${config.backup.dir}`)
  return note
}

export function describeInterruptedRestoreTest(note: RestoreTestNote): string {
  return `a restore test was interrupted (started ${note.startedAt}): its scratch cluster ${note.dataDir} may still run on a side port`
}

// ----- The services a full restore stops for its swap -----

/** Killed while they are down, a restore would leave them stopped. */
const stoppedServicesSchema = runNoteSchema.extend({
  services: z.array(z.string()),
  /**
   * How far the swap got: with `rolling-back`, the restored database may still carry the live
   * name though the platform did not come up on it, and cleanup finishes putting the old one back.
   */
  swap: z.object({ live: z.string(), restored: z.string(), preRestore: z.string(), phase: z.enum(['stopping', 'swapped', 'rolling-back']) }).optional(),
})

export type StoppedServicesNote = z.infer<typeof stoppedServicesSchema>
export type SwapNote = NonNullable<StoppedServicesNote['swap']>

export function stoppedServicesNotePath(config: Readonly<Config>): string {
  return join(config.backup.dir, '.restore-stopped-services.json')
}

/** Services about to be stopped by a restore: by the swap of a logical one (`swap`), or a physical switch of data directories. */
export async function noteStopping(config: Readonly<Config>, services: string[], swap?: SwapNote): Promise<void> {
  await writeRunNote(
    stoppedServicesNotePath(config),
    { services, ...(swap ? { swap } : {}) },
    (path) =>
      new StepFailure(
        `services stopped by another restore are noted in ${path}`,
        'probe-ops backup list says whether it is still running; if it was interrupted, probe-ops restore --cleanup starts them again',
      ),
  )
}

/** The same run's note, a phase further. */
export async function markSwap(config: Readonly<Config>, services: string[], swap: SwapNote): Promise<void> {
  await updateRunNote(stoppedServicesNotePath(config), { services, swap })
}

export async function clearStopping(config: Readonly<Config>): Promise<void> {
  await removeRunNote(stoppedServicesNotePath(config))
}

/**
 * Services a killed restore left stopped, or undefined. Cleanup renames the databases its swap
 * names: only this platform's live database and the copies a restore of it makes, never others.
 */
export async function leftStopped(config: Readonly<Config>): Promise<StoppedServicesNote | undefined> {
  const note = await abandonedRunNote(stoppedServicesNotePath(config), stoppedServicesSchema)
  const swap = note?.swap
  const live = config.postgres.database
  if (swap && (swap.live !== live || !isRestoreCopyName(live, swap.restored, 'restore') || !isRestoreCopyName(live, swap.preRestore, 'pre-restore'))) {
    throw foreign(
      stoppedServicesNotePath(config),
      `its swap names databases ${swap.live}, ${swap.restored} and ${swap.preRestore}, not ${live} and the copies a restore of it makes`,
    )
  }
  return note
}

export function describeLeftStopped(note: StoppedServicesNote): string {
  return `a restore stopped ${note.services.join(', ')} for its swap and was interrupted (started ${note.startedAt}): they may still be stopped`
}
