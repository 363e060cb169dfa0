import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { saveReportHistory } from '../../report/history.js'
import type { Report } from '../../report/model.js'
import { rank, type Finding, type StepDefinition, type StepOutcome } from '../../report/outcome.js'
import { performanceReport } from '../performance-report/spec.js'
import { runSpec } from '../run.js'
import type { PerformanceReportData } from './data.js'

/**
 * The performance report as one step of the weekly job: the same spec as `probe-ops report
 * performance`, run within this step (cut with it), kept in the reports directory as the command
 * keeps it, so that both make the same history files; one outcome sums it up.
 */

/** What became of the report once made: where it was kept, or why not. */
export interface Kept {
  savedTo: string | null
  /** It could not be written: a warning of its own. */
  error?: string
  /** A line for people: a dry run keeps nothing. */
  note?: string
}

/**
 * One outcome from the nested report: each step's findings, and for a step that failed without
 * one (it threw) a finding that says so; each step's summary and details as lines; skipped only
 * when every step was.
 */
export function nestedOutcome(report: Report, kept: Kept): StepOutcome<PerformanceReportData> {
  const findings: Finding[] = []
  const details: string[] = []
  for (const s of report.steps) {
    findings.push(...(s.findings ?? []))
    const saidWhy = (s.findings ?? []).some((f) => rank(f.severity) >= rank('high'))
    if (s.status === 'failed' && !saidWhy)
      findings.push({
        id: `performance-step-failed:${s.id}`,
        severity: 'high',
        subject: s.id,
        message: `${s.id}: ${s.error?.message ?? s.summary}`,
        ...(s.error?.hint ? { fix: s.error.hint } : {}),
      })
    details.push(`${s.id}: ${s.status === 'ok' ? '' : `${s.status}: `}${s.summary}`, ...(s.details ?? []).map((d) => `  ${d}`))
  }
  if (kept.savedTo) details.push(`saved as ${kept.savedTo}`)
  if (kept.note) details.push(kept.note)
  if (kept.error) {
    details.push(kept.error)
    findings.push({
      id: 'performance-report-not-saved',
      severity: 'medium',
      message: kept.error,
      fix: 'make reports.dir writable, or set it to "" to keep no reports',
    })
  }
  const measured = report.steps.filter((s) => s.status !== 'skipped')
  return {
    summary: measured.map((s) => `${s.id}: ${s.summary}`).join('; ') || 'nothing measured',
    findings,
    details,
    data: { status: report.status, savedTo: kept.savedTo, steps: report.steps as PerformanceReportData['steps'] },
    ...(measured.length === 0 && !kept.error ? { skipped: true as const } : {}),
  }
}

/** Keeps the report as reports.dir/performance-YYYY-MM-DD.json, as `report performance` does. */
async function keep(config: Readonly<Config>, report: Report, dryRun: boolean): Promise<Kept> {
  if (!config.reports.dir) return { savedTo: null }
  if (dryRun) return { savedTo: null, note: `dry run: not saved in ${config.reports.dir}` }
  try {
    return { savedTo: await saveReportHistory(config.reports.dir, performanceReport.history, report) }
  } catch (error) {
    return { savedTo: null, error: `could not save it in ${config.reports.dir}: ${describeError(error)}` }
  }
}

export const performanceReportStep: StepDefinition<{ config: Readonly<Config>; toolVersion: string }, PerformanceReportData> = {
  // Cut short, its own job is stopped too, and the step ends once that job has.
  cleanupMs: 10_000,
  async run({ config, toolVersion }, run) {
    // The outer step's signal: a timeout or an interrupt of the weekly job cuts the report's steps too.
    const report = await runSpec(performanceReport, config, {}, { toolVersion, dryRun: run.dryRun, interrupt: run.signal })
    // A report cut short is no day's report: it is not kept in place of a whole one.
    run.signal.throwIfAborted()
    return nestedOutcome(report, await keep(config, report, run.dryRun))
  },
}
