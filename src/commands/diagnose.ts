import { Flags } from '@oclif/core'
import { JobCommand, jobFlags } from '../cli/job-command.js'
import { diagnoseJob } from '../jobs/diagnose/job.js'
import { UsageError } from '../errors.js'
import { parseDuration } from '../lib/time.js'
import type { Report } from '../report/model.js'

export default class Diagnose extends JobCommand {
  static override summary = 'Check the whole platform at once and say what to do about each problem.'
  static override description = `Host resources, service state, HTTP/PostgreSQL/Redis reachability, recent errors in service logs, database and Redis figures, and the alerts AlertManager has firing. Every check runs concurrently with its own timeout, so a hung dependency is a red line, never a hang. Changes nothing.

Steps: host, services, http, postgres, redis, logs, alerts.`
  static override examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --only postgres,redis',
    '<%= config.bin %> diagnose --since 6h --json > diagnose.json',
    '<%= config.bin %> diagnose --check-timeout 2',
  ]
  static override flags = {
    ...jobFlags,
    since: Flags.string({ description: 'how far back to read service logs for errors (30m, 1h, 2d)' }),
    'check-timeout': Flags.integer({ description: 'seconds each check may take', min: 1 }),
  }

  async run(): Promise<Report> {
    const { flags } = await this.parse(Diagnose)
    return this.runPlanned(flags, (config) => {
      if (flags.since !== undefined) {
        const sinceMs = parseDuration(flags.since)
        if (!sinceMs) throw new UsageError(`--since "${flags.since}" is not a duration`, 'use a number with s, m, h or d: 30m, 1h, 2d')
        config.diagnose.sinceMs = sinceMs
      }
      if (flags['check-timeout']) config.diagnose.checkTimeoutMs = flags['check-timeout'] * 1000
      return { ...diagnoseJob(config), defaultTimeoutSeconds: Math.ceil(config.diagnose.checkTimeoutMs / 1000) + 5 }
    })
  }
}
