import type { StepOutcome } from './runner.js'

/**
 * Findings: what security-check and cert check report, one rated problem each. An id is stable
 * (the same input gives the same id, e.g. `open-port:tcp:0.0.0.0:6379`) so that dashboards and
 * cron mails can track a finding from run to run; the message may carry changing figures.
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

export interface Finding {
  id: string
  severity: Severity
  message: string
  /** What to do about it; info findings may go without. */
  fix?: string
}

export function rank(severity: Severity): number {
  return SEVERITIES.indexOf(severity)
}

/** Worst first, then by id: the same findings always come out in the same order. */
export function sortFindings(findings: Finding[]): Finding[] {
  const byId = new Map<string, Finding>()
  for (const f of findings) {
    const seen = byId.get(f.id)
    if (!seen || rank(f.severity) > rank(seen.severity)) byId.set(f.id, f)
  }
  return [...byId.values()].sort((a, b) => rank(b.severity) - rank(a.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** high or critical fails a step; medium or low makes it a warning; info alone is ok. */
export function statusOf(findings: readonly Finding[]): 'ok' | 'warning' | 'failed' {
  if (findings.some((f) => rank(f.severity) >= rank('high'))) return 'failed'
  if (findings.some((f) => rank(f.severity) >= rank('low'))) return 'warning'
  return 'ok'
}

export function countBySeverity(findings: readonly Finding[]): Partial<Record<Severity, number>> {
  const counts: Partial<Record<Severity, number>> = {}
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1
  return counts
}

/** "2 high, 1 medium" (info left out), or "no findings". */
export function describeCounts(findings: readonly Finding[]): string {
  const counts = countBySeverity(findings)
  const parts = [...SEVERITIES]
    .reverse()
    .filter((s) => s !== 'info' && counts[s])
    .map((s) => `${counts[s]} ${s}`)
  return parts.length > 0 ? parts.join(', ') : 'no findings'
}

/**
 * A step's outcome from its findings: status from the worst one, the worst as the step's error,
 * every finding in `data.findings`; for the terminal view, findings of low and above also as
 * `problems` (the renderer shows their fix) and info ones as `details` lines.
 */
export function findingsOutcome(summary: string, findings: Finding[], data: Record<string, unknown> = {}, details: string[] = []): StepOutcome {
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
