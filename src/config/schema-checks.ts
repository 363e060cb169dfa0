import { z } from 'zod'
import { parseHostPort } from '../lib/host-port.js'
import { RANGES } from './ranges.js'
import { days, hours, seconds } from './schema-units.js'

/** The sections of what cert check and security-check look at: certificate files and endpoints, logins, ports, permissions, scanners. */

export const certificatesSchema = z
  .object({
    /** Certificate files (PEM or DER): a path, or { path, key } to also check that the key matches. */
    files: z
      .array(z.preprocess((v) => (typeof v === 'string' ? { path: v } : v), z.object({ path: z.string().min(1), key: z.string().min(1).optional() }).strict()))
      .default(['/etc/ssl/certs/server.crt']),
    /**
     * Live TLS endpoints: HOST or HOST:PORT (443 when no port), IPv6 as [ADDRESS]:PORT; or
     * { host, port, serverName } to check an address against the name it must serve (a
     * backend behind a load balancer, by IP): serverName is sent as SNI and the certificate
     * must cover it.
     */
    endpoints: z
      .array(
        z.union([
          z.string().refine((s) => !('error' in parseHostPort(s, 443)), 'HOST or HOST:PORT with a port 1-65535 (IPv6 as [ADDRESS]:PORT)'),
          z
            .object({
              host: z
                .string()
                .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)$/, 'a host name or address (IPv6 in brackets) without a port: the port goes in port'),
              port: z.number().int().min(1).max(65535).default(443),
              serverName: z
                .string()
                .regex(/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'a DNS name such as api.example.com')
                .optional(),
            })
            .strict(),
        ]),
      )
      .default([]),
    /** Fewer days left than this is a warning (the guide's 30). */
    warningDays: days.int().default(30),
    /** Fewer days left than this fails the check. */
    criticalDays: days.int().default(7),
    /** Trust these CA certificates instead of the system bundle. */
    caFile: z.string().min(1).optional(),
    /** Each endpoint's bound for connect and handshake. */
    timeoutSeconds: seconds(RANGES.check).default(5),
  })
  .strict()
  .refine((c) => c.criticalDays <= c.warningDays, { message: 'must not be more than warningDays', path: ['criticalDays'] })
  .default({})

export const securitySchema = z
  .object({
    /** The auth log failed logins are read from, or "journald" to read the journal. */
    authLog: z.string().min(1).default('/var/log/auth.log'),
    /** How far back failed logins are counted. */
    windowHours: hours(RANGES.year).default(24),
    /** From this many failed logins (in all, per user, per source address) it is a finding. */
    failedLoginThreshold: z.number().int().positive().default(10),
    /** Ports that may listen beyond loopback: 22 (TCP and UDP), "tcp/22" or "udp/123". */
    allowedPorts: z
      .array(
        z.union([
          z.number().int().min(1).max(65535),
          z
            .string()
            .regex(/^(tcp|udp)\/([1-9]\d{0,4})$/, 'a port: 22, "tcp/22" or "udp/123"')
            .refine((s) => Number(s.split('/')[1]) <= 65535, 'the port must be 1-65535'),
        ]),
      )
      .default([22, 80, 443, 3000, 8000, 9090, 9093, 9100, 9121, 9187]),
    /** Directories searched for world-writable files. */
    permissionPaths: z.array(z.string().min(1)).default(['/etc/network-probe', '/opt/network-probe']),
    /** Directories whose files must not be readable by others; backup.dir, this config and password files are always checked. */
    privatePaths: z.array(z.string().min(1)).default(['/etc/network-probe']),
    passwdFile: z.string().min(1).default('/etc/passwd'),
    shadowFile: z.string().min(1).default('/etc/shadow'),
    /** Images trivy scans, when trivy is installed (the guide's). */
    trivyImages: z.array(z.string().min(1)).default(['network-probe/management:latest', 'network-probe/agent:latest']),
    /** Each check's own bound. */
    checkTimeoutSeconds: seconds(RANGES.check).default(10),
    /** The bound on each scanner run (lynis, trivy, nmap). */
    scanTimeoutSeconds: seconds(RANGES.budget).default(600),
  })
  .strict()
  .default({})
