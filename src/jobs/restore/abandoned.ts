import { lstat } from 'node:fs/promises'
import { endRecovery, endRestoreTest, type RestoreTestNote, type SwitchNote } from '../../backups/run-notes.js'
import type { Config } from '../../config/load.js'
import { postgresOsUser, type OsUser } from '../../systems/os-user.js'
import type { SideCluster } from './context.js'
import { discardSide } from './pitr.js'

/**
 * What `restore --cleanup` does with a recovery killed before its switch (its note names the side
 * directory beside the live one, checked by interruptedRecovery): the side server stopped and
 * the directory removed, as PostgreSQL's user; then the note. When the switch was noted too, the
 * switch's repair decided about the directory already: only the note goes.
 */
export async function removeAbandonedRecovery(
  config: Readonly<Config>,
  note: SwitchNote,
  options: { switched: boolean; dryRun: boolean },
): Promise<{ done?: string; failed?: string }> {
  const { recovered } = note
  const info = await lstat(recovered).catch(() => undefined)
  // Only a directory under the name a recovery gives (never through a link put there).
  const present = !options.switched && info?.isDirectory() === true
  return discardAbandoned(config, { what: 'recovery', dataDir: recovered, user: postgresOsUser(note.liveDir), present }, options.dryRun, () =>
    endRecovery(config),
  )
}

/**
 * What a restore test killed before its end left (its note names the scratch directory in
 * backup.dir, checked by interruptedRestoreTest): the scratch server stopped and the directory
 * removed as its owner, then the note. `restore --cleanup` and the next restore test run it.
 */
export async function removeAbandonedRestoreTest(
  config: Readonly<Config>,
  note: RestoreTestNote,
  options: { dryRun: boolean },
): Promise<{ done?: string; failed?: string }> {
  const { dataDir } = note
  const info = await lstat(dataDir).catch(() => undefined)
  // Only a directory (never through a link put there); PostgreSQL's user owns it once given.
  const present = info?.isDirectory() === true
  const user = info ? { uid: info.uid, gid: info.gid } : undefined
  return discardAbandoned(config, { what: 'restore test', dataDir, user, present }, options.dryRun, () => endRestoreTest(config))
}

/** A side directory (when present) stopped and removed as its owner, then its note: what it did, or why it could not. */
async function discardAbandoned(
  config: Readonly<Config>,
  found: { what: string; dataDir: string; user: OsUser | undefined; present: boolean },
  dryRun: boolean,
  endNote: () => Promise<void>,
): Promise<{ done?: string; failed?: string }> {
  const { dataDir, present } = found
  const action = present ? `remove the abandoned ${found.what} ${dataDir}` : undefined
  if (dryRun) return action ? { done: action } : {}
  if (present) {
    const side: SideCluster = { dataDir, user: found.user, given: true }
    const said = await discardSide(config, side)
    if (side.kept || !said.endsWith(`removed ${dataDir}`)) return { failed: said }
  }
  await endNote()
  return action ? { done: action } : {}
}
