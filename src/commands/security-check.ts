import { JobCommand, jobFlags } from '../cli/job-command.js'
import { securityCheckJob } from '../jobs/security-check/job.js'
import type { Report } from '../report/model.js'

export default class SecurityCheck extends JobCommand {
  static override summary = 'Find security problems on this host and the platform, rate them and say how to fix each.'
  static override description = `Replaces security-check.sh and vulnerability-scan.sh. Steps (run at once, each bounded; choose with --only/--skip):
  failed-logins       authentication failures in the auth log (or journald) over security.windowHours, by user and source
  open-ports          listening TCP/UDP sockets beyond loopback against security.allowedPorts; PostgreSQL or Redis exposed
  certificates        cert check of certificates.files and certificates.endpoints
  file-permissions    world-writable files; configuration, secrets and backups readable by others
  security-updates    pending updates from apt, security ones separately
  user-accounts       login accounts, uid 0 accounts besides root, empty passwords
  services            Redis without a password, pg_hba trust beyond loopback, privileged containers or the Docker socket mounted
  vulnerability-scan  lynis, trivy and nmap (127.0.0.1 only), when installed
Every finding has a severity (info, low, medium, high, critical), a stable id and a fix; high or critical fails the step (exit 1), medium or low makes it a warning. Changes nothing.`
  static override examples = [
    '<%= config.bin %> security-check',
    '<%= config.bin %> security-check --only open-ports,services --json',
    '<%= config.bin %> security-check --skip vulnerability-scan --fail-on warning',
    '# crontab: 30 4 * * * probe-ops security-check --report-file /var/lib/probe-ops/security.json',
  ]
  static override flags = { ...jobFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(SecurityCheck)
    return this.runPlanned(flags, (config) => securityCheckJob(config))
  }
}
