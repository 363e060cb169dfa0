import { Flags, type Interfaces } from '@oclif/core'
import { loadConfig, type Config } from '../config/load.js'
import { RANGES } from '../config/ranges.js'
import { describeError } from '../errors.js'
import { writeFileAtomic } from '../lib/files.js'
import { acquireLock, type JobLock } from '../lib/lock.js'
import { saveReportHistory } from '../report/history.js'
import { appendMaintenanceLog } from '../report/maintenance-log.js'
import { writeMetrics } from '../report/metrics.js'
import { exitCodeFor, type FailOn, type Report } from '../report/model.js'
import { runJob, selectSteps, type Job } from '../report/runner.js'
import { ProbeOpsCommand } from './base-command.js'
import { durationFlag, durationOf } from './duration-flag.js'
import { createProgress } from './progress.js'

const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean)

/** Flags every job command takes (the contract's list). */
export const jobFlags = {
  config: Flags.string({ char: 'c', description: 'configuration file (default: $PROBE_OPS_CONFIG, ./probe-ops.yaml, /etc/network-probe/probe-ops.yaml)', helpGroup: 'GLOBAL' }),
  json: Flags.boolean({ description: 'print the report as JSON on stdout, and nothing else', helpGroup: 'GLOBAL' }),
  'report-file': Flags.string({ description: 'also write the JSON report to this file', helpGroup: 'GLOBAL' }),
  timeout: durationFlag('overall bound, in seconds or as 30m, 2h (at most 7d); steps still running then fail as timed out', { helpGroup: 'GLOBAL' }),
  'fail-on': Flags.string({ description: 'exit 1 on this status or worse', options: ['failed', 'warning'], default: 'failed', helpGroup: 'GLOBAL' }),
  only: Flags.string({ description: 'run only these steps (comma-separated ids)', helpGroup: 'GLOBAL' }),
  skip: Flags.string({ description: 'skip these steps (comma-separated ids)', helpGroup: 'GLOBAL' }),
}

/** Flags of jobs that change something. */
export const changeFlags = {
  'dry-run': Flags.boolean({ description: 'say what would change, change nothing' }),
  'wait-lock': durationFlag('wait up to this long (seconds, or 10m; at most 1d) for another run of the job to finish (default: exit 3 at once)'),
}

type JobFlagValues = Interfaces.InferredFlags<typeof jobFlags> & Partial<Interfaces.InferredFlags<typeof changeFlags>>

export interface JobPlan<Context> {
  job: Job<Context>
  context: Context
  /** The lock's name when the job changes something; read-only jobs run without one. */
  lock?: string
  /** A default for --timeout, in seconds. */
  defaultTimeoutSeconds?: number
  /** Releases what the context holds (clients, files) after the run. */
  close?(): Promise<void>
  /** Also keep the report as history: reports.dir/KIND-YYYY-MM-DD.json, one file per day. */
  history?: string
}

/**
 * The base of every job command: load the configuration, take the lock, run the job with live
 * progress on stderr, then render the one report to stdout (text or --json), the report file,
 * the maintenance log and the metrics file, and exit with the contract's code.
 */
export abstract class JobCommand extends ProbeOpsCommand {
  protected async runPlanned<Context>(flags: JobFlagValues, plan: (config: Config) => JobPlan<Context> | Promise<JobPlan<Context>>): Promise<Report> {
    const timeoutMs = durationOf(flags.timeout, 'timeout', RANGES.job)
    const waitLockMs = durationOf(flags['wait-lock'], 'wait-lock', RANGES.waitLock) ?? 0
    const config = loadConfig(flags.config)
    const planned = await plan(config)
    const only = flags.only ? list(flags.only) : []
    const skip = flags.skip ? list(flags.skip) : []
    const selected = selectSteps(planned.job, only, skip)

    let lock: JobLock | undefined
    if (planned.lock && !flags['dry-run']) {
      lock = await acquireLock(config.lock.dir, planned.lock, planned.job.command, waitLockMs)
    }

    let report: Report
    try {
      const progress = await createProgress(
        planned.job.command,
        planned.job.steps.filter((s) => selected.has(s.id)),
        flags.json,
      )
      report = await runJob(planned.job, planned.context, {
        version: this.config.version,
        host: config.host,
        dryRun: flags['dry-run'] ?? false,
        only,
        skip,
        timeoutMs: timeoutMs ?? (planned.defaultTimeoutSeconds === undefined ? undefined : planned.defaultTimeoutSeconds * 1000),
        onStepStart: (s) => progress.onStepStart(s),
        onStepEnd: (r) => progress.onStepEnd(r),
      })
      await progress.finish()
    } finally {
      await planned.close?.().catch(() => undefined)
      lock?.release()
    }

    await this.publish(report, config, flags)
    if (planned.history && config.reports.dir) {
      await saveReportHistory(config.reports.dir, planned.history, report).catch((error) => this.warnSink('report history in', config.reports.dir, error))
    }
    const code = exitCodeFor(report, flags['fail-on'] as FailOn)
    if (code !== 0) this.exit(code)
    return report
  }

  /** Every rendering of the report; a sink that cannot be written is said on stderr, not fatal. */
  private async publish(report: Report, config: Config, flags: JobFlagValues): Promise<void> {
    const json = `${JSON.stringify(report, null, 2)}\n`
    if (flags.json) process.stdout.write(json)
    else {
      // Loaded only for text output, and chalk only for a terminal: a cron run or --json needs neither.
      const { renderReportText } = await import('../report/text.js')
      const colors = process.stdout.isTTY && !process.env.NO_COLOR ? new (await import('chalk')).Chalk({ level: 1 }) : undefined
      process.stdout.write(renderReportText(report, colors))
    }

    if (flags['report-file']) {
      await writeFileAtomic(flags['report-file'], json, 0o640).catch((error) => this.warnSink('report file', flags['report-file']!, error))
    }
    if (config.log.file) {
      await appendMaintenanceLog(config.log.file, report).catch((error) => this.warnSink('maintenance log', config.log.file, error))
    }
    // Metrics say how the real job went: trying a command with --dry-run must not clear an alert.
    if (config.metrics.textfileDir && !report.dryRun) {
      await writeMetrics(config.metrics.textfileDir, report).catch((error) => this.warnSink('metrics file in', config.metrics.textfileDir!, error))
    }
  }

  private warnSink(what: string, path: string, error: unknown): void {
    process.stderr.write(`probe-ops: warning: could not write the ${what} ${path}: ${describeError(error)}\n`)
  }

}
