import { Flags } from '@oclif/core'
import { defineJobCommand } from '../cli/define-job-command.js'
import { capacityReport } from '../jobs/capacity/spec.js'

export default defineJobCommand(capacityReport, {
  summary: 'Table sizes, measured growth per day, the day each disk fills, Redis memory, and what to do about it.',
  description: {
    intro: 'Replaces capacity-planning.py, measuring what it assumed. Changes nothing but its own saved report.',
    outro: 'Each run also saves its report as reports.dir/capacity-YYYY-MM-DD.json: dashboards read them, and later runs fit their growth lines through them.',
  },
  examples: [
    '<%= config.bin %> capacity-report',
    '<%= config.bin %> capacity-report --days 14 --json',
    '<%= config.bin %> capacity-report --only disk,recommendations',
    '# crontab: 30 6 * * * probe-ops capacity-report --fail-on warning',
  ],
  flags: {
    days: Flags.integer({
      description: 'days of rows per day and of saved history the growth is measured over (default: capacity.days, 30)',
      min: 2,
      max: 3650,
    }),
  },
  options: ({ flags }) => ({ days: flags.days }),
})
