import { dump } from 'js-yaml'
import { formatDuration } from '../lib/duration.js'
import { formatHostPort } from '../lib/host-port.js'
import { REDACTED, redactUrl } from '../lib/redact.js'
import type { Config, HttpApiConfig, ServiceConfig } from './load.js'
import type { ConfigFile } from './schema.js'
import type { BasicCredentials, Secret } from './secret.js'

/**
 * The effective configuration written back in the file's own schema (`timeoutSeconds`, services
 * as a mapping, durations as `1h`), so that what `config show` prints is a configuration file that
 * `config validate` accepts unchanged and that configures probe-ops the same way, secrets aside:
 * a password is never shown. A passwordFile is (it is a path); a password inside a URL shows as
 * "[redacted]"; one from the environment is named in the header only.
 */

export interface ShownConfig {
  /** What the file would hold. */
  document: ConfigFile
  /** Where the secrets come from, for the header of the YAML. */
  secrets: string[]
}

const seconds = (ms: number) => ms / 1000

/**
 * url, user and passwordFile as the file would hold them: a password that was inside the URL is
 * put back there, as "[redacted]"; secret query values are redacted too.
 */
function urlSettings(name: string, url: string, credentials: BasicCredentials | undefined, secrets: string[]) {
  if (!credentials) return { url: redactUrl(url) }
  if (credentials.inUrl) {
    secrets.push(`${name} password: in ${credentials.password.source} (redacted in ${name}.url)`)
    return { url: redactUrl(url.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${encodeURIComponent(credentials.user)}:${REDACTED}@`)) }
  }
  return { url: redactUrl(url), user: credentials.user, ...(credentials.passwordFile ? { passwordFile: credentials.passwordFile } : {}) }
}

function httpApi(name: string, api: HttpApiConfig, secrets: string[]) {
  return { ...urlSettings(name, api.url, api.credentials, secrets), timeoutSeconds: seconds(api.timeoutMs) }
}

/** The redis URL as the file would hold it: its ACL user back in it (the password stays out). */
function withRedisUser(url: string, username: string | undefined): string {
  return username ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${encodeURIComponent(username)}@`) : url
}

function passwordSource(name: string, password: Secret | undefined, passwordFile: string | undefined, secrets: string[]): void {
  if (password && !passwordFile) secrets.push(`${name} password: from ${password.source}`)
}

/** The silences every service gets without asking; only the configured ones are shown. */
function configuredSilences(service: ServiceConfig): string[] {
  const implied = new Set([`service="${service.name}"`, `job="${service.name}"`])
  return service.silences.filter((s) => !implied.has(s))
}

function serviceEntry(service: ServiceConfig, secrets: string[]) {
  return {
    runtime: service.runtime,
    container: service.container,
    composeService: service.composeService,
    unit: service.unit,
    pidFile: service.pidFile,
    logFile: service.logFile,
    readiness: service.readiness,
    ...(service.url === undefined ? {} : urlSettings(`services.${service.name}`, service.url, service.credentials, secrets)),
    dependsOn: service.dependsOn,
    dataDir: service.dataDir,
    start: service.start,
    readinessTimeoutSeconds: seconds(service.readinessTimeoutMs),
    stopSignal: service.stopSignal,
    stopGraceSeconds: service.stopGraceSeconds,
    silences: configuredSilences(service),
  }
}

export function showConfig(config: Config): ShownConfig {
  const secrets: string[] = []
  const { postgres, redis, certificates, security, diagnose, performance } = config
  passwordSource('postgres', postgres.password, postgres.passwordFile, secrets)
  passwordSource('redis', redis.password, redis.passwordFile, secrets)
  const services: Record<string, unknown> = Object.fromEntries(config.services.map((s) => [s.name, serviceEntry(s, secrets)]))
  for (const name of config.disabledServices) services[name] = { enabled: false }
  const { windowMs, allowedPorts, checkTimeoutMs, scanTimeoutMs, ...securityRest } = security
  const { windowMs: agentsWindowMs, heartbeatStaleMs, ...agentsRest } = config.agents
  const document = {
    host: config.host,
    runtime: config.runtime,
    docker: { host: redactUrl(config.docker.host), composeProject: config.docker.composeProject, timeoutSeconds: seconds(config.docker.timeoutMs) },
    systemd: { timeoutSeconds: seconds(config.systemd.timeoutMs) },
    postgres: {
      host: postgres.host,
      port: postgres.port,
      user: postgres.user,
      database: postgres.database,
      passwordFile: postgres.passwordFile,
      sslmode: postgres.sslmode,
      connectTimeoutSeconds: seconds(postgres.connectTimeoutMs),
      statementTimeoutSeconds: seconds(postgres.statementTimeoutMs),
    },
    redis: { url: redactUrl(withRedisUser(redis.url, redis.username)), passwordFile: redis.passwordFile, timeoutSeconds: seconds(redis.timeoutMs) },
    alertmanager: httpApi('alertmanager', config.alertmanager, secrets),
    services,
    disk: config.disk,
    log: config.log,
    metrics: config.metrics,
    lock: config.lock,
    cleanup: config.cleanup,
    retention: config.retention,
    reindex: config.reindex,
    backup: { ...config.backup, maxAge: Object.fromEntries(Object.entries(config.backup.maxAge).map(([kind, ms]) => [kind, formatDuration(ms)])) },
    restore: config.restore,
    alerts: config.alerts,
    diagnose: {
      since: formatDuration(diagnose.sinceMs),
      checkTimeoutSeconds: seconds(diagnose.checkTimeoutMs),
      errorLines: diagnose.errorLines,
      slowHttpMs: diagnose.slowHttpMs,
    },
    reports: config.reports,
    prometheus: httpApi('prometheus', config.prometheus, secrets),
    loki: { ...httpApi('loki', config.loki, secrets), lineLimit: config.loki.lineLimit },
    monitoring: config.monitoring,
    agents: { ...agentsRest, window: formatDuration(agentsWindowMs), heartbeatStale: formatDuration(heartbeatStaleMs) },
    capacity: config.capacity,
    performance: { window: formatDuration(windowMs), top: performance.top },
    certificates: {
      files: certificates.files.map((f) => (f.key ? f : f.path)),
      endpoints: certificates.endpoints.map((e) => (e.serverName ? { host: e.host, port: e.port, serverName: e.serverName } : formatHostPort(e))),
      warningDays: certificates.warningDays,
      criticalDays: certificates.criticalDays,
      caFile: certificates.caFile,
      timeoutSeconds: seconds(certificates.timeoutMs),
    },
    security: {
      ...securityRest,
      windowHours: windowMs / 3_600_000,
      allowedPorts: allowedPorts.map((p) => (p.protocol === 'any' ? p.port : `${p.protocol}/${p.port}`)),
      checkTimeoutSeconds: seconds(checkTimeoutMs),
      scanTimeoutSeconds: seconds(scanTimeoutMs),
    },
  }
  // Through JSON: unset optional keys (undefined) are left out, as the file would leave them.
  return { document: JSON.parse(JSON.stringify(document)) as ConfigFile, secrets }
}

/** `config show`: YAML with a header that says where it came from, or the bare document as JSON. */
export function renderConfig(config: Config, format: 'yaml' | 'json'): string {
  const { document, secrets } = showConfig(config)
  if (format === 'json') return `${JSON.stringify(document, null, 2)}\n`
  const origin = config.source ? `${config.source}, the defaults and the environment` : 'the defaults and the environment (no configuration file)'
  const header = [
    `# probe-ops: the effective configuration, from ${origin}.`,
    '# A configuration file as it is: `probe-ops config validate` accepts it.',
    ...(secrets.length > 0 ? ['# Secrets are not shown:', ...secrets.map((s) => `#   ${s}`)] : []),
  ]
  return `${header.join('\n')}\n${dump(document, { lineWidth: -1, noRefs: true })}`
}
