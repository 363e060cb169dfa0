import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { endpointsBoundMs } from '../cert-check/job.js'
import { certificatesStep } from './certificates.js'
import type { SecurityContext } from './context.js'
import { failedLoginsStep } from './failed-logins.js'
import { filePermissionsStep } from './file-permissions.js'
import { openPortsStep } from './open-ports.js'
import { securityUpdatesStep } from './security-updates.js'
import { servicesStep } from './services.js'
import { userAccountsStep } from './user-accounts.js'
import { vulnerabilityScanStep } from './vulnerability-scan.js'

/**
 * security-check.sh and vulnerability-scan.sh as read-only checks that run at once, each with
 * its own bound, each returning rated findings with stable ids.
 */
export function securityCheckJob(config: Config, now = new Date()): { job: Job<SecurityContext>; context: SecurityContext } {
  const check = config.security.checkTimeoutMs
  return {
    job: {
      command: 'security-check',
      concurrent: true,
      steps: [
        { ...failedLoginsStep, timeoutMs: Math.max(check, 30_000) },
        { ...openPortsStep, timeoutMs: check },
        { ...certificatesStep, timeoutMs: Math.max(30_000, endpointsBoundMs(config, config.certificates.endpoints.length)) },
        { ...filePermissionsStep, timeoutMs: Math.max(check, 30_000) },
        { ...securityUpdatesStep, timeoutMs: 65_000 },
        { ...userAccountsStep, timeoutMs: check },
        { ...servicesStep, timeoutMs: check + 2000 },
        { ...vulnerabilityScanStep, timeoutMs: config.security.scanTimeoutMs + 5000 },
      ],
    },
    context: { config, now },
  }
}
