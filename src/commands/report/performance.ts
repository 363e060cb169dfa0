import { Flags } from '@oclif/core'
import { defineJobCommand } from '../../cli/define-job-command.js'
import { durationFlag, durationOf } from '../../cli/duration-flag.js'
import { RANGES } from '../../config/ranges.js'
import { performanceReport } from '../../jobs/performance-report/spec.js'

export default defineJobCommand(performanceReport, {
  summary: 'The performance report: costliest statements, cache, connections, tables, and the platform figures from Prometheus.',
  description: {
    intro:
      'Replaces generate-performance-report.sh (the weekly job runs it as its performance-report step). Changes nothing but its own saved report. The steps run at once.',
    outro: 'Each run also saves its report as reports.dir/performance-YYYY-MM-DD.json.',
  },
  examples: [
    '<%= config.bin %> report performance',
    '<%= config.bin %> report performance --window 7d --json',
    '<%= config.bin %> report performance --skip prometheus',
  ],
  flags: {
    window: durationFlag("the window of Prometheus's rates: 30m, 1d, 7d, 1w (default: performance.window, 1d)"),
    top: Flags.integer({ description: 'how many statements and tables each list shows (default: performance.top, 10)', min: 1, max: 100 }),
  },
  options: ({ flags }) => ({ windowMs: durationOf(flags.window, 'window', RANGES.window), top: flags.top }),
})
