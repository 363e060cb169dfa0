import type { Config } from '../../config/load.js'
import type { Job, Step } from '../../report/runner.js'
import { certificatesOutcome, checkCertificates, type CertificateTarget } from './check.js'

export interface CertCheckContext {
  config: Config
  targets: CertificateTarget[]
  /** Private key files to match against the certificate files (--key). */
  keys: string[]
}

/** Endpoints are checked 64 at a time; each wave costs at most the endpoint timeout. */
export function endpointsBoundMs(config: Config, endpoints: number): number {
  return Math.max(1, Math.ceil(endpoints / 64)) * config.certificates.timeoutMs + 1000
}

const filesStep: Step<CertCheckContext> = {
  id: 'files',
  title: 'Certificate files',
  timeoutMs: 30_000,
  async run({ config, targets, keys }, run) {
    const files = targets.filter((t) => t.kind === 'file')
    if (files.length === 0) return { status: 'skipped', summary: 'no certificate file given or configured (certificates.files)' }
    return certificatesOutcome(await checkCertificates(config, files, run.signal, { keys }))
  },
}

const endpointsStep: Step<CertCheckContext> = {
  id: 'endpoints',
  title: 'TLS endpoints',
  async run({ config, targets }, run) {
    const endpoints = targets.filter((t) => t.kind === 'endpoint')
    if (endpoints.length === 0) return { status: 'skipped', summary: 'no endpoint given or configured (certificates.endpoints, --host)' }
    return certificatesOutcome(await checkCertificates(config, endpoints, run.signal))
  },
}

/** `cert check`: certificate files and live endpoints at once, each bounded. Changes nothing. */
export function certCheckJob(config: Config, targets: CertificateTarget[], keys: string[] = []): { job: Job<CertCheckContext>; context: CertCheckContext } {
  const endpoints = targets.filter((t) => t.kind === 'endpoint').length
  return {
    job: {
      command: 'cert check',
      concurrent: true,
      steps: [filesStep, { ...endpointsStep, timeoutMs: endpointsBoundMs(config, endpoints) }],
    },
    context: { config, targets, keys },
  }
}
