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

const loki: Hints = {
  refused: "start Loki, or set loki.url to '' to read logs from the local sources",
  dns: "correct loki.url, or set it to '' to read logs from the local sources",
  'no-answer': 'Loki takes connections but does not answer: check its load and its log, or raise loki.timeoutSeconds',
  auth: 'check loki.user and loki.passwordFile',
  'bad-answer': 'is loki.url the address of Loki (its HTTP port, 3100 by default)?',
}

const program: Hints = {}

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
  loki,
  program,
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
