import { JobCommand, jobFlags } from '../cli/job-command.js'
import { securityCheckJob } from '../jobs/security-check/job.js'
import type { Report } from '../report/model.js'

export default class SecurityCheck extends JobCommand {
  static override summary = 'Find security problems on this host and the platform, rate them and say how to fix each.'
  static override description = `Replaces security-check.sh and vulnerability-scan.sh. Steps (run at once, each bounded; choose with --only/--skip):
  failed-logins       auth log (or journald) failures by user and source
  open-ports          sockets beyond loopback vs security.allowedPorts
  certificates        cert check of the configured files and endpoints
  file-permissions    world-writable files; secrets readable by others
  security-updates    pending apt updates, security ones apart
  user-accounts       login accounts, uid 0 twins, empty passwords
  services            open Redis, pg_hba trust, host-owning containers
  vulnerability-scan  lynis, trivy, nmap (127.0.0.1) when installed
Every finding has a severity (info, low, medium, high, critical), a stable id and a fix. High or critical fails its step (exit 1); medium or low makes it a warning. Changes nothing.`
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
