import type { SystemErrorCode, SystemName } from '../errors.js'

export type { SystemErrorCode, SystemName } from '../errors.js'

/**
 * What went wrong with a real system, in the system's own terms: which system, a code to branch
 * on, one line with its address, and the original error as the cause. It names no probe-ops
 * command: what to do next is added by the step that knows the context (src/jobs/hints.ts).
 */
export class SystemError extends Error {
  readonly system: SystemName
  readonly code: SystemErrorCode
  /** What it is about: a service, unit, URL or path. */
  readonly target?: string
  readonly data?: Record<string, unknown>

  constructor(system: SystemName, code: SystemErrorCode, message: string, options: { cause?: unknown; target?: string; data?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SystemError'
    this.system = system
    this.code = code
    if (options.target !== undefined) this.target = options.target
    if (options.data !== undefined) this.data = options.data
  }
}

/** A SystemError, of this system and with this code when they are given. */
export function isSystemError(error: unknown, system?: SystemName, code?: SystemErrorCode): error is SystemError {
  return error instanceof SystemError && (system === undefined || error.system === system) && (code === undefined || error.code === code)
}

/** How far down a chain of causes to look: a loop of causes must not hang. */
const MAX_CAUSES = 8

/**
 * The errno (ECONNREFUSED), SQLSTATE (57P03) or RESP error word (LOADING) of an error, looked for
 * along its chain of causes; a SystemError's own code is not one of these.
 */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < MAX_CAUSES && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && code !== '' && !(current instanceof SystemError)) return code
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0]
      continue
    }
    current = current.cause
  }
  return undefined
}

/** What a socket's errno says happened, in the words of SystemErrorCode; undefined for any other code. */
export function networkErrorCode(errno: string | undefined): SystemErrorCode | undefined {
  switch (errno) {
    case 'ECONNREFUSED':
      return 'refused'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'unreachable'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns'
    case 'ETIMEDOUT':
      return 'no-answer'
    case 'EACCES':
    case 'EPERM':
      return 'permission'
    default:
      return undefined
  }
}
