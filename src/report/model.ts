/** The one report every job returns; the terminal view, --json, the log and metrics render it. */

import type { ErrorCode } from '../errors.js'
import type { LockTakeover } from '../lib/lock.js'

export const SCHEMA_VERSION = 1

export type StepStatus = 'ok' | 'warning' | 'failed' | 'skipped'
export type JobStatus = 'ok' | 'warning' | 'failed'

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

/**
 * One thing a step found, rated. Dashboards and cron mails track a finding from run to run by its
 * id, so the same cause always gives the same id; the message may carry changing figures.
 */
export interface Finding {
  /** `kind[:subject]`, e.g. `service-down:redis`, `open-port:tcp:0.0.0.0:6379`, `disk-full:/var/lib/docker`. */
  id: string
  severity: Severity
  /** What it is about, in the operator's words: a service, path, table, endpoint, backup id. */
  subject?: string
  /** One line; may carry changing figures (the id must not). */
  message: string
  /** What to do next: a probe-ops command or an instruction. Info findings may go without. */
  fix?: string
}

export interface StepError {
  message: string
  hint?: string
}

export interface StepResult {
  id: string
  title: string
  status: StepStatus
  durationMs: number
  summary: string
  /** What the step found, worst first; absent when nothing. The step's status comes from them. */
  findings?: Finding[]
  /** Lines for people; absent when none. */
  details?: string[]
  /** Typed per step: its schema is docs/report.schema.json's data.<job>.<step>. */
  data?: Record<string, unknown>
  /** Warning or failed: the worst finding's message and fix, or what was thrown. */
  error?: StepError
  /** What the step's undo took back when a later step failed. */
  undone?: string
}

export interface AlertRecord {
  alertname: string
  severity: string
  delivered: boolean
  /** A resolving post: the condition is gone. */
  resolved?: boolean
  /** Why delivery failed, when it did. */
  error?: string
}

/** What cut a run short: a signal (Ctrl-C, kill, a closed terminal) or the job's --timeout. */
export interface Interrupted {
  by: 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'timeout'
  at: string
}

export interface Report {
  schemaVersion: typeof SCHEMA_VERSION
  command: string
  version: string
  host: string
  startedAt: string
  finishedAt: string
  durationMs: number
  status: JobStatus
  dryRun: boolean
  steps: StepResult[]
  alerts: AlertRecord[]
  /** The job's lock had to be taken over from a holder that could not be identified as alive. */
  lockTakeover?: LockTakeover
  /** Present when the run was cut short; its status is then failed, and each step says how far it got. */
  interrupted?: Interrupted
}

/** "interrupted by SIGINT", "cut by --timeout". */
export function describeInterrupted(interrupted: Interrupted): string {
  return interrupted.by === 'timeout' ? 'cut by --timeout' : `interrupted by ${interrupted.by}`
}

/**
 * What --json prints instead of a report when no job could run (bad usage or configuration, a held
 * lock, our own bug): stdout holds exactly one JSON document on every exit.
 */
export interface ErrorDocument {
  schemaVersion: typeof SCHEMA_VERSION
  command: string
  version: string
  host: string
  status: 'error'
  exitCode: number
  error: { code: ErrorCode; message: string; hint?: string }
}

export function errorDocument(about: Pick<ErrorDocument, 'command' | 'version' | 'host' | 'exitCode'>, error: ErrorDocument['error']): ErrorDocument {
  const { command, version, host, exitCode } = about
  return { schemaVersion: SCHEMA_VERSION, command, version, host, status: 'error', exitCode, error }
}

export function overallStatus(steps: readonly StepResult[]): JobStatus {
  if (steps.some((s) => s.status === 'failed')) return 'failed'
  if (steps.some((s) => s.status === 'warning')) return 'warning'
  return 'ok'
}

export type FailOn = 'failed' | 'warning'

/** The contract's exit codes: 0 every step ok or warning, 1 a step failed (or warned, with --fail-on warning). */
export function exitCodeFor(report: Report, failOn: FailOn = 'failed'): 0 | 1 {
  if (report.status === 'failed') return 1
  if (failOn === 'warning' && report.status === 'warning') return 1
  return 0
}
