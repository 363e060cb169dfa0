import { defineJobCommand } from '../cli/define-job-command.js'
import { securityCheck } from '../jobs/security-check/spec.js'

export default defineJobCommand(securityCheck, {
  summary: 'Find security problems on this host and the platform, rate them and say how to fix each.',
  description: {
    intro: 'Replaces security-check.sh and vulnerability-scan.sh. The steps run at once, each bounded.',
    outro:
      'Every finding has a severity (info, low, medium, high, critical), a stable id and a fix. High or critical fails its step (exit 1); medium or low makes it a warning. Changes nothing.',
  },
  examples: [
    '<%= config.bin %> security-check',
    '<%= config.bin %> security-check --only open-ports,services --json',
    '<%= config.bin %> security-check --skip vulnerability-scan --fail-on warning',
    '# crontab: 30 4 * * * probe-ops security-check --report-file /var/lib/probe-ops/security.json',
  ],
})
