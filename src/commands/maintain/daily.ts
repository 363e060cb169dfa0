import { defineJobCommand } from '../../cli/define-job-command.js'
import { changeFlags } from '../../cli/job-command.js'
import { maintainDaily } from '../../jobs/maintain-daily/spec.js'

export default defineJobCommand(maintainDaily, {
  summary: 'The nightly maintenance job, safe to run while the platform serves traffic.',
  description: {
    intro: 'Replaces daily-maintenance.sh.',
    outro: "One failed step does not stop the others. Takes the job's lock: a second run exits 3.",
  },
  examples: [
    '<%= config.bin %> maintain daily',
    '<%= config.bin %> maintain daily --dry-run',
    '<%= config.bin %> maintain daily --only retention,vacuum --json',
    '# crontab: 0 3 * * * probe-ops maintain daily --fail-on warning --report-file /var/lib/probe-ops/daily.json',
  ],
  flags: changeFlags,
})
