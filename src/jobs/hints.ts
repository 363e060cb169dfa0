/**
 * What to do next when a real system fails, by system and error code. The systems layer says
 * what happened to the system (a SystemError); these hints add what an operator of probe-ops
 * does about it. A step that knows better gives its own (StepDefinition.hints).
 */

import { HintedError, type SystemErrorCode, type SystemName } from '../errors.js'
import type { StepHints } from '../report/outcome.js'
import { SystemError } from '../systems/errors.js'

/** A hint, or a function of the error that gives one (undefined: none for this error). */
type Hint = string | ((error: SystemError) => string | undefined)
type Hints = Partial<Record<SystemErrorCode, Hint>>

// One table per system, each its own const, so that edits to one never touch another's lines.

/** The ways a client's call to its server fails. */
const CLIENT_FAILURES = ['refused', 'unreachable', 'dns', 'no-answer', 'auth', 'permission', 'starting', 'bad-answer', 'failed'] as const

/** A client's table: the precise hints, and one hint for every other way its calls fail. */
function clientHints(otherwise: string, precise: Hints): Hints {
  return { ...Object.fromEntries(CLIENT_FAILURES.map((code) => [code, otherwise])), ...precise }
}

const postgres: Hints = {}

const pgTools: Hints = {}

const redis: Hints = clientHints('check that Redis is running and redis.url is right', {
  refused: 'Redis is down: run `probe-ops recover redis`',
  auth: 'set the password in REDIS_URL or redis.passwordFile',
  'no-answer': 'it accepts connections but does not answer: check for a hung or overloaded server, then `probe-ops recover redis`',
})

const docker: Hints = clientHints('check that the Docker engine is running', {
  refused: 'start Docker (systemctl start docker), or fix docker.host / DOCKER_HOST',
  permission: 'run as root or as a member of the docker group',
  'no-answer': 'the engine is hung or overloaded: check `systemctl status docker`',
  'bad-setting': 'set docker.host or DOCKER_HOST to unix:///var/run/docker.sock or tcp://host:2375',
  // The socket, a service's container (recreated by hand, never silently), or one asked for by id.
  'not-found': (error) => {
    if (error.data?.missing === 'socket') return 'is Docker running? set docker.host or DOCKER_HOST to its socket'
    if (error.data?.missing !== 'container') return undefined
    const composeService = error.data.composeService
    return typeof composeService === 'string'
      ? `recreate it from the compose file: docker-compose up -d ${composeService}`
      : 'is it deployed? `docker ps -a` lists the containers'
  },
})

const systemd: Hints = {}

const journal: Hints = {}

const processes: Hints = {
  // (F: ServiceRuntimes' process services; E owns the rest of this table.)
  'bad-setting': (error) =>
    error.data?.setting === 'start'
      ? `set services.${error.target}.start to its command (an argument list)`
      : error.data?.setting === 'logFile'
        ? `set services.${error.target}.logFile to the file its output goes to`
        : undefined,
}

// An HTTP exchange's failure reaches a step through the system it spoke to (alertmanager, prometheus),
// or as a readiness probe's answer: it has no hint of its own.
const http: Hints = {}

const alertmanager: Hints = clientHints('check alertmanager.url / ALERTMANAGER_URL', {
  refused: 'start AlertManager, or fix alertmanager.url / ALERTMANAGER_URL',
  'no-answer': 'check that AlertManager is healthy',
})

const prometheusOff = "set prometheus.url (or PROMETHEUS_URL) to Prometheus's address, or to '' to leave Prometheus out"
const prometheus: Hints = clientHints(prometheusOff, {
  refused: `start it, or ${prometheusOff}`,
  'no-answer': 'it accepts connections but does not answer: check its load, or raise prometheus.timeoutSeconds',
  // Which answer it was: a query it rejected, one not in its JSON, no data, or a result of the wrong type.
  'bad-answer': (error) => {
    switch (error.data?.answer) {
      case 'query-rejected':
      case 'unexpected-type':
        return 'this is a bug in probe-ops'
      case 'not-json':
        return `is it Prometheus? ${prometheusOff}`
      case 'no-data':
        return 'check the metric names, or the Prometheus version (the HTTP API v1 is needed)'
      default:
        return prometheusOff
    }
  },
})

const lokiOff = "correct loki.url, or set it to '' to read logs from the local sources"
const loki: Hints = clientHints(lokiOff, {
  refused: "start Loki, or set loki.url to '' to read logs from the local sources",
  'no-answer': 'Loki takes connections but does not answer: check its load and its log, or raise loki.timeoutSeconds',
  auth: 'check loki.user and loki.passwordFile',
  'bad-answer': `is loki.url the address of Loki (its HTTP port, 3100 by default)? ${lokiOff}`,
})

const program: Hints = {}

const files: Hints = {}

// The host's facts say what could not be read in their answers (DiskUsage.error); nothing is thrown.
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
