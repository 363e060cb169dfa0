/**
 * What a step returns, and what the runner hands it: the one shape every step's result has. A
 * step reports what it found (findings), lines for people (details) and figures for programs
 * (data); the runner alone derives the step's status from its findings.
 */

import type { SystemErrorCode, SystemName } from '../errors.js'
import { SEVERITIES, type AlertRecord, type Finding, type Severity } from './model.js'

export { SEVERITIES, type Finding, type Severity } from './model.js'

/** What a step returns when it did not throw. A thrown error makes the step failed. */
export interface StepOutcome<Data = undefined> {
  summary: string
  findings?: readonly Finding[]
  /** Lines for people (the terminal view, cron mail); not for programs. */
  details?: readonly string[]
  /** Typed per step; its JSON Schema is docs/report.schema.json#/$defs/data.<job>.<step>. */
  data?: Data
  /** Nothing to do here (no apt, no HTTP service): reported as skipped, `summary` says why. */
  skipped?: true
}

export interface CriticalOptions {
  /** How long a cut step waits for the phase: what its own operations' bounds add up to. */
  boundMs?: number
  /** What repairs the phase when it did not end within its bound and the process exits under it. */
  repair?: string
}

/** What the runner hands every step besides the job's own context. */
export interface StepRun {
  readonly signal: AbortSignal
  readonly dryRun: boolean
  /** A property, not a method: steps pass it on as a value. */
  readonly recordAlert: (alert: AlertRecord) => void
  /**
   * Runs a phase that must not be cut half way (the platform stopped for a swap, data directories
   * being renamed). A timeout or an interrupt meanwhile waits for it to end, finished or undone,
   * and the step then comes to its end as usual. The phase is not handed the step's signal: what
   * it starts, it finishes. Once the step has been told to stop, no such phase starts.
   */
  readonly critical: <T>(phase: string, work: () => Promise<T>, options?: CriticalOptions) => Promise<T>
}

/** Hints for system errors, keyed `system.code`, where a step knows better than the default table. */
export type StepHints = Partial<Record<`${SystemName}.${SystemErrorCode}`, string>>

/** A step's implementation; its id, title and one-line summary live in the job's spec. */
export interface StepDefinition<Context, Data = unknown> {
  /** The step's own bound; the job's --timeout caps it. */
  timeoutMs?: number | ((context: Context) => number)
  /**
   * How long, once cut, the step may take to clean up (drop what it half made) before the job
   * goes on and the process may exit. Steps that only read need none.
   */
  cleanupMs?: number
  /** Hints for system errors, where this step knows better than the default table. */
  hints?: StepHints
  run(context: Context, run: StepRun): Promise<StepOutcome<Data>>
  /**
   * Takes back what a finished step made when a later step (or one running alongside) fails in a
   * job whose steps build on each other; says what it did, or nothing when there was nothing.
   */
  undo?(context: Context): Promise<string | undefined>
}

export function rank(severity: Severity): number {
  return SEVERITIES.indexOf(severity)
}

/** Worst first, then by id, one entry per id (the worse wins): the same findings always come out the same. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const byId = new Map<string, Finding>()
  for (const finding of findings) {
    const seen = byId.get(finding.id)
    if (!seen || rank(finding.severity) > rank(seen.severity)) byId.set(finding.id, finding)
  }
  return [...byId.values()].sort((a, b) => rank(b.severity) - rank(a.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** high or critical fails a step; medium or low makes it a warning; info alone, or nothing, is ok. */
export function statusOf(findings: readonly Finding[]): 'ok' | 'warning' | 'failed' {
  if (findings.some((f) => rank(f.severity) >= rank('high'))) return 'failed'
  if (findings.some((f) => rank(f.severity) >= rank('low'))) return 'warning'
  return 'ok'
}

/** The worst finding (the first by id among equals), or none. */
export function worstFinding(findings: readonly Finding[]): Finding | undefined {
  return sortFindings(findings)[0]
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
