import { JobCommand, changeFlags, jobFlags } from '../../cli/job-command.js'
import { maintainDailyJob } from '../../jobs/maintain-daily/job.js'
import type { Report } from '../../report/model.js'

export default class MaintainDaily extends JobCommand {
  static override summary = 'The nightly maintenance job, safe to run while the platform serves traffic.'
  static override description = `Replaces daily-maintenance.sh. Steps, in order (each can be chosen with --only/--skip):
  clean-logs   delete old log files (never through symlinks, never one open for writing)
  clean-temp   delete old temporary files
  retention    delete rows past their retention in short batches, or drop whole old partitions
  vacuum       VACUUM (ANALYZE) the database
  reindex      rebuild bloated indexes with REINDEX CONCURRENTLY; drop leftovers of interrupted rebuilds
  stats-reset  pg_stat_statements_reset(), when the extension is installed
  disk         disk usage against warning/critical percents, pushed to AlertManager (API v2)
  services     every service running and ready; a down one fails the run and alerts
One failed step does not stop the others. Takes the job's lock: a second run exits 3.`
  static override examples = [
    '<%= config.bin %> maintain daily',
    '<%= config.bin %> maintain daily --dry-run',
    '<%= config.bin %> maintain daily --only retention,vacuum --json',
    '# crontab: 0 3 * * * probe-ops maintain daily --fail-on warning --report-file /var/lib/probe-ops/daily.json',
  ]
  static override flags = { ...jobFlags, ...changeFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(MaintainDaily)
    return this.runPlanned(flags, (config) => ({ ...maintainDailyJob(config), lock: 'maintain-daily' }))
  }
}
