import type { CertificateEndpoint, CertificatesConfig, Config } from '../../config/load.js'
import { formatHostPort } from '../../lib/host-port.js'

/** What is checked: a certificate file (with the key that must match it), or a live TLS endpoint. */
export type CertificateTarget = { kind: 'file'; path: string; key?: string } | ({ kind: 'endpoint' } & CertificateEndpoint)

/** How certificates are rated and reached: the configuration's certificates section, or cert check's flags over it. */
export type CertificateSettings = Pick<CertificatesConfig, 'caFile' | 'warningDays' | 'criticalDays' | 'timeoutMs'>

/** Endpoints checked at once; more wait for a free slot. */
export const CONCURRENCY = 64

/** The file path; host:port for an endpoint, serverName@address:port when it must serve another name. */
export function targetName(target: CertificateTarget): string {
  if (target.kind === 'file') return target.path
  return target.serverName ? `${target.serverName}@${formatHostPort(target)}` : formatHostPort(target)
}

/** The files and endpoints of the configuration. */
export function configuredTargets(config: Readonly<Config>): CertificateTarget[] {
  return [
    ...config.certificates.files.map((f): CertificateTarget => ({ kind: 'file', path: f.path, ...(f.key ? { key: f.key } : {}) })),
    ...config.certificates.endpoints.map((e): CertificateTarget => ({ kind: 'endpoint', ...e })),
  ]
}

/** How long checking this many endpoints may take: they are checked 64 at a time, each wave within the endpoint timeout. */
export function endpointsBoundMs(timeoutMs: number, endpoints: number): number {
  return Math.max(1, Math.ceil(endpoints / CONCURRENCY)) * timeoutMs + 1000
}

/** The bound of a step that checks these targets: the endpoints' waves, and never less than 30 s for the files. */
export function checkBoundMs(timeoutMs: number, targets: readonly CertificateTarget[]): number {
  return Math.max(30_000, endpointsBoundMs(timeoutMs, targets.filter((t) => t.kind === 'endpoint').length))
}
