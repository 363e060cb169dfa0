import { Flags } from '@oclif/core'
import { JobCommand, changeFlags, jobDescription, jobFlags } from '../../cli/job-command.js'
import { alertTest } from '../../jobs/alert-test/spec.js'
import type { Report } from '../../report/model.js'

export default class AlertTest extends JobCommand {
  static override summary = 'Send a test alert through AlertManager end to end: sent, seen active, resolved.'
  static override description = jobDescription(alertTest, {
    intro:
      "Posts ProbeOpsTestAlert (labels alertname, severity, instance, job=probe-ops and a unique test_id) to AlertManager API v2, waits until AlertManager lists it, and resolves it. Whether it reaches a receiver is up to AlertManager's routes: a silenced or inhibited alert is a warning.",
    outro: 'Each step builds on the one before: a failed one skips the rest.',
  })
  static override examples = ['<%= config.bin %> alert test', '<%= config.bin %> alert test --severity critical --json']
  static override flags = {
    ...jobFlags,
    'dry-run': changeFlags['dry-run'],
    severity: Flags.string({ description: 'severity label of the test alert', default: 'info' }),
  }

  async run(): Promise<Report> {
    const { flags } = await this.parse(AlertTest)
    return this.runJob(alertTest, flags, { severity: flags.severity })
  }
}
