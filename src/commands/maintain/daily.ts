import { JobCommand, changeFlags, jobDescription, jobFlags } from '../../cli/job-command.js'
import { maintainDaily } from '../../jobs/maintain-daily/spec.js'
import type { Report } from '../../report/model.js'

export default class MaintainDaily extends JobCommand {
  static override summary = 'The nightly maintenance job, safe to run while the platform serves traffic.'
  static override description = jobDescription(maintainDaily, {
    intro: 'Replaces daily-maintenance.sh.',
    outro: "One failed step does not stop the others. Takes the job's lock: a second run exits 3.",
  })
  static override examples = [
    '<%= config.bin %> maintain daily',
    '<%= config.bin %> maintain daily --dry-run',
    '<%= config.bin %> maintain daily --only retention,vacuum --json',
    '# crontab: 0 3 * * * probe-ops maintain daily --fail-on warning --report-file /var/lib/probe-ops/daily.json',
  ]
  static override flags = { ...jobFlags, ...changeFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(MaintainDaily)
    return this.runJob(maintainDaily, flags, {})
  }
}
