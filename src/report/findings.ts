import { countBySeverity, rank, sortFindings, statusOf, type Finding } from './outcome.js'
import type { LegacyOutcome } from './runner.js'

export { SEVERITIES, countBySeverity, describeCounts, rank, sortFindings, statusOf, worstFinding, type Finding, type Severity } from './outcome.js'

/**
 * @deprecated a step returns its findings in a StepOutcome (./outcome.ts) and the runner derives
 * the rest; this adapter is for the jobs not yet moved to it.
 *
 * A step's outcome from its findings: status from the worst one, the worst as the step's error,
 * every finding in `data.findings`; for the terminal view, findings of low and above also as
 * `problems` (the renderer shows their fix) and info ones as `details` lines.
 */
export function findingsOutcome(summary: string, findings: Finding[], data: Record<string, unknown> = {}, details: string[] = []): LegacyOutcome {
  const sorted = sortFindings(findings)
  const status = statusOf(sorted)
  const problems = sorted
    .filter((f) => f.severity !== 'info')
    .map((f) => ({ severity: rank(f.severity) >= rank('high') ? 'failed' : 'warning', message: `${f.severity}: ${f.message}`, next: f.fix ?? '' }))
  const info = sorted.filter((f) => f.severity === 'info').map((f) => f.message)
  const worst = sorted[0]
  return {
    status,
    summary,
    data: { ...data, findings: sorted, counts: countBySeverity(sorted), details: [...details, ...info], problems },
    ...(worst && status !== 'ok' ? { error: { message: worst.message, ...(worst.fix ? { hint: worst.fix } : {}) } } : {}),
  }
}
