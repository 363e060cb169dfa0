import type { Leftover } from '../../backups/store.js'
import type { Finding } from '../../report/outcome.js'

/**
 * Manifests (and files) in the backup directory that were refused while reading it: one finding
 * each, never acted on. A warning, so that a cron run with --fail-on warning mails it.
 */
export function refusedFindings(unreadable: readonly Leftover[]): Finding[] {
  return unreadable.map((leftover) => ({
    id: `refused:${leftover.path}`,
    severity: 'medium',
    subject: leftover.path,
    message: `${leftover.path}: ${leftover.why}`,
    fix: 'probe-ops leaves it alone: inspect it, and remove it by hand if it is not needed',
  }))
}

/** A step's summary, with what it skipped as refused on the way. */
export function withRefusedNote(summary: string, unreadable: readonly Leftover[]): string {
  const [first] = unreadable
  if (!first) return summary
  return `${summary}; skipped ${unreadable.length === 1 ? 'one refused file' : `${unreadable.length} refused files`}: ${first.path}: ${first.why}`
}
