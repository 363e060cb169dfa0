import { Flags, type Interfaces } from '@oclif/core'
import type { Config } from '../config/load.js'
import { RANGES } from '../config/ranges.js'
import { Interruption, UsageError, describeError, formatSeconds } from '../errors.js'
import { defaultTimeoutMs, lockOf, prepareJob, startPrepared } from '../jobs/run.js'
import { checkStepChoice, selectSteps as selectStepIds, stepHelp, type JobSpec } from '../jobs/spec.js'
import { UnsafeTargetError, checkNamedTarget, writeNamedFile } from '../lib/files.js'
import { deepFreeze } from '../lib/freeze.js'
import { acquireLock, type JobLock } from '../lib/lock.js'
import { sleep } from '../lib/time.js'
import type { JobMetrics } from '../report/job-metrics.js'
import { exitCodeFor, type FailOn, type Report } from '../report/model.js'
import { selectSteps, type RunOptions, type RunningJob } from '../report/runner.js'
import { ProbeOpsCommand } from './base-command.js'
import { durationFlag, durationOf } from './duration-flag.js'
import { toJson } from './output.js'
import { createProgress } from './progress.js'

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

/** Flags every job command takes (the contract's list). */
export const jobFlags = {
  config: Flags.string({
    char: 'c',
    description: 'configuration file (default: $PROBE_OPS_CONFIG, ./probe-ops.yaml, /etc/network-probe/probe-ops.yaml)',
    helpGroup: 'GLOBAL',
  }),
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

/** The flag of destructive jobs (a spec with `confirm`): without a terminal to ask on, it is required. */
export const confirmFlags = {
  yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
}

/**
 * A job command's --help description from its spec: what it is, the step list (the values of
 * --only/--skip, each with its line), then anything else the command says.
 */
export function jobDescription<O, C>(spec: JobSpec<O, C>, parts: { intro: string; outro?: string }): string {
  const steps = `Steps${spec.order === 'sequential' ? ', in order' : ''} (each can be chosen with --only/--skip):`
  return `${parts.intro}\n\n${steps}\n${stepHelp(spec)}${parts.outro ? `\n\n${parts.outro}` : ''}`
}

/**
 * --report-file names a path before the job runs: one it could only be written to by harming
 * what is there (a link, a directory) is the user's mistake, refused before anything changes.
 */
async function checkReportFile(path: string): Promise<void> {
  try {
    await checkNamedTarget(path)
  } catch (error) {
    if (error instanceof UnsafeTargetError) throw new UsageError(`--report-file ${error.message}`, error.hint)
    // Unreadable (a parent not searchable): the write says so in its turn.
  }
}

export type JobFlagValues = Interfaces.InferredFlags<typeof jobFlags> &
  Partial<Interfaces.InferredFlags<typeof changeFlags>> &
  Partial<Interfaces.InferredFlags<typeof confirmFlags>>

interface RunBounds {
  timeoutMs?: number
  waitLockMs: number
}

/** --timeout and --wait-lock, checked before anything else is. */
function runBounds(flags: JobFlagValues): RunBounds {
  return {
    timeoutMs: durationOf(flags.timeout, 'timeout', RANGES.job),
    waitLockMs: durationOf(flags['wait-lock'], 'wait-lock', RANGES.waitLock) ?? 0,
  }
}

/** A job made ready to run from its spec: all the job command needs of it. */
interface ReadyJob {
  command: string
  steps: readonly { id: string; title: string }[]
  lock?: string
  defaultTimeoutMs?: number
  history?: string
  interruptedHint?: string
  /** The job's own gauges, from its spec. */
  metrics?: () => Promise<JobMetrics>
  /** Releases what the context holds; never throws. */
  close(): Promise<void>
  start(run: RunOptions): RunningJob
}

/** How long a forced exit may spend writing the report, the log and the metrics. */
const FORCED_EXIT_PUBLISH_MS = 1000

/** A line on stderr that a closed terminal cannot turn into a crash. */
function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`)
  } catch {
    // nobody is listening any more
  }
}

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal) handed to `handle` with how many have come, for
 * as long as a job runs; outside a job they keep Node's default, an exit at once.
 */
function catchSignals(handle: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', count: number) => void): { release(): void } {
  let count = 0
  const listener = (signal: NodeJS.Signals): void => {
    // With the terminal gone, writing to it fails: that must not end the run.
    if (signal === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
    handle(signal as 'SIGINT' | 'SIGTERM' | 'SIGHUP', ++count)
  }
  const names = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  for (const name of names) process.on(name, listener)
  return {
    release() {
      for (const name of names) process.removeListener(name, listener)
    },
  }
}

/**
 * The base of every job command: load the configuration, take the lock, run the job with live
 * progress on stderr, then render the one report to stdout (text or --json), the report file,
 * the maintenance log and the metrics file, and exit with the contract's code.
 */
export abstract class JobCommand extends ProbeOpsCommand {
  /**
   * Runs a job's spec: --only/--skip checked against it before the configuration loads, the
   * configuration loaded and frozen, the context built, the destructive confirmed, the lock
   * taken; then the run, every rendering of its report, the history and the exit code.
   */
  protected async runJob<O, C>(spec: JobSpec<O, C>, flags: JobFlagValues, options: O): Promise<Report> {
    const only = list(flags.only ?? '')
    const skip = list(flags.skip ?? '')
    try {
      checkStepChoice(spec, only, skip)
    } catch (error) {
      // Said before the configuration is read, whatever is wrong with it; the error document
      // still names the configuration's host when it can be read.
      this.nameHostFrom(flags.config)
      throw error
    }
    const bounds = runBounds(flags)
    const config = deepFreeze(this.loadConfiguration(flags.config))
    const dryRun = flags['dry-run'] ?? false
    return this.execute(flags, bounds, config, async () => {
      const prepared = await prepareJob(spec, config, options, this.config.version)
      try {
        selectSteps(prepared.job, only, skip)
        const confirm = spec.confirm?.(prepared.context, options)
        // Only a destructive job asks: the others never load the terminal's question.
        if (confirm) await (await import('./confirm.js')).confirmDestructive({ yes: flags.yes ?? false, dryRun, ...confirm })
      } catch (error) {
        await prepared.close()
        throw error
      }
      return {
        command: spec.command,
        steps: prepared.job.steps,
        lock: lockOf(spec, options, dryRun),
        defaultTimeoutMs: defaultTimeoutMs(spec, config, options),
        history: spec.history,
        interruptedHint: spec.interruptedHint,
        metrics: spec.metrics,
        close: prepared.close,
        start: (run) => startPrepared(prepared, run),
      }
    })
  }

  /** Everything after the job is ready: lock, signals, progress, the run, its renderings, the exit code. */
  private async execute(flags: JobFlagValues, bounds: RunBounds, config: Config, ready: () => Promise<ReadyJob>): Promise<Report> {
    const { timeoutMs, waitLockMs } = bounds
    if (flags['report-file']) await checkReportFile(flags['report-file'])
    const planned = await ready()
    const only = list(flags.only ?? '')
    const skip = list(flags.skip ?? '')
    let selected: Set<string>
    let lock: JobLock | undefined
    try {
      selected = selectStepIds(
        planned.steps.map((s) => s.id),
        only,
        skip,
        planned.command,
      )
      if (planned.lock) lock = await acquireLock(config.lock.dir, planned.lock, planned.command, waitLockMs)
    } catch (error) {
      await planned.close()
      throw error
    }
    if (lock?.takenOver) process.stderr.write(`probe-ops: warning: took over the lock ${lock.takenOver.path}: ${lock.takenOver.reason}\n`)

    let report: Report
    const interrupt = new AbortController()
    let running: RunningJob | undefined
    let finished = false
    // Ctrl-C, kill or a closed terminal stop the job through the signal its steps already heed; a
    // second one exits at once (what a step left half done is in its run note, for --cleanup),
    // and a third does not even wait for the report to be written.
    const signals = catchSignals((signal, count) => {
      if (count === 1) {
        say(`probe-ops: ${signal}: stopping ${planned.command} (${signal === 'SIGINT' ? 'Ctrl-C' : 'a signal'} again exits at once)`)
        interrupt.abort(new Interruption(signal))
      } else if (count === 2 && running && !finished) this.exitAtOnce(signal, running, planned, config, flags)
      else process.exit(1)
    })
    try {
      const progress = await createProgress(
        planned.command,
        planned.steps.filter((s) => selected.has(s.id)),
        flags.json,
      )
      running = planned.start({
        version: this.config.version,
        host: config.host,
        dryRun: flags['dry-run'] ?? false,
        only,
        skip,
        timeoutMs: timeoutMs ?? planned.defaultTimeoutMs,
        interrupt: interrupt.signal,
        onStepStart: (s) => progress.onStepStart(s),
        onStepEnd: (r) => progress.onStepEnd(r),
        onCriticalWait: (wait) => say(`probe-ops: ${wait.cause} during ${wait.phase}: letting it end first (at most ${formatSeconds(wait.boundMs)})`),
      })
      report = await running.report
      finished = true
      await progress.finish()
      if (lock?.takenOver) report.lockTakeover = lock.takenOver
    } finally {
      await planned.close()
      // Never while a step still runs (one a timeout gave up on): another run would start under
      // it. The exit releases it otherwise.
      const held = lock
      if (held) void (running?.ended ?? Promise.resolve()).then(() => held.release())
    }

    let delivered = false
    try {
      delivered = await this.publish(report, config, flags, planned.metrics)
      if (planned.history && config.reports.dir) {
        const { saveReportHistory } = await import('../report/history.js')
        await saveReportHistory(config.reports.dir, planned.history, report).catch((error) => this.warnSink('report history in', config.reports.dir, error))
      }
    } finally {
      signals.release()
    }
    // The caller who asked for the report on stdout or in a file and did not get it is told by the exit code too.
    const code = delivered ? exitCodeFor(report, flags['fail-on'] as FailOn) : 1
    if (code !== 0) this.exit(code)
    return report
  }

  /**
   * The second signal: the report as it stands (steps still running failed, the rest not run),
   * rendered as well as a moment allows, then the exit.
   */
  private exitAtOnce(signal: NodeJS.Signals, running: RunningJob, planned: ReadyJob, config: Config, flags: JobFlagValues): void {
    const what = planned.interruptedHint ?? 'check what it was doing before running it again'
    say(`probe-ops: ${signal} again: exiting at once; a step still running may be left half done: ${what}`)
    const report = running.reportNow({
      running: `cut by a second ${signal}: probe-ops exited while it ran`,
      notRun: `not run: interrupted by ${signal}`,
      hint: what,
    })
    void Promise.race([this.publish(report, config, flags, planned.metrics).catch(() => undefined), sleep(FORCED_EXIT_PUBLISH_MS)]).then(() => process.exit(1))
  }

  /**
   * Every rendering of the report. Whether the two the caller asked for (stdout and --report-file)
   * were delivered is the result; the log, metrics and history that cannot be written are warnings.
   */
  private async publish(report: Report, config: Config, flags: JobFlagValues, jobMetrics?: ReadyJob['metrics']): Promise<boolean> {
    const json = toJson(report)
    let delivered: boolean
    if (flags.json) delivered = await this.print(json)
    else {
      // Loaded only for text output, and chalk only for a terminal: a cron run or --json needs neither.
      const { renderReportText } = await import('../report/text.js')
      const colors = process.stdout.isTTY && !process.env.NO_COLOR ? new (await import('chalk')).Chalk({ level: 1 }) : undefined
      delivered = await this.print(renderReportText(report, colors))
    }

    const reportFile = flags['report-file']
    if (reportFile) {
      await writeNamedFile(reportFile, json, 0o640).catch((error) => {
        delivered = false
        process.stderr.write(
          `probe-ops: could not write the report file ${reportFile}: ${describeError(error)}\n  the report was printed all the same; pass --report-file a path probe-ops can write\n`,
        )
      })
    }
    // Each sink's code is loaded only when it is configured.
    if (config.log.file) {
      const { appendMaintenanceLog } = await import('../report/maintenance-log.js')
      await appendMaintenanceLog(config.log.file, report).catch((error) => this.warnSink('maintenance log', config.log.file, error))
    }
    // Metrics say how the real job went: trying a command with --dry-run must not clear an alert.
    const textfileDir = config.metrics.textfileDir
    if (textfileDir && !report.dryRun) {
      const { writeMetrics } = await import('../report/metrics.js')
      await Promise.resolve(jobMetrics?.())
        .then((own) => writeMetrics(textfileDir, report, own))
        .catch((error) => this.warnSink('metrics file in', textfileDir, error))
    }
    return delivered
  }

  private warnSink(what: string, path: string, error: unknown): void {
    process.stderr.write(`probe-ops: warning: could not write the ${what} ${path}: ${describeError(error)}\n`)
  }
}
