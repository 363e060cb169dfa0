import type { Config } from '../../config/load.js'
import type { StepDefinition } from '../../report/outcome.js'
import { certificatesOutcome, checkCertificates } from './check.js'
import type { CertCheckContext } from './context.js'
import type { CertificatesData } from './data.js'
import { checkBoundMs, configuredTargets, endpointsBoundMs } from './targets.js'

export const files: StepDefinition<CertCheckContext, CertificatesData> = {
  timeoutMs: 30_000,
  async run({ settings, targets, keys }, run) {
    const files = targets.filter((t) => t.kind === 'file')
    if (files.length === 0) return { summary: 'no certificate file given or configured (certificates.files)', skipped: true }
    return certificatesOutcome(await checkCertificates(settings, files, { signal: run.signal, keys }))
  },
}

export const endpoints: StepDefinition<CertCheckContext, CertificatesData> = {
  timeoutMs: ({ settings, targets }) => endpointsBoundMs(settings.timeoutMs, targets.filter((t) => t.kind === 'endpoint').length),
  async run({ settings, targets }, run) {
    const endpoints = targets.filter((t) => t.kind === 'endpoint')
    if (endpoints.length === 0) return { summary: 'no endpoint given or configured (certificates.endpoints, --host)', skipped: true }
    return certificatesOutcome(await checkCertificates(settings, endpoints, { signal: run.signal }))
  },
}

/** `cert check` of the configured files and endpoints, as one step of another job: security-check and maintain weekly run it. */
export const configuredCertificates: StepDefinition<{ config: Readonly<Config> }, CertificatesData> = {
  timeoutMs: ({ config }) => checkBoundMs(config.certificates.timeoutMs, configuredTargets(config)),
  async run({ config }, run) {
    const targets = configuredTargets(config)
    if (targets.length === 0) return { summary: 'no certificate files or endpoints configured (certificates.files, certificates.endpoints)', skipped: true }
    return certificatesOutcome(await checkCertificates(config.certificates, targets, { signal: run.signal }))
  },
}
