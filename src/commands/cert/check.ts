import { resolve } from 'node:path'
import { Args, Flags } from '@oclif/core'
import { durationFlag, durationOf } from '../../cli/duration-flag.js'
import { JobCommand, jobFlags } from '../../cli/job-command.js'
import { RANGES } from '../../config/ranges.js'
import { UsageError } from '../../errors.js'
import { configuredTargets, type CertificateTarget } from '../../jobs/cert-check/check.js'
import { certCheckJob, endpointsBoundMs } from '../../jobs/cert-check/job.js'
import { parseHostPort } from '../../lib/host-port.js'
import type { Report } from '../../report/model.js'

export default class CertCheck extends JobCommand {
  static override summary = 'Check certificate files and live TLS endpoints: days left, chain, host name, key match.'
  static override description = `For each certificate: subject, SANs, issuer, validity and days left, key type and size, signature algorithm; the chain (order, each link's validity, trust against the system CA bundle or --ca-file); for endpoints the host name against the SANs; for files a private key that must match (--key, or a key in the same file). Every problem is a finding with a severity and a stable id; fewer days left than --warning-days is a warning, fewer than --critical-days (or expired) fails.

Without FILE or --host it checks certificates.files and certificates.endpoints of the configuration (default: the guide's /etc/ssl/certs/server.crt). Endpoints are checked concurrently, each within --check-timeout. Changes nothing.

Steps: files, endpoints.`
  static override examples = [
    '<%= config.bin %> cert check',
    '<%= config.bin %> cert check /etc/ssl/certs/server.crt --key /etc/ssl/private/server.key',
    '<%= config.bin %> cert check --host api.example.com --host 10.0.0.5:8443 --check-timeout 3',
    '<%= config.bin %> cert check --host 10.0.0.5:443 --server-name api.example.com',
    '<%= config.bin %> cert check fullchain.pem --ca-file internal-ca.pem --json',
  ]
  static override strict = false
  static override args = {
    file: Args.string({ description: 'certificate file (PEM or DER); several may be given' }),
  }
  static override flags = {
    ...jobFlags,
    host: Flags.string({ description: 'a TLS endpoint, HOST[:PORT] (443 by default); may be repeated', multiple: true }),
    'server-name': Flags.string({
      description:
        'the name the --host endpoints must serve, when they are addressed by IP or another name (a backend behind a load balancer): sent as SNI, and the certificate must cover it',
      dependsOn: ['host'],
    }),
    key: Flags.string({ description: 'a private key file that must match one of the certificate files; may be repeated', multiple: true }),
    'ca-file': Flags.string({ description: 'trust these CA certificates instead of the system bundle' }),
    'warning-days': Flags.integer({ description: 'warn with fewer days left than this (default 30)', min: 0, max: 3650 }),
    'critical-days': Flags.integer({ description: 'fail with fewer days left than this (default 7)', min: 0, max: 3650 }),
    'check-timeout': durationFlag('how long each endpoint may take to connect and complete its handshake, in seconds or as 500ms, 1m (at most 1h; default 5)'),
  }

  async run(): Promise<Report> {
    const { argv, flags } = await this.parse(CertCheck)
    const files = (argv as string[]).map((file) => resolve(file))
    const hosts = (flags.host ?? []).map((text): CertificateTarget => {
      const parsed = parseHostPort(text, 443)
      if ('error' in parsed) throw new UsageError(`--host "${text}": ${parsed.error}`, 'use --host HOST or HOST:PORT, e.g. --host api.example.com:443')
      return { kind: 'endpoint', ...parsed, ...(flags['server-name'] ? { serverName: flags['server-name'] } : {}) }
    })
    const checkTimeoutMs = durationOf(flags['check-timeout'], 'check-timeout', RANGES.check)
    return this.runPlanned(flags, (config) => {
      const certificates = config.certificates
      if (flags['ca-file'] !== undefined) certificates.caFile = resolve(flags['ca-file'])
      if (flags['warning-days'] !== undefined) certificates.warningDays = flags['warning-days']
      if (flags['critical-days'] !== undefined) certificates.criticalDays = flags['critical-days']
      if (certificates.criticalDays > certificates.warningDays) {
        throw new UsageError(
          `critical days (${certificates.criticalDays}) are more than warning days (${certificates.warningDays})`,
          'pass --critical-days lower than --warning-days',
        )
      }
      if (checkTimeoutMs !== undefined) certificates.timeoutMs = checkTimeoutMs
      const given = files.length > 0 || hosts.length > 0
      const targets = given ? [...files.map((path): CertificateTarget => ({ kind: 'file', path })), ...hosts] : configuredTargets(config)
      const endpoints = targets.filter((t) => t.kind === 'endpoint').length
      return {
        ...certCheckJob(
          config,
          targets,
          (flags.key ?? []).map((k) => resolve(k)),
        ),
        defaultTimeoutSeconds: Math.ceil(Math.max(30_000, endpointsBoundMs(config, endpoints)) / 1000) + 5,
      }
    })
  }
}
