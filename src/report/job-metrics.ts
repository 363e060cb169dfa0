/**
 * A job's own gauges beside the run's (certificate expiry, backup size, disk fill days): the job
 * derives them from its steps' data, this renders them in the Prometheus text format. Every
 * series carries the job's `job` label, as the run's metrics do.
 */

import type { Report } from './model.js'

export interface MetricFamily {
  /** `probe_ops_...`. */
  readonly name: string
  readonly help: string
  /**
   * Its series outlive a run that does not measure them: a failed backup keeps the last good
   * one's time and size, which the "no backup for a day" alert needs most when backups fail.
   */
  readonly kept?: boolean
  /** A gauge unless said: a counter is a figure the system itself counts up (pg_stat_archiver.failed_count). */
  readonly type?: 'gauge' | 'counter'
}

export interface MetricSample {
  readonly family: MetricFamily
  /** Label names are the job's constants; values are escaped here. Never a secret. */
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** What a job spec's `metrics` loads: its families, and the samples of a run. */
export interface JobMetrics {
  readonly families: readonly MetricFamily[]
  samples(report: Report): MetricSample[]
  /**
   * The values a label may still have in kept series, when this run knows them: a repository taken
   * out of the configuration must not keep alerting on its last figures.
   */
  current?(report: Report): { label: string; values: ReadonlySet<string> } | undefined
  /**
   * Gauges that several jobs measure alike (the repositories' recoverable windows: backup list,
   * verify and prune): one file of their own, under one `job` label, rewritten by whichever run
   * measured them last, so that an alert reads the newest figure and never a stale one another
   * job left in its own file.
   */
  readonly shared?: { readonly file: string; readonly job: string; readonly metrics: Omit<JobMetrics, 'shared'> }
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function labelText(job: string, labels: Readonly<Record<string, string>>): string {
  const pairs = [['job', job], ...Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))]
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabel(value!)}"`).join(',')}}`
}

/** The sample lines of `name` in a metrics file, by their label text. */
function previousSamples(previous: string, name: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const line of previous.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const match = /^(\S+\{.*\}) (\S+)$/.exec(line)
    if (match && Number.isFinite(Number(match[2]))) found.set(match[1]!.slice(name.length), line)
  }
  return found
}

/**
 * The job's gauges for one run, each family with its HELP and TYPE. `previous` is the file the
 * last run wrote: the series of kept families this run did not measure are carried from it.
 */
export function renderJobMetrics(report: Report, metrics: JobMetrics, previous: string): string {
  const job = report.command
  const samples = metrics.samples(report)
  const current = metrics.current?.(report)
  const stillCurrent = (labels: string) => {
    if (!current) return true
    const value = new RegExp(`[{,]${current.label}="((?:[^"\\\\]|\\\\.)*)"`).exec(labels)?.[1]
    return value === undefined || current.values.has(value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)))
  }
  const out: string[] = []
  for (const family of metrics.families) {
    const lines = new Map<string, string>()
    for (const sample of samples.filter((s) => s.family.name === family.name)) {
      const labels = labelText(job, sample.labels)
      lines.set(labels, `${family.name}${labels} ${formatValue(sample.value)}`)
    }
    if (family.kept)
      for (const [labels, line] of previousSamples(previous, family.name)) if (!lines.has(labels) && stillCurrent(labels)) lines.set(labels, line)
    if (lines.size === 0) continue
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type ?? 'gauge'}`, ...lines.values())
  }
  return out.length ? `${out.join('\n')}\n` : ''
}
