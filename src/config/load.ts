import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { ZodIssue } from 'zod'
import { UsageError } from '../errors.js'
import { parseHostPort, type HostPort } from '../lib/host-port.js'
import { redactUrl } from '../lib/redact.js'
import { FileReadError, formatBytes, readRegularFileSync } from '../lib/regular-file.js'
import { configSchema, type ParsedConfig, type ReadinessCheck, type Runtime, type ServiceFileEntry } from './schema.js'
import { Secret, type BasicCredentials } from './secret.js'
import { YamlError, YamlSource } from './yaml-source.js'

export interface ServiceConfig {
  name: string
  runtime: Runtime
  container: string
  composeService: string
  unit: string
  pidFile?: string
  logFile?: string
  readiness: ReadinessCheck
  /** Without credentials: they live in `credentials` only. */
  url?: string
  credentials?: BasicCredentials
  dependsOn: string[]
  dataDir?: string
  start?: string[]
  stopSignal: 'SIGTERM' | 'SIGINT' | 'SIGQUIT'
  readinessTimeoutMs: number
  stopGraceSeconds: number
  /** Matcher sets, one silence each, that cover this service's alerts while recover works. */
  silences: string[]
}

export interface PostgresConfig {
  host: string
  port: number
  user: string
  database: string
  password?: Secret
  passwordFile?: string
  sslmode: 'disable' | 'prefer' | 'require' | 'verify-full'
  connectTimeoutMs: number
  statementTimeoutMs: number
}

export interface RedisConfig {
  /** Without credentials: the user lives in `username`, the password in `password` only. */
  url: string
  /** A Redis 6 ACL user (`redis://user:password@host`); without one, Redis's `default` user. */
  username?: string
  password?: Secret
  passwordFile?: string
  timeoutMs: number
}

/** An HTTP API probe-ops calls (AlertManager, Prometheus). */
export interface HttpApiConfig {
  /** Without credentials: they live in `credentials` only; '' when left out (Prometheus). */
  url: string
  credentials?: BasicCredentials
  timeoutMs: number
}

/** A TLS endpoint and, when it is addressed otherwise, the name it must serve (SNI, host name check). */
export type CertificateEndpoint = HostPort & { serverName?: string }

export interface CertificatesConfig {
  files: { path: string; key?: string }[]
  endpoints: CertificateEndpoint[]
  warningDays: number
  criticalDays: number
  caFile?: string
  timeoutMs: number
}

export interface SecurityConfig extends Omit<ParsedConfig['security'], 'windowHours' | 'allowedPorts' | 'checkTimeoutSeconds' | 'scanTimeoutSeconds'> {
  windowMs: number
  /** protocol "any" for a bare port number. */
  allowedPorts: { protocol: 'tcp' | 'udp' | 'any'; port: number }[]
  checkTimeoutMs: number
  scanTimeoutMs: number
}

export interface Config {
  /** The file the configuration came from, or null when only defaults and environment apply. */
  source: string | null
  host: string
  /** The runtime of services that name none. */
  runtime: Runtime
  /** Services of the defaults the file turned off (enabled: false). */
  disabledServices: string[]
  docker: { host: string; composeProject?: string; timeoutMs: number }
  systemd: { timeoutMs: number }
  postgres: PostgresConfig
  redis: RedisConfig
  alertmanager: HttpApiConfig
  services: ServiceConfig[]
  disk: ParsedConfig['disk']
  log: ParsedConfig['log']
  metrics: ParsedConfig['metrics']
  lock: ParsedConfig['lock']
  cleanup: ParsedConfig['cleanup']
  retention: ParsedConfig['retention']
  reindex: ParsedConfig['reindex']
  alerts: ParsedConfig['alerts']
  certificates: CertificatesConfig
  security: SecurityConfig
  backup: ParsedConfig['backup']
  restore: ParsedConfig['restore']
  diagnose: Omit<ParsedConfig['diagnose'], 'since' | 'checkTimeoutSeconds'> & { sinceMs: number; checkTimeoutMs: number }
  reports: ParsedConfig['reports']
  /** url '' when Prometheus is left out. */
  prometheus: HttpApiConfig
  /** url '' when Loki is left out (the default): logs are read locally. */
  loki: HttpApiConfig & { lineLimit: number }
  monitoring: ParsedConfig['monitoring']
  agents: Omit<ParsedConfig['agents'], 'window' | 'heartbeatStale'> & { windowMs: number; heartbeatStaleMs: number }
  capacity: ParsedConfig['capacity']
  performance: Omit<ParsedConfig['performance'], 'window'> & { windowMs: number }
}

