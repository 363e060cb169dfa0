import { appendLines } from '../lib/files.js'
import { describeInterrupted, type Report, type StepStatus } from './model.js'
import { countBySeverity } from './outcome.js'

const LEVEL: Record<StepStatus, string> = { ok: 'info', skipped: 'info', warning: 'warning', failed: 'error' }

/**
 * One JSON line per step, one per alert pushed, one for a lock taken over, and one for the job: the fields the guide's Promtail pipeline
 * extracts (timestamp, level, message, module), plus what a query wants to filter on.
 */
export function maintenanceLogLines(report: Report): string[] {
  const module = `probe-ops.${report.command.replace(/ /g, '.')}`
  const lines = report.steps.map((step) =>
    JSON.stringify({
      timestamp: report.finishedAt,
      level: LEVEL[step.status],
      message: `${step.id}: ${step.status}: ${step.summary}${step.error?.hint ? ` (${step.error.hint})` : ''}`,
      module,
      job: report.command,
      step: step.id,
      status: step.status,
      duration_ms: step.durationMs,
      host: report.host,
      dry_run: report.dryRun,
      // Counts, not a line per finding: the log's volume stays that of one line per step.
      ...(step.findings?.length ? { findings: countBySeverity(step.findings) } : {}),
    }),
  )
  for (const alert of report.alerts) {
    const what = alert.resolved ? 'resolve' : 'alert'
    lines.push(
      JSON.stringify({
        timestamp: report.finishedAt,
        level: alert.delivered ? 'info' : 'error',
        message: `${what} ${alert.alertname} (${alert.severity}) ${alert.delivered ? 'delivered to AlertManager' : `not delivered: ${alert.error ?? 'unknown error'}`}`,
        module,
        job: report.command,
        alertname: alert.alertname,
        delivered: alert.delivered,
        host: report.host,
      }),
    )
  }
  if (report.lockTakeover) {
    lines.push(
      JSON.stringify({
        timestamp: report.startedAt,
        level: 'warning',
        message: `took over the lock ${report.lockTakeover.path}: ${report.lockTakeover.reason}`,
        module,
        job: report.command,
        host: report.host,
      }),
    )
  }
  lines.push(
    JSON.stringify({
      timestamp: report.finishedAt,
      level: report.status === 'ok' ? 'info' : report.status === 'warning' ? 'warning' : 'error',
      message: `${report.command}: ${report.status}${report.interrupted ? ` (${describeInterrupted(report.interrupted)})` : ''} in ${report.durationMs} ms`,
      module,
      job: report.command,
      status: report.status,
      duration_ms: report.durationMs,
      host: report.host,
      dry_run: report.dryRun,
    }),
  )
  return lines
}

export async function appendMaintenanceLog(path: string, report: Report): Promise<void> {
  await appendLines(path, maintenanceLogLines(report))
}
