import type { ChalkInstance } from 'chalk'
import { formatSeconds } from '../errors.js'
import { describeInterrupted, type Report, type StepResult, type StepStatus } from './model.js'

const MARK: Record<StepStatus, string> = { ok: '✔', warning: '!', failed: '✖', skipped: '-' }

function paint(c: ChalkInstance | undefined, status: StepStatus | Report['status'], text: string): string {
  if (!c) return text
  if (status === 'ok') return c.green(text)
  if (status === 'warning') return c.yellow(text)
  if (status === 'failed') return c.red(text)
  return c.dim(text)
}

/** Lines a step's data adds to the terminal view: `details` are short facts, `problems` what to act on. */
function detailLines(step: StepResult): string[] {
  const data = step.data ?? {}
  const lines: string[] = []
  const details = data.details
  if (Array.isArray(details)) for (const d of details) lines.push(`    ${String(d)}`)
  const problems = data.problems
  if (Array.isArray(problems)) {
    for (const p of problems as { message?: string; next?: string; severity?: string }[]) {
      lines.push(`    ${p.severity === 'warning' ? '!' : '✖'} ${p.message ?? String(p)}${p.next ? `\n      → ${p.next}` : ''}`)
    }
  }
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
    if (step.error && step.status !== 'ok') {
      const problems = Array.isArray(step.data?.problems) ? (step.data.problems as unknown[]) : []
      if (problems.length === 0) {
        if (step.error.message !== step.summary) out.push(`    ${step.error.message}`)
        if (step.error.hint) out.push(`    → ${step.error.hint}`)
      }
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
