import { Flags } from '@oclif/core'
import { defineJobCommand } from '../../cli/define-job-command.js'
import { changeFlags } from '../../cli/job-command.js'
import { alertTest } from '../../jobs/alert-test/spec.js'

export default defineJobCommand(alertTest, {
  summary: 'Send a test alert through AlertManager end to end: sent, seen active, resolved.',
  description: {
    intro:
      "Posts ProbeOpsTestAlert (labels alertname, severity, instance, job=probe-ops and a unique test_id) to AlertManager API v2, waits until AlertManager lists it, and resolves it. Whether it reaches a receiver is up to AlertManager's routes: a silenced or inhibited alert is a warning.",
    outro: 'Each step builds on the one before: a failed one skips the rest.',
  },
  examples: ['<%= config.bin %> alert test', '<%= config.bin %> alert test --severity critical --json'],
  flags: {
    'dry-run': changeFlags['dry-run'],
    severity: Flags.string({ description: 'severity label of the test alert', default: 'info' }),
  },
  options: ({ flags }) => ({ severity: flags.severity }),
})
