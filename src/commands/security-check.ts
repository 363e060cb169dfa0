import { JobCommand, jobDescription, jobFlags } from '../cli/job-command.js'
import { securityCheck } from '../jobs/security-check/spec.js'
import type { Report } from '../report/model.js'

export default class SecurityCheck extends JobCommand {
  static override summary = 'Find security problems on this host and the platform, rate them and say how to fix each.'
  static override description = jobDescription(securityCheck, {
    intro: 'Replaces security-check.sh and vulnerability-scan.sh. The steps run at once, each bounded.',
    outro:
      'Every finding has a severity (info, low, medium, high, critical), a stable id and a fix. High or critical fails its step (exit 1); medium or low makes it a warning. Changes nothing.',
  })
  static override examples = [
    '<%= config.bin %> security-check',
    '<%= config.bin %> security-check --only open-ports,services --json',
    '<%= config.bin %> security-check --skip vulnerability-scan --fail-on warning',
    '# crontab: 30 4 * * * probe-ops security-check --report-file /var/lib/probe-ops/security.json',
  ]
  static override flags = { ...jobFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(SecurityCheck)
    return this.runJob(securityCheck, flags, {})
  }
}