export const DEFAULT_CONFIG_PATHS = ['./probe-ops.yaml', '/etc/network-probe/probe-ops.yaml']

/** The guide's deployment: four services under docker-compose, management depending on the stores. */
const DEFAULT_SERVICES: Record<string, Partial<ServiceConfig>> = {
  management: {
    readiness: 'http',
    url: 'http://localhost:8000/api/v1/health',
    dependsOn: ['postgres', 'redis'],
    unit: 'network-probe-management.service',
    silences: ['alertname=~"HighErrorRate|HighResponseTime"'],
  },
  web: { readiness: 'http', url: 'http://localhost:3000', unit: 'network-probe-web.service' },
  postgres: { readiness: 'postgres', dataDir: '/var/lib/postgresql/data', unit: 'postgresql.service', silences: ['alertname="DatabaseConnectionFailure"'] },
  redis: { readiness: 'redis', unit: 'redis-server.service' },
}

type Env = Record<string, string | undefined>

/** Which file to read: --config, then $PROBE_OPS_CONFIG, then the first default path that exists. */
export function findConfigFile(explicit: string | undefined, env: Env = process.env): string | null {
  if (explicit) return resolve(explicit)
  if (env.PROBE_OPS_CONFIG) return resolve(env.PROBE_OPS_CONFIG)
  for (const candidate of DEFAULT_CONFIG_PATHS) if (existsSync(candidate)) return resolve(candidate)
  return null
}

/**
 * A configuration file is kilobytes. Past this it is the wrong file (a log, a dump, /dev/zero),
 * refused before it is read.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024
/** A password or token file: a few bytes; generous for long tokens. */
const MAX_SECRET_BYTES = 64 * 1024

export function loadConfig(explicitPath?: string, env: Env = process.env): Config {
  const path = findConfigFile(explicitPath, env)
  if (path === null) return resolveConfig(parseConfigText('{}', '(defaults)'), null, env)
  let text: string
  try {
    text = readRegularFileSync(path, MAX_CONFIG_BYTES, 'configuration file').toString('utf8')
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    const hint =
      error.code === 'too-large'
        ? `is it the right file? A configuration is at most ${formatBytes(MAX_CONFIG_BYTES)}`
        : 'pass an existing file with --config, or unset PROBE_OPS_CONFIG to use the defaults'
    throw new UsageError(`config file ${error.message}`, hint)
  }
  return resolveConfig(parseConfigText(text, path), path, env)
}

/** Parses and validates YAML text; every error names the file, line and key. */
export function parseConfigText(text: string, label: string): ParsedConfig {
  let parsed: ReturnType<typeof YamlSource.parse>
  try {
    parsed = YamlSource.parse(text)
  } catch (error) {
    if (!(error instanceof YamlError)) throw error
    throw new UsageError(
      `${label}:${error.line ?? 1}: invalid YAML: ${error.message}`,
      'fix the YAML syntax at that line (probe-ops config validate checks it)',
    )
  }
  const { value: raw, source } = parsed
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${label}:1: the configuration must be a mapping of keys`, 'start from the example in the README')
  }
  const result = configSchema.safeParse(raw)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  throw new UsageError(describeIssue(issue, source, label), 'fix that key (probe-ops config validate lists every key it accepts in the README)')
}

/**
 * For a value that matched none of a union's forms, the problem with the form it was meant as
 * (a string that is no HOST:PORT, not "Invalid input"): the first form whose complaint is not
 * about the value's type itself.
 */
function meantIssue(issue: ZodIssue): ZodIssue {
  if (issue.code !== 'invalid_union') return issue
  const meant = issue.unionErrors
    .map((error) => error.issues[0])
    .find((first) => first && !((first.code === 'invalid_type' || first.code === 'invalid_literal') && first.path.length === issue.path.length))
  return meant ? meantIssue(meant) : issue
}

function describeIssue(found: ZodIssue, source: YamlSource, label: string): string {
  const issue = meantIssue(found)
  const keyPath = issue.path.map(String)
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys[0]!
    return `${label}:${source.lineOfKey(issue.path, unknown)}: unknown key "${[...keyPath, unknown].join('.')}"`
  }
  return `${label}:${source.lineOf(issue.path)}: "${keyPath.join('.')}": ${issue.message}`
}

function readSecretFile(path: string, key: string): Secret {
  try {
    const value = readRegularFileSync(path, MAX_SECRET_BYTES, 'password file')
      .toString('utf8')
      .replace(/\r?\n$/, '')
    return new Secret(value, `${key} ${path}`)
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    throw new UsageError(
      `${key}: ${error.message}`,
      `point ${key} at the file that holds the password (a regular file of at most ${formatBytes(MAX_SECRET_BYTES)}), or remove ${key} and set the password in the environment`,
    )
  }
}

function parseDatabaseUrl(url: string): Partial<PostgresConfig> {
  try {
    const parsed = new URL(url)
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new Error('not a postgres URL')
    return {
      host: parsed.hostname || undefined,
      port: parsed.port ? Number(parsed.port) : undefined,
      user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      database: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : undefined,
      password: parsed.password ? new Secret(decodeURIComponent(parsed.password), 'DATABASE_URL') : undefined,
    }
  } catch {
    throw new UsageError('DATABASE_URL is not a valid postgres:// URL', 'use postgres://user@host:port/database, or unset it and use PGHOST/PGPORT/...')
  }
}

/** Splits the user and the password out of a redis URL so that the URL itself can be shown. */
function splitRedisUrl(url: string, origin: string): { url: string; username?: string; password?: Secret } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`${origin} is not a valid URL: use redis://[[user]:password@]host:port[/db]`)
  }
  if (!/^rediss?:$/.test(parsed.protocol)) throw new UsageError(`${origin} must start with redis:// or rediss://`)
  const password = parsed.password ? new Secret(decodeURIComponent(parsed.password), origin) : undefined
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined
  parsed.password = ''
  parsed.username = ''
  return { url: parsed.toString().replace(/\/$/, ''), ...(username ? { username } : {}), password }
}

