import { planPrune } from '../../backups/prune.js'
import { listBackups, removeBackup } from '../../backups/store.js'
import { formatSize } from '../../lib/format.js'
import { plural } from '../../lib/words.js'
import type { StepDefinition } from '../../report/outcome.js'
import type { BackupContext } from '../shared/backup-context.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { PruneData } from './data.js'

/** Backups past their retention (backups/prune.ts decides which), removed; what was refused on the way is left alone and reported. */
export const pruneStep: StepDefinition<BackupContext, PruneData> = {
  async run({ config }, run) {
    const { backups, unreadable } = await listBackups(config.backup.dir)
    const plan = planPrune(backups, config.backup.keep)
    const bytes = plan.remove.reduce((s, b) => s + b.manifest.bytes, 0)
    const data = {
      keep: plan.keep.map((k) => ({ id: k.backup.manifest.id, reasons: k.reasons })),
      remove: plan.remove.map((b) => b.manifest.id),
      bytes,
      policy: { ...config.backup.keep },
    }
    if (!run.dryRun) for (const backup of plan.remove) await removeBackup(config.backup.dir, backup)
    const did = run.dryRun
      ? `would remove ${plural(plan.remove.length, 'backup')} (${formatSize(bytes)}), keep`
      : `removed ${plural(plan.remove.length, 'backup')} (${formatSize(bytes)}), kept`
    return { summary: withRefusedNote(`${did} ${plan.keep.length}`, unreadable), findings: refusedFindings(unreadable), data }
  },
}
