import type { Leftover } from '../../backups/store.js'
import type { StepOutcome } from '../../report/runner.js'

/** Manifests (and files) in the backup directory that were refused: one problem each, never acted on. */
export function refusedProblems(unreadable: Leftover[]): { severity: string; message: string; next: string }[] {
  return unreadable.map((l) => ({
    severity: 'warning',
    message: `${l.path}: ${l.why}`,
    next: 'probe-ops leaves it alone: inspect it, and remove it by hand if it is not needed',
  }))
}

/**
 * A step's outcome that also reports what was refused on the way (`data.unreadable`,
 * `data.problems`): a warning, so a cron run with --fail-on warning mails it.
 */
export function withRefused(outcome: StepOutcome, unreadable: Leftover[]): StepOutcome {
  if (unreadable.length === 0) return outcome
  const problems = refusedProblems(unreadable)
  const first = problems[0]!
  return {
    ...outcome,
    status: outcome.status === 'failed' ? 'failed' : 'warning',
    summary: `${outcome.summary}; skipped ${unreadable.length === 1 ? 'one refused file' : `${unreadable.length} refused files`}: ${first.message}`,
    data: { ...outcome.data, unreadable, problems },
    error: outcome.error ?? { message: first.message, hint: first.next },
  }
}