/**
 * The credentials of an HTTP URL setting, apart from the URL: from user + passwordFile, else
 * from the URL's userinfo (`http://user:password@host`). The URL keeps no userinfo, so that it
 * can be shown and logged; the password is a Secret, sent only as a basic auth header.
 */
function splitHttpCredentials(
  url: string,
  settings: { key: string; origin: string; user?: string; passwordFile?: string },
): { url: string; credentials?: BasicCredentials } {
  const { key, origin, user, passwordFile } = settings
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    // The schema has checked the file's URLs; an environment variable's is checked where it is used.
  }
  const userinfo =
    parsed && (parsed.username || parsed.password) ? { user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) } : undefined
  // Removed as text, not rebuilt by URL: the rest stays as the operator wrote it.
  const bare = userinfo ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1') : url
  if (passwordFile) {
    const name = user ?? userinfo?.user
    if (!name) throw new UsageError(`${key}.passwordFile needs a user: set ${key}.user`, `or remove ${key}.passwordFile`)
    return { url: bare, credentials: { user: name, password: readSecretFile(passwordFile, `${key}.passwordFile`), passwordFile } }
  }
  if (userinfo) return { url: bare, credentials: { user: user ?? userinfo.user, password: new Secret(userinfo.password, origin), inUrl: true } }
  if (user) return { url: bare, credentials: { user, password: new Secret('', `${key}.user without a password`) } }
  return { url: bare }
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${name}="${value}" is not a port number`)
  return n
}

export function resolveConfig(parsed: ParsedConfig, source: string | null, env: Env = process.env): Config {
  const fromUrl = env.DATABASE_URL ? parseDatabaseUrl(env.DATABASE_URL) : {}
  const pg = parsed.postgres
  const postgres: PostgresConfig = {
    ...(pg.passwordFile ? { passwordFile: pg.passwordFile } : {}),
    host: pg.host ?? env.PGHOST ?? fromUrl.host ?? 'localhost',
    port: pg.port ?? positiveInt(env.PGPORT, 'PGPORT') ?? fromUrl.port ?? 5432,
    user: pg.user ?? env.PGUSER ?? fromUrl.user ?? 'postgres',
    database: pg.database ?? env.PGDATABASE ?? fromUrl.database ?? 'network_probe',
    password: pg.passwordFile
      ? readSecretFile(pg.passwordFile, 'postgres.passwordFile')
      : env.PGPASSWORD
        ? new Secret(env.PGPASSWORD, 'PGPASSWORD')
        : fromUrl.password,
    sslmode: pg.sslmode,
    connectTimeoutMs: pg.connectTimeoutSeconds * 1000,
    statementTimeoutMs: pg.statementTimeoutSeconds * 1000,
  }

  const redisUrl = parsed.redis.url ?? env.REDIS_URL ?? 'redis://localhost:6379'
  const redisSplit = splitRedisUrl(redisUrl, parsed.redis.url ? 'redis.url' : env.REDIS_URL ? 'REDIS_URL' : 'redis.url')
  const redisPassword = parsed.redis.passwordFile
    ? readSecretFile(parsed.redis.passwordFile, 'redis.passwordFile')
    : (redisSplit.password ?? (env.REDISCLI_AUTH ? new Secret(env.REDISCLI_AUTH, 'REDISCLI_AUTH') : undefined))

  const { since: sinceMs, checkTimeoutSeconds, ...diagnoseRest } = parsed.diagnose
  const { window: windowMs, ...performanceRest } = parsed.performance
  const alertmanager = parsed.alertmanager
  const prometheus = parsed.prometheus
  const { window: agentsWindowMs, heartbeatStale: heartbeatStaleMs, ...agentsRest } = parsed.agents

  return {
    source,
    host: parsed.host ?? hostname(),
    runtime: parsed.runtime,
    disabledServices: Object.entries(parsed.services)
      .filter(([, entry]) => entry.enabled === false)
      .map(([name]) => name),
    docker: {
      host: parsed.docker.host ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
      composeProject: parsed.docker.composeProject,
      timeoutMs: parsed.docker.timeoutSeconds * 1000,
    },
    systemd: { timeoutMs: parsed.systemd.timeoutSeconds * 1000 },
    postgres,
    redis: {
      url: redisSplit.url,
      ...(redisSplit.username ? { username: redisSplit.username } : {}),
      password: redisPassword,
      ...(parsed.redis.passwordFile ? { passwordFile: parsed.redis.passwordFile } : {}),
      timeoutMs: parsed.redis.timeoutSeconds * 1000,
    },
    alertmanager: {
      ...splitHttpCredentials((alertmanager.url ?? env.ALERTMANAGER_URL ?? 'http://localhost:9093').replace(/\/$/, ''), {
        key: 'alertmanager',
        origin: alertmanager.url || !env.ALERTMANAGER_URL ? 'alertmanager.url' : 'ALERTMANAGER_URL',
        user: alertmanager.user,
        passwordFile: alertmanager.passwordFile,
      }),
      timeoutMs: alertmanager.timeoutSeconds * 1000,
    },
    services: resolveServices(parsed.services, parsed.runtime),
    disk: parsed.disk,
    log: parsed.log,
    metrics: parsed.metrics,
    lock: parsed.lock,
    cleanup: parsed.cleanup,
    retention: parsed.retention,
    reindex: parsed.reindex,
    alerts: parsed.alerts,
    certificates: resolveCertificates(parsed.certificates),
    security: resolveSecurity(parsed.security),
    backup: parsed.backup,
    restore: parsed.restore,
    diagnose: { ...diagnoseRest, sinceMs, checkTimeoutMs: checkTimeoutSeconds * 1000 },
    reports: parsed.reports,
    prometheus: {
      ...splitHttpCredentials(resolvePrometheusUrl(prometheus.url, env), {
        key: 'prometheus',
        origin: prometheus.url !== undefined || !env.PROMETHEUS_URL ? 'prometheus.url' : 'PROMETHEUS_URL',
        user: prometheus.user,
        passwordFile: prometheus.passwordFile,
      }),
      timeoutMs: prometheus.timeoutSeconds * 1000,
    },
    loki: {
      ...splitHttpCredentials(parsed.loki.url.replace(/\/$/, ''), {
        key: 'loki',
        origin: 'loki.url',
        user: parsed.loki.user,
        passwordFile: parsed.loki.passwordFile,
      }),
      timeoutMs: parsed.loki.timeoutSeconds * 1000,
      lineLimit: parsed.loki.lineLimit,
    },
    monitoring: parsed.monitoring,
    agents: { ...agentsRest, windowMs: agentsWindowMs, heartbeatStaleMs },
    capacity: parsed.capacity,
    performance: { ...performanceRest, windowMs },
  }
}

/** prometheus.url, else $PROMETHEUS_URL, else the guide's http://localhost:9090; '' leaves Prometheus out. */
function resolvePrometheusUrl(fromFile: string | undefined, env: Env): string {
  const url = fromFile ?? env.PROMETHEUS_URL ?? 'http://localhost:9090'
  if (url !== '' && fromFile === undefined && !/^https?:\/\/[^/]/.test(url))
    throw new UsageError(`PROMETHEUS_URL="${redactUrl(url)}" is not an http(s) URL`, "use http://host:9090, or '' to leave Prometheus out")
  return url.replace(/\/$/, '')
}

function resolveServices(fromFile: Record<string, ServiceFileEntry>, defaultRuntime: Runtime): ServiceConfig[] {
  const names = [...new Set([...Object.keys(DEFAULT_SERVICES), ...Object.keys(fromFile)])]
  const services: ServiceConfig[] = []
  for (const name of names) {
    const base = DEFAULT_SERVICES[name] ?? {}
    const entry = fromFile[name] ?? {}
    if (entry.enabled === false) continue
    const { enabled: _enabled, user, passwordFile, ...given } = entry
    const merged = { ...base, ...stripUndefined(given) }
    if (merged.url === undefined && (user || passwordFile))
      throw new UsageError(
        `services.${name}: ${user ? 'user' : 'passwordFile'} is for the health URL, and there is none`,
        `add services.${name}.url, or remove services.${name}.${user ? 'user' : 'passwordFile'}`,
      )
    const health =
      merged.url === undefined ? undefined : splitHttpCredentials(merged.url, { key: `services.${name}`, origin: `services.${name}.url`, user, passwordFile })
    const readiness = merged.readiness ?? (merged.url ? 'http' : 'running')
    if (readiness === 'http' && !merged.url) {
      throw new UsageError(`services.${name}: readiness "http" needs a url`, `add services.${name}.url: http://host:port/health`)
    }
    const runtime = merged.runtime ?? defaultRuntime
    if (runtime === 'process' && !merged.pidFile) {
      throw new UsageError(`services.${name}: runtime "process" needs a pidFile`, `add services.${name}.pidFile`)
    }
    services.push({
      name,
      runtime,
      container: merged.container ?? name,
      composeService: merged.composeService ?? name,
      unit: merged.unit ?? `network-probe-${name}.service`,
      pidFile: merged.pidFile,
      logFile: merged.logFile,
      readiness,
      url: health?.url,
      ...(health?.credentials ? { credentials: health.credentials } : {}),
      dependsOn: merged.dependsOn ?? [],
      dataDir: merged.dataDir,
      start: merged.start,
      stopSignal: merged.stopSignal ?? (name === 'postgres' ? 'SIGINT' : 'SIGTERM'),
      readinessTimeoutMs: (merged.readinessTimeoutSeconds ?? 60) * 1000,
      stopGraceSeconds: merged.stopGraceSeconds ?? 10,
      // Our own alerts carry service=NAME; Prometheus scrape alerts usually job=NAME.
      silences: [`service="${name}"`, `job="${name}"`, ...(merged.silences ?? [])],
    })
  }
  const known = new Set(services.map((s) => s.name))
  for (const service of services) {
    const missing = service.dependsOn.find((dep) => !known.has(dep))
    if (missing)
      throw new UsageError(
        `services.${service.name}.dependsOn names "${missing}", which is not a configured service`,
        `known services: ${[...known].join(', ')}`,
      )
  }
  return services
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function resolveCertificates(parsed: ParsedConfig['certificates']): CertificatesConfig {
  const { timeoutSeconds, endpoints, ...rest } = parsed
  // The schema has validated every endpoint already.
  const endpoint = (entry: (typeof endpoints)[number]): CertificateEndpoint => {
    if (typeof entry === 'string') return parseHostPort(entry, 443) as HostPort
    const { host } = parseHostPort(entry.host, entry.port) as HostPort
    return { host, port: entry.port, ...(entry.serverName ? { serverName: entry.serverName } : {}) }
  }
  return { ...rest, endpoints: endpoints.map(endpoint), timeoutMs: timeoutSeconds * 1000 }
}

function resolveSecurity(parsed: ParsedConfig['security']): SecurityConfig {
  const { windowHours, allowedPorts, checkTimeoutSeconds, scanTimeoutSeconds, ...rest } = parsed
  return {
    ...rest,
    windowMs: windowHours * 3_600_000,
    allowedPorts: allowedPorts.map((p) => {
      if (typeof p === 'number') return { protocol: 'any' as const, port: p }
      const [protocol, port] = p.split('/') as ['tcp' | 'udp', string]
      return { protocol, port: Number(port) }
    }),
    checkTimeoutMs: checkTimeoutSeconds * 1000,
    scanTimeoutMs: scanTimeoutSeconds * 1000,
  }
}
