/**
 * What to do next when a real system fails, by system and error code. The systems layer says
 * what happened to the system (a SystemError); these hints add what an operator of probe-ops
 * does about it. A step that knows better gives its own (StepDefinition.hints).
 */

import { HintedError, type SystemErrorCode, type SystemName } from '../errors.js'
import type { StepHints } from '../report/outcome.js'
import { SystemError } from '../systems/errors.js'

type Hint = string | ((error: SystemError) => string)
type Hints = Partial<Record<SystemErrorCode, Hint>>

// One table per system, each its own const, so that edits to one never touch another's lines.

const postgres: Hints = {}

const pgTools: Hints = {}

const redis: Hints = {}

const docker: Hints = {}

const systemd: Hints = {}

const journal: Hints = {}

const processes: Hints = {}

const http: Hints = {}

const alertmanager: Hints = {}

const prometheus: Hints = {}

const program: Hints = {}

const age: Hints = {
  auth: 'the identity file holds none of the secret keys this was encrypted for: give the identity of one of its recipients (backup.encryption.identityFile)',
  'not-installed': "install Debian's age package, or set backup.encryption.program to library",
}

const compression: Hints = {
  'not-installed': "run probe-ops with Node.js 22.15 or newer (scripts/use-node.sh), or install Debian's zstd package",
}

const files: Hints = {}

const host: Hints = {}

const certificates: Hints = {}

const authLog: Hints = {}

const packages: Hints = {}

const scanners: Hints = {}

export const HINTS: Record<SystemName, Hints> = {
  postgres,
  'pg-tools': pgTools,
  redis,
  docker,
  systemd,
  journal,
  process: processes,
  http,
  alertmanager,
  prometheus,
  program,
  age,
  compression,
  files,
  host,
  certificates,
  'auth-log': authLog,
  packages,
  scanners,
}

/** The default table's hint for a system error; none for anything else. */
export function defaultHint(error: unknown): string | undefined {
  if (!(error instanceof SystemError)) return undefined
  const hint = HINTS[error.system][error.code]
  return typeof hint === 'function' ? hint(error) : hint
}

/**
 * What to do about a caught error: the hint a step threw with it (a HintedError), else the
 * step's own hint for that system and code, else the default table's. Steps read hints only
 * through this, never off `.hint`.
 */
export function hintOf(error: unknown, stepHints?: StepHints): string | undefined {
  if (error instanceof HintedError && error.hint !== undefined) return error.hint
  if (error instanceof SystemError) return stepHints?.[`${error.system}.${error.code}`] ?? defaultHint(error)
  return undefined
}
