/**
 * How a step's result is made from what it returned or threw. The runner alone derives a step's
 * status: from its findings (high or worse fails it, low or medium warns), from a throw (failed),
 * or from its saying there was nothing to do (skipped). No step sets its own status.
 */

import { StepFailure, describeError } from '../errors.js'
import type { StepResult } from './model.js'
import { sortFindings, statusOf, type StepOutcome } from './outcome.js'

export interface StepBase {
  id: string
  title: string
}

/** The result of a step that returned. */
export function resultOf(base: StepBase, outcome: StepOutcome<unknown>, durationMs: number): StepResult {
  const findings = sortFindings(outcome.findings ?? [])
  const status = outcome.skipped ? 'skipped' : statusOf(findings)
  const worst = findings[0]
  return {
    ...base,
    status,
    durationMs,
    summary: outcome.summary,
    ...(findings.length > 0 ? { findings } : {}),
    ...(outcome.details && outcome.details.length > 0 ? { details: [...outcome.details] } : {}),
    ...(outcome.data !== undefined ? { data: outcome.data as Record<string, unknown> } : {}),
    // The worst finding stays the step's error too: the maintenance log's line and dashboards read it.
    ...((status === 'warning' || status === 'failed') && worst ? { error: { message: worst.message, ...(worst.fix ? { hint: worst.fix } : {}) } } : {}),
  }
}

/** The result of a step that threw: failed, with what it said and what to do; a StepFailure's data stays. */
export function failedResult(base: StepBase, error: unknown, durationMs: number, hint: string | undefined): StepResult {
  const failure = error instanceof StepFailure ? error : undefined
  return {
    ...base,
    status: 'failed',
    durationMs,
    summary: describeError(error),
    ...(failure?.data ? { data: failure.data } : {}),
    error: { message: describeError(error), ...(hint ? { hint } : {}) },
  }
}

/** A failed result whose summary and error are said here. */
export function failed(base: StepBase, durationMs: number, summary: string, error: { message: string; hint?: string }): StepResult {
  return { ...base, status: 'failed', durationMs, summary, error }
}

/** A step the job's --timeout left no time to start. */
export function notStartedResult(base: StepBase): StepResult {
  return failed(base, 0, 'not started: the job ran out of time', { message: 'the job timeout was reached before this step started', hint: 'raise --timeout' })
}

/** The result with what came while it ran added to its summary. */
export function withSummarySuffix(result: StepResult, suffix: string): StepResult {
  return { ...result, summary: `${result.summary} (${suffix})` }
}
