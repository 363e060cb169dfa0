import { resolve } from 'node:path'
import type { Config } from '../../config/load.js'
import { UsageError } from '../../errors.js'
import { parseHostPort } from '../../lib/host-port.js'
import { configuredTargets, type CertificateSettings, type CertificateTarget } from './targets.js'

/** What `cert check`'s arguments and flags ask of the job; each threshold given overrides the configuration's. */
export interface CertCheckOptions {
  /** Certificate files and endpoints to check instead of the configured ones; none: the configured ones. */
  targets: CertificateTarget[]
  /** Private key files that must match one of the certificate files (--key). */
  keys: string[]
  caFile?: string
  warningDays?: number
  criticalDays?: number
  /** How long each endpoint may take to connect and complete its handshake. */
  checkTimeoutMs?: number
}

/** The arguments and flags of `cert check`, as given. */
export interface CertCheckInput {
  files: readonly string[]
  hosts: readonly string[]
  serverName?: string
  keys: readonly string[]
  caFile?: string
  warningDays?: number
  criticalDays?: number
  checkTimeoutMs?: number
}

/** Paths resolved against the working directory, hosts parsed: a host that is not one is bad usage. */
export function certCheckOptions(input: CertCheckInput): CertCheckOptions {
  const hosts = input.hosts.map((text): CertificateTarget => {
    const parsed = parseHostPort(text, 443)
    if ('error' in parsed) throw new UsageError(`--host "${text}": ${parsed.error}`, 'use --host HOST or HOST:PORT, e.g. --host api.example.com:443')
    return { kind: 'endpoint', ...parsed, ...(input.serverName ? { serverName: input.serverName } : {}) }
  })
  return {
    targets: [...input.files.map((file): CertificateTarget => ({ kind: 'file', path: resolve(file) })), ...hosts],
    keys: input.keys.map((key) => resolve(key)),
    ...(input.caFile !== undefined ? { caFile: resolve(input.caFile) } : {}),
    ...(input.warningDays !== undefined ? { warningDays: input.warningDays } : {}),
    ...(input.criticalDays !== undefined ? { criticalDays: input.criticalDays } : {}),
    ...(input.checkTimeoutMs !== undefined ? { checkTimeoutMs: input.checkTimeoutMs } : {}),
  }
}

export interface CertCheckContext {
  settings: CertificateSettings
  targets: readonly CertificateTarget[]
  keys: readonly string[]
}

/** The targets of a run: those given, or else the configured ones. */
export function targetsOf(config: Readonly<Config>, options: CertCheckOptions): CertificateTarget[] {
  return options.targets.length > 0 ? options.targets : configuredTargets(config)
}

/** The configuration's certificate settings with the flags' over them; thresholds that contradict each other are bad usage. */
export function certificateSettings(config: Readonly<Config>, options: CertCheckOptions): CertificateSettings {
  const settings: CertificateSettings = {
    caFile: options.caFile ?? config.certificates.caFile,
    warningDays: options.warningDays ?? config.certificates.warningDays,
    criticalDays: options.criticalDays ?? config.certificates.criticalDays,
    timeoutMs: options.checkTimeoutMs ?? config.certificates.timeoutMs,
  }
  if (settings.criticalDays > settings.warningDays)
    throw new UsageError(
      `critical days (${settings.criticalDays}) are more than warning days (${settings.warningDays})`,
      'pass --critical-days lower than --warning-days',
    )
  return settings
}
