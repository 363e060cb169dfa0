import type { Step } from '../../report/runner.js'
import { certificatesOutcome, checkCertificates, configuredTargets } from '../cert-check/check.js'
import type { SecurityContext } from './context.js'

/** `cert check` of the configured files and endpoints; security-check and maintain weekly both run it. */
export const certificatesStep: Step<Pick<SecurityContext, 'config'>> = {
  id: 'certificates',
  title: 'Certificates',
  async run({ config }, run) {
    const targets = configuredTargets(config)
    if (targets.length === 0) return { status: 'skipped', summary: 'no certificate files or endpoints configured (certificates.files, certificates.endpoints)' }
    return certificatesOutcome(await checkCertificates(config, targets, run.signal))
  },
}
