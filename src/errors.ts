import { redactText } from './lib/redact.js'

/** An error that also says what to do about it. Secrets in URLs it quotes are redacted at once. */
export class HintedError extends Error {
  readonly hint?: string
  constructor(message: string, hint?: string) {
    super(redactText(message))
    this.name = new.target.name
    this.hint = hint === undefined ? undefined : redactText(hint)
  }
}

/**
 * The stable codes of the error document a command prints under --json when no report could be
 * made (docs/report.schema.json lists the same): scripts branch on these, never on the message.
 */
export const ERROR_CODES = [
  'usage',
  'unknown-command',
  'unknown-step',
  'unknown-service',
  'unknown-backup',
  'bad-config',
  'confirmation-required',
  'lock-held',
  'operation-failed',
  'internal',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

/**
 * The real systems probe-ops talks to, and what can go wrong with them, as src/systems/errors.ts
 * types its errors. The words live here, at the bottom of the layers, so that the report layer
 * (a step's hints) can name them without importing the systems layer.
 */
export type SystemName =
  | 'postgres'
  | 'pg-tools'
  | 'redis'
  | 'docker'
  | 'systemd'
  | 'journal'
  | 'process'
  | 'http'
  | 'alertmanager'
  | 'prometheus'
  | 'loki'
  | 'program'
  | 'age'
  | 'compression'
  | 'files'
  | 'host'
  | 'certificates'
  | 'auth-log'
  | 'packages'
  | 'scanners'
  /** An S3-compatible object store (a backup repository). */
  | 's3'

export type SystemErrorCode =
  /** ECONNREFUSED: nothing listens. */
  | 'refused'
  /** EHOSTUNREACH, ENETUNREACH, ECONNRESET before an answer. */
  | 'unreachable'
  /** ENOTFOUND, EAI_AGAIN. */
  | 'dns'
  /** Took the connection (or is running) but answered nothing within the bound. */
  | 'no-answer'
  /** An operation (program, statement, handshake) ran past its bound. */
  | 'timeout'
  /** Credentials rejected: 28P01/28000, NOAUTH/WRONGPASS. */
  | 'auth'
  /** EACCES/EPERM on a socket or file. */
  | 'permission'
  /** A database (3D000), container, unit, pid file, log file or record that is not there. */
  | 'not-found'
  /** A program that is missing (ENOENT on spawn). */
  | 'not-installed'
  /** Still starting: 57P03, Redis LOADING. */
  | 'starting'
  /** A setting the system cannot use (DOCKER_HOST not an address). */
  | 'bad-setting'
  /** Non-2xx, not JSON, a rejected query, an unexpected reply. */
  | 'bad-answer'
  /** A program's non-zero exit, anything else. */
  | 'failed'
  /** The step's signal aborted it. */
  | 'cancelled'

/**
 * The kinds of failure a user sees. A UsageError (bad flag, bad config, unknown service)
 * ends the command with exit 2 and one line; a StepFailure is what a step throws to fail
 * itself with a hint, and becomes part of the report rather than a stack trace.
 */
export class UsageError extends HintedError {
  constructor(
    message: string,
    hint?: string,
    readonly code: ErrorCode = 'usage',
  ) {
    super(message, hint)
  }
}

export class StepFailure extends HintedError {
  readonly data?: Record<string, unknown>
  constructor(message: string, hint?: string, data?: Record<string, unknown>) {
    super(message, hint)
    this.data = data
  }
}

/** Something outside our control failed (a service would not start): exit 1, one line and a hint. */
export class OperationFailure extends HintedError {}

/** Another run of the same job holds its lock: exit 3. */
export class LockHeldError extends Error {
  readonly holderPid?: number
  constructor(message: string, holderPid?: number) {
    super(message)
    this.name = 'LockHeldError'
    this.holderPid = holderPid
  }
}

/** A bounded wait ran out: what timed out and after how long. */
export class TimeoutError extends Error {
  constructor(
    what: string,
    readonly afterMs: number,
  ) {
    super(`${what} did not answer within ${formatSeconds(afterMs)}`)
    this.name = 'TimeoutError'
  }
}

/** A signal asked the run to stop: what the job's abort carries to its steps. */
export class Interruption extends Error {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') {
    super(`interrupted by ${signal}`)
    this.name = 'Interruption'
  }
}

export function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${Math.round(ms)} ms`
}

/** One line for a thrown value, whatever it is; never a stack, never a password in a URL it quotes. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0])
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code
    const message = error.message || code || error.name
    return redactText(message.split('\n')[0]!.trim())
  }
  return redactText(String(error))
}
