import { JobCommand, changeFlags, jobFlags } from '../../cli/job-command.js'
import { maintainWeeklyJob } from '../../jobs/maintain-weekly/job.js'
import type { Report } from '../../report/model.js'

export default class MaintainWeekly extends JobCommand {
  static override summary = 'The weekly maintenance job: backups, package updates, certificates, performance report.'
  static override description = `Replaces weekly-maintenance.sh. Steps, in order (each can be chosen with --only/--skip):
  backup-database     the database dump of \`backup database\` (checksummed, atomic, 0600, with a manifest)
  backup-config       the archive of \`backup config\`
  package-updates     upgradable packages from apt, security updates apart (skipped without apt)
  certificates        as \`cert check\` for the configured files and endpoints
  performance-report  as \`report performance\`, saved to the reports directory
Takes the job's lock: a second run exits 3.`
  static override examples = [
    '<%= config.bin %> maintain weekly',
    '<%= config.bin %> maintain weekly --skip package-updates --json',
    '# crontab: 0 4 * * 0 probe-ops maintain weekly --fail-on warning',
  ]
  static override flags = { ...jobFlags, ...changeFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(MaintainWeekly)
    return this.runPlanned(flags, (config) => ({ ...maintainWeeklyJob(config, this.config.version), lock: 'maintain-weekly' }))
  }
}
