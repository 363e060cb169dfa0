import { lstat } from 'node:fs/promises'
import { endRecovery, type SwitchNote } from '../../backups/run-notes.js'
import type { Config } from '../../config/load.js'
import { postgresOsUser } from '../../systems/os-user.js'
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
  const action = present ? `remove the abandoned recovery ${recovered}` : undefined
  if (options.dryRun) return action ? { done: action } : {}
  if (present) {
    const side: SideCluster = { dataDir: recovered, user: postgresOsUser(note.liveDir), given: true }
    const said = await discardSide(config, side)
    if (side.kept || !said.endsWith(`removed ${recovered}`)) return { failed: said }
  }
  await endRecovery(config)
  return action ? { done: action } : {}
}
