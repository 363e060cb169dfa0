import { defineJob } from '../spec.js'
import { certificateSettings, targetsOf, type CertCheckContext, type CertCheckOptions } from './context.js'
import { checkBoundMs } from './targets.js'

/** `cert check`: certificate files and live endpoints at once, each bounded. Changes nothing. */
export const certCheck = defineJob({
  id: 'cert-check',
  command: 'cert check',
  metrics: async () => (await import('./metrics.js')).certCheckMetrics,
  order: 'concurrent',
  steps: [
    {
      id: 'files',
      title: 'Certificate files',
      summary: 'each file: days left, key, chain (order, validity, trust), and the private key that must match it',
      load: async () => (await import('./steps.js')).files,
    },
    {
      id: 'endpoints',
      title: 'TLS endpoints',
      summary: 'each endpoint, concurrently: the certificate it serves, its chain, and the host name it must cover',
      load: async () => (await import('./steps.js')).endpoints,
    },
  ],
  defaultTimeoutSeconds: (config, options: CertCheckOptions) =>
    Math.ceil(checkBoundMs(options.checkTimeoutMs ?? config.certificates.timeoutMs, targetsOf(config, options)) / 1000) + 5,
  context: (config, options: CertCheckOptions): CertCheckContext => ({
    settings: certificateSettings(config, options),
    targets: targetsOf(config, options),
    keys: options.keys,
  }),
})
