import { JobCommand, changeFlags, jobDescription, jobFlags } from '../../cli/job-command.js'
import { maintainWeekly } from '../../jobs/maintain-weekly/spec.js'
import type { Report } from '../../report/model.js'

export default class MaintainWeekly extends JobCommand {
  static override summary = 'The weekly maintenance job: backups, package updates, certificates, performance report.'
  static override description = jobDescription(maintainWeekly, {
    intro: 'Replaces weekly-maintenance.sh.',
    outro: "One failed step does not stop the others. Takes the job's lock: a second run exits 3.",
  })
  static override examples = [
    '<%= config.bin %> maintain weekly',
    '<%= config.bin %> maintain weekly --skip package-updates --json',
    '# crontab: 0 4 * * 0 probe-ops maintain weekly --fail-on warning',
  ]
  static override flags = { ...jobFlags, ...changeFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(MaintainWeekly)
    return this.runJob(maintainWeekly, flags, {})
  }
}
