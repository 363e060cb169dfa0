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

const postgresDown = 'check that PostgreSQL is running and the connection settings are right'
const postgres: Hints = {
  refused: 'PostgreSQL is down: run `probe-ops recover postgres`',
  dns: 'fix postgres.host or PGHOST',
  auth: 'check PGPASSWORD or postgres.passwordFile',
  'not-found': 'fix postgres.database or PGDATABASE',
  starting: 'wait a few seconds and try again',
  'no-answer': 'it accepts connections but does not answer: look for a hung or overloaded server, then `probe-ops recover postgres`',
  unreachable: postgresDown,
  permission: postgresDown,
  'bad-answer': postgresDown,
  failed: postgresDown,
}

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

// Which call it was (data.action): `show` of a unit's state, or start, stop or restart of the unit.
const systemd: Hints = {
  'not-installed': 'this host does not run systemd: set the service runtime to docker',
  // systemd is not this host's init (sd_booted): systemctl has no manager to ask.
  refused: 'this host does not run systemd: set the service runtime to docker or process',
  timeout: (error) => (error.data?.action === 'show' ? 'systemd is slow to answer: check `systemctl status`' : `see \`systemctl status ${error.target}\``),
  failed: (error) => (error.data?.action === 'show' ? undefined : `see \`journalctl -u ${error.target} -n 50\``),
}

const journalAccess = 'run as root, or as a member of the systemd-journal or adm group'
const journalSlow = 'the journal is slow or broken: check `journalctl --verify`'
const journal: Hints = {
  'not-installed': 'this host does not run systemd: read a log file instead',
  'not-found': 'journald keeps no journal here (Storage=none, or no systemd): read a log file instead',
  permission: journalAccess,
  timeout: journalSlow,
  // journalctl that could not run, or ran and exited other than 0.
  failed: (error) => (error.data?.ran === false ? journalSlow : journalAccess),
}

const startCommand = 'fix the service start command in the configuration'
// Which file (data.file: its pid file, its log file) or which call (data.action: start, stop) it was.
const processes: Hints = {
  'not-found': (error) => (error.data?.file === 'log' ? "check the service's logFile setting, and that the service writes there" : undefined),
  permission: (error) => (error.data?.file === 'log' ? 'run as root, or as a user that may read it' : undefined),
  'not-installed': startCommand,
  failed: (error) => {
    const { data, target } = error
    if (data?.action === 'start') return data.spawned === false ? startCommand : typeof data.logFile === 'string' ? `read ${data.logFile}` : undefined
    // A stop refused: what the pid file names is not provably the service.
    if (data?.unproven === 'other')
      return `if ${target} is stopped, the pid file is stale: remove ${String(data.pidFile)}; if that process is ${target}, fix services.${target}.start to the command that runs it`
    if (data?.unproven === 'no-start-command') return `set services.${target}.start to the command that runs it, or stop it by hand`
    return undefined
  },
  // (F: ServiceRuntimes' process services.)
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

const age: Hints = {
  auth: 'the identity file holds none of the secret keys this was encrypted for: give the identity of one of its recipients (backup.encryption.identityFile)',
  'not-installed': "install Debian's age package, or set backup.encryption.program to library",
}

const compression: Hints = {
  'not-installed': "run probe-ops with Node.js 22.15 or newer (scripts/use-node.sh), or install Debian's zstd package",
}

// A file operation's errno, found while cleaning up: the step says what it could not do.
const files: Hints = {}

// The host's facts say what could not be read in their answers (DiskUsage.error); nothing is thrown.
const host: Hints = {}

// A CA file or an endpoint that could not be used: cert check rates them as findings of its own.
const certificates: Hints = {}

// Which source was missing (data.source): the configured file, or every source (data.files names those tried).
const authLog: Hints = {
  permission: 'run as root or as a member of the adm group',
  'bad-setting': 'set security.authLog to the file (or to "journald")',
  failed: 'check the file, or set security.authLog to "journald"',
  'not-found': (error) => {
    const files = Array.isArray(error.data?.files) ? error.data.files.map(String) : []
    if (error.data?.source === 'file') return `set security.authLog to the file sshd and PAM log to (${files[0]}, ${files[1]} on Red Hat), or to "journald"`
    return `set security.authLog to the file sshd and PAM log to; rsyslog writes ${files[0]}`
  },
}

// apt that failed: the step says so; nothing to add.
const packages: Hints = {}

// A scanner that failed is a finding of the vulnerability scan, with its own fix.
const scanners: Hints = {}

/** The configuration entry of the repository an S3 error is about ("backup.repositories[1]"). */
const s3Setting = (error: SystemError): string => (typeof error.data?.setting === 'string' ? error.data.setting : 'the repository in backup.repositories')

const s3: Hints = {
  auth: (error) =>
    `check the credentials of ${s3Setting(error)} (its credentialsFile or profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment)`,
  permission: (error) =>
    error.data?.missing === 'credentials-file'
      ? `let root read ${s3Setting(error)}.credentialsFile (0640 root:postgres)`
      : `the credentials may not do this: check the bucket policy for ${s3Setting(error)}.prefix`,
  'not-found': (error) => {
    if (error.data?.missing === 'bucket') return `create it or fix ${s3Setting(error)}.bucket`
    if (error.data?.missing === 'credentials-file') return `create it or fix ${s3Setting(error)}.credentialsFile`
    return `check ${s3Setting(error)}.bucket and .prefix`
  },
  'bad-setting': (error) => `fix ${s3Setting(error)}.credentialsFile: a regular file of root's, mode 0640 or stricter`,
  'no-answer': (error) => `the endpoint takes connections but does not answer: check the object store, or raise ${s3Setting(error)}.timeoutSeconds`,
  refused: (error) => `check that the object store is running, and ${s3Setting(error)}.endpoint`,
  dns: (error) => `fix the host name in ${s3Setting(error)}.endpoint, or the resolver`,
  unreachable: 'check the network to the object store, then run it again',
  'bad-answer': 'the object store failed: check its state and its log, then run it again',
}

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
  age,
  compression,
  files,
  host,
  certificates,
  'auth-log': authLog,
  packages,
  scanners,
  s3,
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
