import { join } from 'node:path'
import { readOwnFile, writeFileAtomic } from '../lib/files.js'
import { renderJobMetrics, type JobMetrics } from './job-metrics.js'
import type { Report, StepStatus } from './model.js'
import { countBySeverity } from './outcome.js'

const STATUS_CODE: Record<StepStatus, number> = { ok: 0, warning: 1, failed: 2, skipped: -1 }

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

/** The job's file name in the textfile directory: one per job so jobs never overwrite each other. */
export function metricsFileName(command: string): string {
  return `probe_ops_${command.replace(/[^a-z0-9]+/gi, '_')}.prom`
}

const LAST_SUCCESS = 'probe_ops_job_last_success_timestamp_seconds'

/** A job's metrics file is a few kilobytes: one bigger is not ours to read. */
const MAX_METRICS_BYTES = 1024 * 1024

/**
 * Prometheus text format for node_exporter's textfile collector. A failed run keeps
 * `lastSuccess`, the previous run's success time: the "no success for a day" alert needs the
 * series most when runs fail.
 */
export function renderMetrics(report: Report, lastSuccess?: number): string {
  const job = label(report.command)
  const out: string[] = []
  const metric = (name: string, help: string, type: string, rows: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows)
  }
  const finished = Date.parse(report.finishedAt) / 1000
  metric('probe_ops_job_last_run_timestamp_seconds', 'When the job last finished.', 'gauge', [
    `probe_ops_job_last_run_timestamp_seconds{job="${job}"} ${finished}`,
  ])
  const success = report.status === 'failed' ? lastSuccess : finished
  if (success !== undefined) metric(LAST_SUCCESS, 'When the job last finished without a failed step.', 'gauge', [`${LAST_SUCCESS}{job="${job}"} ${success}`])
  metric('probe_ops_job_status', 'Outcome of the last run: 0 ok, 1 warning, 2 failed.', 'gauge', [
    `probe_ops_job_status{job="${job}"} ${STATUS_CODE[report.status]}`,
  ])
  metric('probe_ops_job_duration_seconds', 'Duration of the last run.', 'gauge', [`probe_ops_job_duration_seconds{job="${job}"} ${report.durationMs / 1000}`])
  metric(
    'probe_ops_step_status',
    'Outcome of each step in the last run: 0 ok, 1 warning, 2 failed, -1 skipped.',
    'gauge',
    report.steps.map((s) => `probe_ops_step_status{job="${job}",step="${label(s.id)}"} ${STATUS_CODE[s.status]}`),
  )
  metric(
    'probe_ops_step_duration_seconds',
    'Duration of each step in the last run.',
    'gauge',
    report.steps.map((s) => `probe_ops_step_duration_seconds{job="${job}",step="${label(s.id)}"} ${s.durationMs / 1000}`),
  )
  metric(
    'probe_ops_step_findings',
    'Findings of each step in the last run, by severity (severities with none are left out).',
    'gauge',
    report.steps.flatMap((s) =>
      Object.entries(countBySeverity(s.findings ?? [])).map(
        ([severity, count]) => `probe_ops_step_findings{job="${job}",step="${label(s.id)}",severity="${severity}"} ${count}`,
      ),
    ),
  )
  return `${out.join('\n')}\n`
}

/** The run's metrics, then the job's own gauges (`jobMetrics`, from its spec) when it has any. */
export async function writeMetrics(textfileDir: string, report: Report, jobMetrics?: JobMetrics): Promise<string> {
  const path = join(textfileDir, metricsFileName(report.command))
  // Not readFile: a FIFO put there would never answer; the write below says what is wrong with it.
  const previous = await readOwnFile(path, MAX_METRICS_BYTES).catch(() => '')
  const found = new RegExp(`^${LAST_SUCCESS}\\{[^}]*\\} (\\S+)$`, 'm').exec(previous)?.[1]
  const lastSuccess = found !== undefined && Number.isFinite(Number(found)) ? Number(found) : undefined
  const own = jobMetrics ? renderJobMetrics(report, jobMetrics, previous) : ''
  await writeFileAtomic(path, renderMetrics(report, lastSuccess) + own, 0o644)
  if (jobMetrics?.shared) await writeSharedMetrics(textfileDir, report, jobMetrics.shared)
  return path
}

/** The shared gauges' file, when this run measured some: a run that read none leaves the last figures. */
async function writeSharedMetrics(textfileDir: string, report: Report, shared: NonNullable<JobMetrics['shared']>): Promise<void> {
  if (shared.metrics.samples(report).length === 0) return
  const path = join(textfileDir, shared.file)
  const previous = await readOwnFile(path, MAX_METRICS_BYTES).catch(() => '')
  await writeFileAtomic(path, renderJobMetrics({ ...report, command: shared.job }, shared.metrics, previous), 0o644)
}
