import { Flags } from '@oclif/core'
import { JobCommand, jobFlags } from '../cli/job-command.js'
import { CAPACITY_HISTORY, capacityJob } from '../jobs/capacity/job.js'
import type { Report } from '../report/model.js'

export default class CapacityReport extends JobCommand {
  static override summary = 'Table sizes, measured growth per day, the day each disk fills, Redis memory, and what to do about it.'
  static override description = `Replaces capacity-planning.py, measuring what it assumed. Changes nothing but its own saved report. Steps (--only/--skip):
  database         database size; every table's heap, index and TOAST size; task_results (and every retention
                   rule's table) rows per day over the window and real bytes per row, from planner statistics
                   and an index range scan (never a count(*) over the whole table)
  growth           bytes per day of the database and its large tables (least squares over saved reports, or the
                   measured rows per day before there is enough history), the size under the configured
                   retention, and under other retentions
  disk             usage of the data, backup and log disks and disk.paths, the day each fills (or "not filling")
  redis            used memory against maxmemory, and its growth from saved reports
  recommendations  what to do, each with a priority and the figure behind it
Each run also saves its report as reports.dir/capacity-YYYY-MM-DD.json: dashboards read them, and later runs fit
their growth lines through them.`
  static override examples = [
    '<%= config.bin %> capacity-report',
    '<%= config.bin %> capacity-report --days 14 --json',
    '<%= config.bin %> capacity-report --only disk,recommendations',
    '# crontab: 30 6 * * * probe-ops capacity-report --fail-on warning',
  ]
  static override flags = {
    ...jobFlags,
    days: Flags.integer({
      description: 'days of rows per day and of saved history the growth is measured over (default: capacity.days, 30)',
      min: 2,
      max: 3650,
    }),
  }

  async run(): Promise<Report> {
    const { flags } = await this.parse(CapacityReport)
    return this.runPlanned(flags, (config) => ({ ...capacityJob(config, { days: flags.days }), history: CAPACITY_HISTORY, defaultTimeoutSeconds: 600 }))
  }
}
