/**
 * The metric names a PromQL expression reads, and every name there is to read: probe-ops' own
 * (the run's metrics and each job's gauges), the guide's agent_* metrics (as the generated agent
 * exporters export them), and the few of node_exporter and Prometheus the shipped rules use.
 */
import { WINDOW_FAMILIES, backupDatabaseMetrics, backupVerifyMetrics } from '../../src/jobs/backup/metrics.js'
import { capacityMetrics } from '../../src/jobs/capacity/metrics.js'
import { certCheckMetrics } from '../../src/jobs/cert-check/metrics.js'
import { diagnoseMetrics } from '../../src/jobs/diagnose/metrics.js'
import { maintainDailyMetrics } from '../../src/jobs/maintain-daily/metrics.js'
import { maintainWeeklyMetrics } from '../../src/jobs/maintain-weekly/metrics.js'
import { agentMetricsText } from '../../src/local-platform/agent-metrics.js'
import { renderMetrics } from '../../src/report/metrics.js'
import type { Report } from '../../src/report/model.js'

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan'])

/** The metric names in `expr`: identifiers outside label matchers, groupings and strings that are not functions or keywords. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
  const names = [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((match) => match[1]!)
  return [...new Set(names.filter((name) => !KEYWORDS.has(name.toLowerCase()) && !/^\d/.test(name)))]
}

function namesIn(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/[{ ]/)[0]!)
}

const report: Report = {
  schemaVersion: 1,
  command: 'maintain daily',
  version: '0',
  host: 'h',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.000Z',
  durationMs: 1000,
  status: 'ok',
  dryRun: false,
  steps: [{ id: 'disk', title: 'Disk', status: 'warning', durationMs: 1, summary: '', findings: [{ id: 'x', severity: 'high', message: 'x' }] }],
  alerts: [],
}

export const KNOWN_METRICS = new Set([
  ...namesIn(renderMetrics(report)),
  ...[backupDatabaseMetrics, backupVerifyMetrics, capacityMetrics, certCheckMetrics, diagnoseMetrics, maintainDailyMetrics, maintainWeeklyMetrics].flatMap(
    (m) => m.families.map((f) => f.name),
  ),
  // backup list, verify and prune: the repositories' recoverable windows, in their shared file.
  ...WINDOW_FAMILIES.map((f) => f.name),
  ...namesIn(agentMetricsText({ id: 'agent-001', state: 'healthy', port: 1 }, 0)),
  // node_exporter's textfile collector, and Prometheus' own per target.
  'node_textfile_mtime_seconds',
  'node_textfile_scrape_error',
  'up',
])
