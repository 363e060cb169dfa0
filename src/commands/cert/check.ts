import { Args, Flags } from '@oclif/core'
import { defineJobCommand } from '../../cli/define-job-command.js'
import { durationFlag, durationOf } from '../../cli/duration-flag.js'
import { RANGES } from '../../config/ranges.js'
import { certCheckOptions } from '../../jobs/cert-check/context.js'
import { certCheck } from '../../jobs/cert-check/spec.js'

export default defineJobCommand(certCheck, {
  summary: 'Check certificate files and live TLS endpoints: days left, chain, host name, key match.',
  description: {
    intro: `For each certificate: subject, SANs, issuer, validity and days left, key type and size, signature algorithm; the chain (order, each link's validity, trust against the system CA bundle or --ca-file); for endpoints the host name against the SANs; for files a private key that must match (--key, or a key in the same file). Every problem is a finding with a severity and a stable id; fewer days left than --warning-days is a warning, fewer than --critical-days (or expired) fails.

Without FILE or --host it checks certificates.files and certificates.endpoints of the configuration (default: the guide's /etc/ssl/certs/server.crt). Endpoints are checked concurrently, each within --check-timeout. Changes nothing.`,
  },
  examples: [
    '<%= config.bin %> cert check',
    '<%= config.bin %> cert check /etc/ssl/certs/server.crt --key /etc/ssl/private/server.key',
    '<%= config.bin %> cert check --host api.example.com --host 10.0.0.5:8443 --check-timeout 3',
    '<%= config.bin %> cert check --host 10.0.0.5:443 --server-name api.example.com',
    '<%= config.bin %> cert check fullchain.pem --ca-file internal-ca.pem --json',
  ],
  strict: false,
  args: {
    file: Args.string({ description: 'certificate file (PEM or DER); several may be given' }),
  },
  flags: {
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
  },
  options: ({ argv, flags }) =>
    certCheckOptions({
      files: argv,
      hosts: flags.host ?? [],
      serverName: flags['server-name'],
      keys: flags.key ?? [],
      caFile: flags['ca-file'],
      warningDays: flags['warning-days'],
      criticalDays: flags['critical-days'],
      checkTimeoutMs: durationOf(flags['check-timeout'], 'check-timeout', RANGES.check),
    }),
})
