import type { StepDefinition } from '../../report/outcome.js'
import { formatPercent, textTable } from '../../report/table.js'
import { prometheusFailure, prometheusVersion, promDuration, queryInstant, type Sample } from '../../systems/prometheus.js'
import { hintOf } from '../hints.js'
import { countAgents, describeAgents, readAgents } from './agents.js'
import type { PerformanceContext } from './context.js'
import type { AgentStatus, PrometheusData, ProtocolThroughput } from './data.js'
import { PLATFORM_METRICS, platformFindings, seconds } from './findings.js'

/**
 * The platform's own figures, from Prometheus over the report's window: task throughput and
 * failure rate by protocol (tasks_total{protocol,status}), the HTTP 95th percentile latency
 * (http_request_duration_seconds), and every agent: connected, disconnected, or down (agents.ts).
 * Thresholds are the guide's alert rules (findings.ts).
 */

function throughput(samples: Sample[]): ProtocolThroughput[] {
  const by = new Map<string, { all: number; failed: number }>()
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue
    const protocol = s.labels.protocol ?? '(none)'
    const entry = by.get(protocol) ?? { all: 0, failed: 0 }
    entry.all += s.value
    if (s.labels.status !== 'success') entry.failed += s.value
    by.set(protocol, entry)
  }
  return [...by.entries()]
    .map(([protocol, { all, failed }]) => ({ protocol, perSecond: all, perMinute: all * 60, failedPerSecond: failed, failureRate: all > 0 ? failed / all : 0 }))
    .sort((a, b) => b.perSecond - a.perSecond || a.protocol.localeCompare(b.protocol))
}

export const prometheus: StepDefinition<PerformanceContext, PrometheusData> = {
  async run({ config, windowMs }) {
    const prometheus = config.prometheus
    if (!prometheus.url) {
      return {
        summary: 'Prometheus not configured (prometheus.url is empty)',
        skipped: true,
        findings: [
          {
            id: 'prometheus-not-configured',
            severity: 'info',
            message: 'no platform figures without Prometheus',
            fix: 'set prometheus.url (or PROMETHEUS_URL), e.g. http://localhost:9090',
          },
        ],
        data: { configured: false },
      }
    }
    const window = promDuration(windowMs)
    let version: string | undefined
    let answers: Sample[][]
    let agents: AgentStatus[]
    try {
      version = await prometheusVersion(prometheus)
      ;[answers, agents] = await Promise.all([
        Promise.all([
          queryInstant(prometheus, `sum by (protocol, status) (rate(tasks_total[${window}]))`),
          queryInstant(prometheus, `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[${window}])))`),
          queryInstant(prometheus, `histogram_quantile(0.95, sum by (le, endpoint) (rate(http_request_duration_seconds_bucket[${window}])))`),
        ]),
        readAgents(prometheus, config.agents.job),
      ])
    } catch (error) {
      // The database half of the report stands without Prometheus: a warning, not a failure.
      const failure = prometheusFailure(error, prometheus)
      const fix = hintOf(failure)
      return {
        summary: `not measured: ${failure.message}`,
        findings: [{ id: 'prometheus-unreachable', severity: 'medium', message: failure.message, ...(fix ? { fix } : {}) }],
        data: { configured: true, url: prometheus.url, reachable: false },
      }
    }
    const [tasks = [], p95 = [], endpoints = []] = answers
    const protocols = throughput(tasks)
    const total = protocols.reduce((a, p) => a + p.perSecond, 0)
    const failed = protocols.reduce((a, p) => a + p.failedPerSecond, 0)
    const p95Seconds = p95.length > 0 && Number.isFinite(p95[0]!.value) ? p95[0]!.value : null
    const slowest = endpoints
      .filter((e) => Number.isFinite(e.value) && e.labels.endpoint)
      .map((e) => ({ endpoint: e.labels.endpoint!, p95Seconds: e.value }))
      .sort((a, b) => b.p95Seconds - a.p95Seconds)
      .slice(0, 5)
    const counts = countAgents(agents)
    const present = [tasks.length > 0, p95Seconds !== null, counts.connected + counts.disconnected > 0]
    const missing = PLATFORM_METRICS.filter((_, i) => !present[i])

    const summary = [
      tasks.length ? `${(total * 60).toFixed(1)} tasks/min, ${formatPercent(total > 0 ? failed / total : 0)} failed` : 'no task metrics',
      p95Seconds !== null ? `HTTP p95 ${seconds(p95Seconds)}` : 'no HTTP latency metrics',
      describeAgents(agents),
    ].join('; ')
    const details = [
      `${prometheus.url} (Prometheus ${version ?? '?'}), rates over the last ${window}`,
      ...(protocols.length
        ? textTable(
            ['protocol', 'tasks/min', 'failed', 'failure rate'],
            protocols.map((p) => [p.protocol, p.perMinute.toFixed(1), (p.failedPerSecond * 60).toFixed(1), formatPercent(p.failureRate)]),
            ['l', 'r', 'r', 'r'],
          )
        : []),
      ...(slowest.length ? [`slowest endpoints (p95): ${slowest.map((e) => `${e.endpoint} ${seconds(e.p95Seconds)}`).join(', ')}`] : []),
      ...(missing.length && missing.length < PLATFORM_METRICS.length ? [`not in Prometheus: ${missing.join(', ')}`] : []),
    ]
    return {
      summary,
      findings: platformFindings({ url: prometheus.url, protocols, p95Seconds, agents, missing }),
      details,
      data: {
        configured: true,
        url: prometheus.url,
        reachable: true,
        version: version ?? null,
        window,
        tasksPerSecond: total,
        failureRate: total > 0 ? failed / total : null,
        protocols,
        httpP95Seconds: p95Seconds,
        slowestEndpoints: slowest,
        agents: {
          connected: counts.connected,
          total: agents.length,
          disconnected: counts.disconnected,
          down: counts.down,
          noData: counts['no-data'],
          job: config.agents.job,
          list: agents,
        },
        missing,
      },
    }
  },
}
