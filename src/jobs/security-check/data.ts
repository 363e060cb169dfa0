import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'
import { certificatesData } from '../cert-check/data.js'
import { packageUpdatesData } from '../shared/data.js'

const counts = z.record(z.number())

export const failedLoginsData = z.discriminatedUnion('read', [
  z.strictObject({
    read: z.literal(false),
    source: z.null(),
    reason: z.string().describe('Why the auth log could not be read: nothing was counted.'),
  }),
  z.strictObject({
    read: z.literal(true),
    source: z.string().describe('The auth log file read, or "journald".'),
    note: z.string().optional().describe('Why another source than the configured one was read.'),
    windowHours: z.number(),
    threshold: z.number().describe('security.failedLoginThreshold: failures from one source or for one user that make a finding.'),
    total: z.number().describe('Failed attempts in the window, each counted once.'),
    byUser: counts.describe('The 20 users with the most failures.'),
    bySource: counts.describe('The 20 source addresses (or "local") with the most failures.'),
    acceptedAfterFailures: z
      .array(z.strictObject({ user: z.string(), source: z.string(), at: z.string(), failuresBefore: z.number() }))
      .describe('Logins from an address that had failed at least `threshold` times before.'),
    truncated: z.literal(true).optional().describe('Only the end of a large log was read.'),
  }),
])
export type FailedLoginsData = z.infer<typeof failedLoginsData>

export const openPortsData = z.strictObject({
  allowedPorts: z.array(z.strictObject({ protocol: z.enum(['tcp', 'udp', 'any']), port: z.number() })).describe('security.allowedPorts'),
  sockets: z.array(
    z.strictObject({
      protocol: z.enum(['tcp', 'udp']),
      family: z.union([z.literal(4), z.literal(6)]),
      address: z.string(),
      port: z.number(),
      loopback: z.boolean().describe('Reachable from this machine only.'),
      pid: z.number().optional(),
      process: z.string().optional(),
    }),
  ),
})
export type OpenPortsData = z.infer<typeof openPortsData>

export const filePermissionsData = z.strictObject({
  permissionPaths: z.array(z.string()).describe('security.permissionPaths: looked at for world-writable files.'),
  privatePaths: z
    .array(z.strictObject({ path: z.string(), kind: z.enum(['config', 'secret', 'backup', 'probe-ops config', 'password file']) }))
    .describe('Looked at for files other users can read.'),
  checked: z.number().describe('Files and directories looked at.'),
  missing: z.array(z.string()),
  truncated: z.array(z.string()).describe('Directories whose walk stopped at its bound.'),
})
export type FilePermissionsData = z.infer<typeof filePermissionsData>

export const userAccountsData = z.strictObject({
  passwdFile: z.string(),
  shadowChecked: z.boolean().describe('The shadow file was readable: empty passwords were looked for.'),
  loginAccounts: z.array(z.string()),
  uid0: z.array(z.string()),
})
export type UserAccountsData = z.infer<typeof userAccountsData>

export const servicesData = z.strictObject({
  checks: z.array(
    z.strictObject({
      check: z.enum(['redis', 'pg-hba', 'containers']),
      checked: z.boolean().describe('False when the service could not be reached: not a finding (diagnose is the command for that).'),
      detail: z.string(),
      findings: z.array(z.string()).describe("The ids of this check's findings."),
    }),
  ),
})
export type ServicesData = z.infer<typeof servicesData>

const scanner = z.enum(['lynis', 'trivy', 'nmap'])
export const vulnerabilityScanData = z.strictObject({
  installed: z.array(scanner),
  notInstalled: z.array(scanner),
  results: z
    .strictObject({
      lynis: z.strictObject({ hardeningIndex: z.number().optional(), warnings: z.number(), suggestions: z.number() }).optional(),
      trivy: z
        .record(z.strictObject({ high: z.number(), critical: z.number() }))
        .optional()
        .describe('By image.'),
      nmap: z.strictObject({ open: z.array(z.string()).describe('protocol/port') }).optional(),
    })
    .describe('What each scanner that completed found; one that failed is a scan-failed finding.'),
})
export type VulnerabilityScanData = z.infer<typeof vulnerabilityScanData>

export const dataSchemas = {
  'security-check': {
    'failed-logins': failedLoginsData,
    'open-ports': openPortsData,
    certificates: certificatesData,
    'file-permissions': filePermissionsData,
    'security-updates': packageUpdatesData,
    'user-accounts': userAccountsData,
    services: servicesData,
    'vulnerability-scan': vulnerabilityScanData,
  },
} satisfies JobDataSchemas
