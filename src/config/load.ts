import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { ZodIssue } from 'zod'
import { UsageError } from '../errors.js'
import { formatLimit } from '../lib/format.js'
import { parseHostPort, type HostPort } from '../lib/host-port.js'
import { redactUrl } from '../lib/redact.js'
import { FileReadError, readRegularFileSync } from '../lib/regular-file.js'
import { parseDatabaseUrl, readSecretFile, splitHttpCredentials, splitRedisUrl } from './credentials.js'
import type { CertificateEndpoint, CertificatesConfig, Config, PostgresConfig, SecurityConfig } from './model.js'
import { configSchema, type ParsedConfig } from './schema.js'
import { Secret } from './secret.js'
import { resolveServices } from './platform-services.js'
import { YamlError, YamlSource } from './yaml-source.js'

export type { CertificateEndpoint, CertificatesConfig, Config, HttpApiConfig, PostgresConfig, RedisConfig, SecurityConfig, ServiceConfig } from './model.js'

export const DEFAULT_CONFIG_PATHS = ['./probe-ops.yaml', '/etc/network-probe/probe-ops.yaml']

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

export function loadConfig(explicitPath?: string, env: Env = process.env): Config {
  const { parsed, path } = loadParsedConfig(explicitPath, env)
  return resolveConfig(parsed, path, env)
}

/**
 * The file found, read and validated, with no secret file read and no variable applied: what
 * `wal push`/`wal fetch` need, which run as PostgreSQL's OS user, who may not read the secrets.
 */
export function loadParsedConfig(explicitPath?: string, env: Env = process.env): { parsed: ParsedConfig; path: string | null } {
  const path = findConfigFile(explicitPath, env)
  if (path === null) return { parsed: parseConfigText('{}', '(defaults)'), path }
  let text: string
  try {
    text = readRegularFileSync(path, MAX_CONFIG_BYTES, 'configuration file').toString('utf8')
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    const hint =
      error.code === 'too-large'
        ? `is it the right file? A configuration is at most ${formatLimit(MAX_CONFIG_BYTES)}`
        : 'pass an existing file with --config, or unset PROBE_OPS_CONFIG to use the defaults'
    throw new UsageError(`config file ${error.message}`, hint)
  }
  return { parsed: parseConfigText(text, path), path }
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
