import type { Step, StepOutcome } from '../../report/runner.js'
import { formatPercent, textTable } from '../../report/table.js'
import { prometheusFailure, prometheusVersion, promDuration, queryInstant, type Sample } from '../../systems/prometheus.js'
import { hintOf } from '../hints.js'
import type { PerformanceContext, Problem } from './context.js'

/**
 * The platform's own figures, from Prometheus over the report's window: task throughput and
 * failure rate by protocol (tasks_total{protocol,status}), the HTTP 95th percentile latency
 * (http_request_duration_seconds), and the agents connected (agent_connection_status).
 * Thresholds are the guide's alert rules: TaskFailureRateHigh (10%), HighResponseTime (2 s),
 * AgentDisconnected.
 */

export const FAILURE_RATE_WARNING = 0.1
export const P95_WARNING_SECONDS = 2

export interface ProtocolThroughput {
  protocol: string
  perSecond: number
  perMinute: number
  failedPerSecond: number
  failureRate: number
}

export interface AgentStatus {
  agent: string
  connected: boolean
}

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

const agentName = (labels: Record<string, string>) => labels.agent_id ?? labels.agent ?? labels.instance ?? labels.job ?? '(unnamed)'

const seconds = (s: number) => (s >= 1 ? `${s.toFixed(2)} s` : `${Math.round(s * 1000)} ms`)

export const prometheusStep: Step<PerformanceContext> = {
  id: 'prometheus',
  title: 'Task throughput, HTTP latency and agents (Prometheus)',
  async run({ config }): Promise<StepOutcome> {
    const prometheus = config.prometheus
    if (!prometheus.url) {
      return {
        status: 'skipped',
        summary: 'Prometheus not configured (prometheus.url is empty)',
        data: { configured: false },
        error: { message: 'no platform figures without Prometheus', hint: 'set prometheus.url (or PROMETHEUS_URL), e.g. http://localhost:9090' },
      }
    }
    const window = promDuration(config.performance.windowMs)
    let version: string | undefined
    let answers: Sample[][]
    try {
      version = await prometheusVersion(prometheus)
      answers = await Promise.all([
        queryInstant(prometheus, `sum by (protocol, status) (rate(tasks_total[${window}]))`),
        queryInstant(prometheus, `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[${window}])))`),
        queryInstant(prometheus, `histogram_quantile(0.95, sum by (le, endpoint) (rate(http_request_duration_seconds_bucket[${window}])))`),
        queryInstant(prometheus, 'agent_connection_status'),
      ])
    } catch (error) {
      // The database half of the report stands without Prometheus: a warning, not a failure.
      const failure = prometheusFailure(error, prometheus)
      const hint = hintOf(failure)
      return {
        status: 'warning',
        summary: `not measured: ${failure.message}`,
        data: { configured: true, url: prometheus.url, reachable: false },
        error: { message: failure.message, ...(hint ? { hint } : {}) },
      }
    }
    const [tasks = [], p95 = [], endpoints = [], agents = []] = answers
    const protocols = throughput(tasks)
    const total = protocols.reduce((a, p) => a + p.perSecond, 0)
    const failed = protocols.reduce((a, p) => a + p.failedPerSecond, 0)
    const p95Seconds = p95.length > 0 && Number.isFinite(p95[0]!.value) ? p95[0]!.value : null
    const slowest = endpoints
      .filter((e) => Number.isFinite(e.value) && e.labels.endpoint)
      .map((e) => ({ endpoint: e.labels.endpoint!, p95Seconds: e.value }))
      .sort((a, b) => b.p95Seconds - a.p95Seconds)
      .slice(0, 5)
    const agentList: AgentStatus[] = agents
      .map((a) => ({ agent: agentName(a.labels), connected: a.value === 1 }))
      .sort((a, b) => a.agent.localeCompare(b.agent))
    const connected = agentList.filter((a) => a.connected).length

    const problems: Problem[] = []
    const missing: string[] = []
    if (tasks.length === 0) missing.push('tasks_total')
    if (p95Seconds === null) missing.push('http_request_duration_seconds')
    if (agents.length === 0) missing.push('agent_connection_status')
    for (const p of protocols) {
      if (p.failureRate > FAILURE_RATE_WARNING)
        problems.push({
          severity: 'warning',
          message: `${p.protocol} tasks fail at ${formatPercent(p.failureRate)} (guide's TaskFailureRateHigh: ${formatPercent(FAILURE_RATE_WARNING, 0)})`,
          next: `look at the failing ${p.protocol} tasks' errors in task_results, and at the agents running them`,
        })
    }
    if (p95Seconds !== null && p95Seconds > P95_WARNING_SECONDS)
      problems.push({
        severity: 'warning',
        message: `HTTP p95 latency ${seconds(p95Seconds)} (guide's HighResponseTime: ${P95_WARNING_SECONDS} s)`,
        next: `the slowest endpoints are listed above; the statements step shows the database's share`,
      })
    const down = agentList.filter((a) => !a.connected)
    if (down.length > 0)
      problems.push({
        severity: 'warning',
        message: `${down.length} of ${agentList.length} agents disconnected: ${down
          .slice(0, 5)
          .map((a) => a.agent)
          .join(', ')}${down.length > 5 ? ', ...' : ''}`,
        next: 'check those agents: systemctl status network-probe-agent, and their network path to the management API',
      })
    if (missing.length === 3)
      problems.push({
        severity: 'warning',
        message: `Prometheus at ${prometheus.url} has none of the platform's metrics (${missing.join(', ')})`,
        next: "check its scrape config: the management API's and agents' /metrics",
      })

    const summary = [
      tasks.length ? `${(total * 60).toFixed(1)} tasks/min, ${formatPercent(total > 0 ? failed / total : 0)} failed` : 'no task metrics',
      p95Seconds !== null ? `HTTP p95 ${seconds(p95Seconds)}` : 'no HTTP latency metrics',
      agents.length ? `${connected}/${agentList.length} agents connected` : 'no agent metrics',
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
      ...(missing.length && missing.length < 3 ? [`not in Prometheus: ${missing.join(', ')}`] : []),
    ]
    const data = {
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
      agents: { connected, total: agentList.length, list: agentList },
      missing,
      details,
      problems,
    }
    if (problems.length === 0) return { summary, data }
    return { status: 'warning', summary, data, error: { message: problems[0]!.message, hint: problems[0]!.next } }
  },
}
