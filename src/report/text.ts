import type { ChalkInstance } from 'chalk'
import { formatSeconds } from '../errors.js'
import { describeInterrupted, type Finding, type Report, type StepResult, type StepStatus } from './model.js'
import { rank } from './outcome.js'

const MARK: Record<StepStatus, string> = { ok: '✔', warning: '!', failed: '✖', skipped: '-' }

function paint(c: ChalkInstance | undefined, status: StepStatus | Report['status'], text: string): string {
  if (!c) return text
  if (status === 'ok') return c.green(text)
  if (status === 'warning') return c.yellow(text)
  if (status === 'failed') return c.red(text)
  return c.dim(text)
}

/** A finding of low or above on its own line, marked as its status would be, with what to do below it. */
function ratedLine(finding: Finding): string {
  const mark = rank(finding.severity) >= rank('high') ? '✖' : '!'
  return `    ${mark} ${finding.severity}: ${finding.message}${finding.fix ? `\n      → ${finding.fix}` : ''}`
}

/** The lines under a step's summary: its details, its info findings as plain lines, then each rated finding with its fix. */
function detailLines(step: StepResult): string[] {
  const findings = step.findings ?? []
  const lines = (step.details ?? []).map((d) => `    ${d}`)
  lines.push(...findings.filter((f) => f.severity === 'info').map((f) => `    ${f.message}`))
  lines.push(...findings.filter((f) => f.severity !== 'info').map(ratedLine))
  return lines
}

/**
 * The human view of a report, for stdout on a terminal or in a cron mail. `colors` (a chalk
 * instance) only on a terminal: the caller loads chalk then, and a cron run or --json never does.
 */
export function renderReportText(report: Report, colors?: ChalkInstance): string {
  const c = colors
  const width = Math.max(...report.steps.map((s) => s.id.length), 4)
  const out: string[] = []
  for (const step of report.steps) {
    out.push(`${paint(c, step.status, MARK[step.status])} ${step.id.padEnd(width)}  ${step.summary}`)
    if (step.status !== 'skipped') out.push(...detailLines(step))
    // The error is said by itself only when no finding says it already: a thrown failure.
    if (step.error && step.status !== 'ok' && !step.findings?.length) {
      if (step.error.message !== step.summary) out.push(`    ${step.error.message}`)
      if (step.error.hint) out.push(`    → ${step.error.hint}`)
    }
  }
  for (const alert of report.alerts) {
    out.push(
      `${alert.delivered ? '✉' : paint(c, 'failed', '✖')} alert ${alert.alertname} (${alert.severity}) ${alert.delivered ? 'sent' : `not delivered: ${alert.error ?? 'unknown error'}`}`,
    )
  }
  if (report.lockTakeover) out.push(`${paint(c, 'warning', '!')} took over the lock ${report.lockTakeover.path}: ${report.lockTakeover.reason}`)
  const counts = (['failed', 'warning'] as const).map((s) => `${report.steps.filter((x) => x.status === s).length} ${s}`).join(', ')
  out.push('')
  const cut = report.interrupted ? `, ${describeInterrupted(report.interrupted)}` : ''
  out.push(
    `${report.command}${report.dryRun ? ' (dry run)' : ''}: ${paint(c, report.status, report.status)} (${counts}${cut}) in ${formatSeconds(report.durationMs)}`,
  )
  return `${out.join('\n')}\n`
}
