import { readFile } from 'node:fs/promises'
import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { saveReportHistory } from '../../report/history.js'
import type { Report, StepResult } from '../../report/model.js'
import { runJob, type Step, type StepOutcome } from '../../report/runner.js'
import { PERFORMANCE_HISTORY, performanceJob } from './job.js'

/**
 * The performance report as one step of another job (`maintain weekly`): it runs the same
 * steps as `probe-ops report performance`, keeps that report in the reports directory (as the
 * command does, so both make the same history files), and sums it up as one outcome whose
 * data holds every sub-step's result.
 */

/** What the step needs from the job it runs in. */
export interface PerformanceStepContext {
  config: Config
  /** probe-ops' version for the saved report (as BackupContext names it); read from package.json when not given. */
  toolVersion?: string
}

/** Keeps a performance report as reports.dir/performance-YYYY-MM-DD.json; returns the path, or null when reports.dir is ''. */
export async function savePerformanceReport(config: Config, report: Report): Promise<string | null> {
  if (!config.reports.dir) return null
  return saveReportHistory(config.reports.dir, PERFORMANCE_HISTORY, report)
}

async function packageVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

const RANK: Record<StepResult['status'], number> = { skipped: 0, ok: 1, warning: 2, failed: 3 }

export const performanceReportStep: Step<PerformanceStepContext> = {
  id: 'performance-report',
  title: 'Performance report',
  // Cut short, its own job is stopped too, and the step ends once that job has.
  cleanupMs: 10_000,
  async run(context, run): Promise<StepOutcome> {
    const { config } = context
    const { job, context: performance } = performanceJob(config)
    // Ctrl-C or --timeout of the job this step runs in stops the report's own steps as well.
    const report = await runJob(job, performance, {
      version: context.toolVersion ?? (await packageVersion()),
      host: config.host,
      dryRun: run.dryRun,
      interrupt: run.signal,
    })
    // A report cut short is no day's report: it is not kept in place of a whole one.
    run.signal.throwIfAborted()
    let savedTo: string | null = null
    let saveError: string | undefined
    if (!run.dryRun) {
      try {
        savedTo = await savePerformanceReport(config, report)
      } catch (error) {
        saveError = `could not save it in ${config.reports.dir}: ${describeError(error)}`
      }
    }
    const worst = report.steps.reduce((w, s) => (RANK[s.status] > RANK[w] ? s.status : w), 'skipped' as StepResult['status'])
    const troubled = report.steps.filter((s) => s.status === 'failed' || s.status === 'warning')
    const details: string[] = []
    const problems: unknown[] = []
    for (const s of report.steps) {
      details.push(`${s.id}: ${s.status === 'ok' ? '' : `${s.status}: `}${s.summary}`)
      if (Array.isArray(s.data?.details)) for (const d of s.data.details) details.push(`  ${String(d)}`)
      if (Array.isArray(s.data?.problems)) problems.push(...(s.data.problems as unknown[]))
      else if (s.error && (s.status === 'failed' || s.status === 'warning'))
        problems.push({ severity: s.status, message: `${s.id}: ${s.error.message}`, next: s.error.hint ?? '' })
    }
    if (savedTo) details.push(`saved as ${savedTo}`)
    if (run.dryRun && config.reports.dir) details.push(`dry run: not saved in ${config.reports.dir}`)
    if (saveError) details.push(saveError)
    const summary =
      report.steps
        .filter((s) => s.status !== 'skipped')
        .map((s) => `${s.id}: ${s.summary}`)
        .join('; ') || 'nothing measured'
    const data = { status: report.status, savedTo, steps: report.steps, details, problems }
    const status = saveError && worst !== 'failed' ? 'warning' : worst === 'skipped' ? 'skipped' : worst
    const first = troubled[0]
    const error = first?.error
      ? { message: `${first.id}: ${first.error.message}`, ...(first.error.hint ? { hint: first.error.hint } : {}) }
      : saveError
        ? { message: saveError, hint: 'make reports.dir writable, or set it to "" to keep no reports' }
        : undefined
    return { status, summary, data, ...(status !== 'ok' && error ? { error } : {}) }
  },
}
