import { defineJob } from '../spec.js'
import type { SecurityContext } from './context.js'

/**
 * `security-check`: security-check.sh and vulnerability-scan.sh as read-only checks that run at
 * once, each with its own bound, each returning rated findings with stable ids.
 */
export const securityCheck = defineJob({
  id: 'security-check',
  command: 'security-check',
  metrics: async () => (await import('./metrics.js')).securityCheckMetrics,
  order: 'concurrent',
  steps: [
    {
      id: 'failed-logins',
      title: 'Failed logins',
      summary: 'auth log (or journald) failures by user and source',
      load: async () => (await import('./failed-logins.js')).failedLogins,
    },
    {
      id: 'open-ports',
      title: 'Listening ports',
      summary: 'sockets beyond loopback vs security.allowedPorts',
      load: async () => (await import('./open-ports.js')).openPorts,
    },
    {
      id: 'certificates',
      title: 'Certificates',
      summary: 'cert check of the configured files and endpoints',
      load: async () => (await import('../cert-check/steps.js')).configuredCertificates,
    },
    {
      id: 'file-permissions',
      title: 'File permissions',
      summary: 'world-writable files; secrets readable by others',
      load: async () => (await import('./file-permissions.js')).filePermissions,
    },
    {
      id: 'security-updates',
      title: 'Pending security updates',
      summary: 'pending apt updates, security ones apart',
      load: async () => (await import('../shared/package-updates.js')).packageUpdatesStep('low'),
    },
    {
      id: 'user-accounts',
      title: 'User accounts',
      summary: 'login accounts, uid 0 twins, empty passwords',
      load: async () => (await import('./user-accounts.js')).userAccounts,
    },
    {
      id: 'services',
      title: 'Service exposure',
      summary: 'open Redis, pg_hba trust, host-owning containers',
      load: async () => (await import('./services.js')).services,
    },
    {
      id: 'vulnerability-scan',
      title: 'Vulnerability scanners',
      summary: 'lynis, trivy, nmap (127.0.0.1) when installed',
      load: async () => (await import('./vulnerability-scan.js')).vulnerabilityScan,
    },
  ],
  context: (config): SecurityContext => ({ config, now: new Date() }),
})
