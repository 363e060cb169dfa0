import type { HostPort } from '../lib/host-port.js'
import type { ParsedConfig, ReadinessCheck, Runtime } from './schema.js'
import type { BasicCredentials, Secret } from './secret.js'

/**
 * The configuration as jobs and systems use it: the file's keys with their defaults, durations in
 * milliseconds, services resolved, and secrets apart from the URLs and settings that can be shown.
 */

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
