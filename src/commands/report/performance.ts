import { Flags } from '@oclif/core'
import { durationFlag, durationOf } from '../../cli/duration-flag.js'
import { JobCommand, jobFlags } from '../../cli/job-command.js'
import { RANGES } from '../../config/ranges.js'
import { PERFORMANCE_HISTORY, performanceJob } from '../../jobs/performance-report/job.js'
import type { Report } from '../../report/model.js'

export default class ReportPerformance extends JobCommand {
  static override summary = 'The performance report: costliest statements, cache, connections, tables, and the platform figures from Prometheus.'
  static override description = `Replaces generate-performance-report.sh (the weekly job runs it as its performance-report step). Changes nothing but its own saved report. Steps (--only/--skip), run at once:
  statements   top statements by total and by mean time (pg_stat_statements; skipped when not installed)
  cache        share of blocks read from shared buffers: database, tables, indexes
  connections  connections in use against max_connections, who holds them, lock waits
  tables       tables with the most rows read by sequential scans, and the most dead tuples
  prometheus   task throughput and failure rate by protocol, HTTP p95 latency, agents connected
               (prometheus.url or PROMETHEUS_URL; '' leaves it out)
Each run also saves its report as reports.dir/performance-YYYY-MM-DD.json.`
  static override examples = [
    '<%= config.bin %> report performance',
    '<%= config.bin %> report performance --window 7d --json',
    '<%= config.bin %> report performance --skip prometheus',
  ]
  static override flags = {
    ...jobFlags,
    window: durationFlag("the window of Prometheus's rates: 30m, 1d, 7d, 1w (default: performance.window, 1d)"),
    top: Flags.integer({ description: 'how many statements and tables each list shows (default: performance.top, 10)', min: 1, max: 100 }),
  }

  async run(): Promise<Report> {
    const { flags } = await this.parse(ReportPerformance)
    const windowMs = durationOf(flags.window, 'window', RANGES.window)
    return this.runPlanned(flags, (config) => {
      if (windowMs !== undefined) config.performance = { ...config.performance, windowMs }
      if (flags.top !== undefined) config.performance = { ...config.performance, top: flags.top }
      return { ...performanceJob(config), history: PERFORMANCE_HISTORY, defaultTimeoutSeconds: 120 }
    })
  }
}
