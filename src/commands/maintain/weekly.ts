import { defineJobCommand } from '../../cli/define-job-command.js'
import { changeFlags } from '../../cli/job-command.js'
import { maintainWeekly } from '../../jobs/maintain-weekly/spec.js'

export default defineJobCommand(maintainWeekly, {
  summary: 'The weekly maintenance job: backups, package updates, certificates, performance report.',
  description: {
    intro: 'Replaces weekly-maintenance.sh.',
    outro: "One failed step does not stop the others. Takes the job's lock: a second run exits 3.",
  },
  examples: [
    '<%= config.bin %> maintain weekly',
    '<%= config.bin %> maintain weekly --skip package-updates --json',
    '# crontab: 0 4 * * 0 probe-ops maintain weekly --fail-on warning',
  ],
  flags: changeFlags,
})
