/** The test bed's monitoring, started on demand: Prometheus, the exporters, generated agents and Loki really work together. */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  GUIDE_RULE_GROUPS,
  agentLogEntry,
  bed,
  lokiQuery,
  prometheusQuery,
  pushToLoki,
  startMonitoring,
  waitForPrometheusData,
  waitForScrapes,
  type MonitoringServer,
} from '../bed/index.js'
import { waitUntil } from '../bed/process.js'

const info = bed()

/** One agent in each state that is not healthy, a second down one, and one healthy. */
const STATES = { disconnected: 1, stale: 1, failing: 1, 'overloaded-cpu': 1, 'overloaded-memory': 1, 'overloaded-disk': 1, down: 2 } as const

describe('test bed: monitoring on demand', () => {
  let monitoring: MonitoringServer
  const prometheus = () => monitoring.info.prometheus!
  const idsIn = (state: string) => monitoring.info.agents.filter((a) => a.state === state).map((a) => a.id)
  const agentsOf = async (promql: string) => (await prometheusQuery(prometheus(), promql)).map((r) => r.metric.agent_id).sort()

  beforeAll(async () => {
    monitoring = await startMonitoring({ agents: 9, states: STATES, loki: true, exporters: { node: true, postgres: info.postgres, redis: info.redis } })
  }, 150_000)

  afterAll(async () => {
    await monitoring?.stop()
  })

  it('Prometheus scrapes each agent as a target of job "agents" labelled with its agent_id; the down ones are up == 0', async () => {
    const targets = await waitForScrapes(prometheus().url)
    const agents = targets.filter((t) => t.job === 'agents')
    expect(agents.map((t) => t.labels.agent_id).sort()).toEqual(monitoring.info.agents.map((a) => a.id).sort())
    const down = agents.filter((t) => t.health === 'down')
    expect(down.map((t) => t.labels.agent_id).sort()).toEqual(idsIn('down'))
    for (const target of down) expect(target.lastError).toMatch(/connection refused/)
    await waitForPrometheusData(prometheus(), ['up{job="agents"} == 0'])
    expect(await agentsOf('up{job="agents"} == 0')).toEqual(idsIn('down'))
    expect((await agentsOf('up{job="agents"} == 1')).length).toBe(7)
  })

  it("the agents export the guide's metrics, each state past the guide's threshold", async () => {
    // Rates need two scrapes of each counter.
    await waitForPrometheusData(prometheus(), ['rate(agent_tasks_total[5s])', 'rate(agent_heartbeats_total[5s])'])
    expect(await agentsOf('agent_connection_status == 0')).toEqual(idsIn('disconnected'))
    expect(await agentsOf('increase(agent_heartbeats_total[5s]) == 0')).toEqual([...idsIn('disconnected'), ...idsIn('stale')].sort())
    expect(await agentsOf('agent_cpu_usage_percent > 80')).toEqual(idsIn('overloaded-cpu'))
    expect(await agentsOf('agent_memory_usage_bytes / agent_memory_total_bytes > 0.85')).toEqual(idsIn('overloaded-memory'))
    expect(await agentsOf('(agent_disk_total_bytes - agent_disk_usage_bytes) / agent_disk_total_bytes < 0.10')).toEqual(idsIn('overloaded-disk'))
    const failing = 'sum by (agent_id) (increase(agent_tasks_total{status="error"}[10s])) / sum by (agent_id) (increase(agent_tasks_total[10s])) > 0.10'
    await waitForPrometheusData(prometheus(), [failing])
    expect(await agentsOf(failing)).toEqual(idsIn('failing'))
    const protocols = await prometheusQuery(prometheus(), 'count by (protocol) (agent_task_duration_seconds_count)')
    expect(protocols.map((r) => r.metric.protocol).sort()).toEqual(['dns', 'http', 'https', 'icmp', 'tcp', 'udp'])
  })

  it("loads the guide's alert rules, and evaluates them", async () => {
    let groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }> = []
    await waitUntil(
      'the rules to be evaluated',
      async () => {
        const body = (await (await fetch(`${prometheus().url}/api/v1/rules`)).json()) as { data: { groups: typeof groups } }
        groups = body.data.groups
        return groups.length > 0 && groups.every((g) => g.rules.every((r) => r.health !== 'unknown'))
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    expect(groups.map((g) => g.name).sort()).toEqual([...GUIDE_RULE_GROUPS].sort())
    const rules = groups.flatMap((g) => g.rules)
    expect(rules).toHaveLength(10)
    expect(rules.map((r) => r.name)).toContain('AgentDisconnected')
    for (const rule of rules) expect(rule.health, rule.name).toBe('ok')
  })

  it('the node, postgres and redis exporters are up and reach their servers, with no password on their command lines', async () => {
    await waitForPrometheusData(prometheus(), ['pg_up', 'redis_up', 'node_exporter_build_info'])
    const up = await prometheusQuery(prometheus(), 'up{job=~"node-exporter|postgres-exporter|redis-exporter"}')
    expect(Object.fromEntries(up.map((r) => [r.metric.job, r.value]))).toEqual({ 'node-exporter': 1, 'postgres-exporter': 1, 'redis-exporter': 1 })
    expect((await prometheusQuery(prometheus(), 'pg_up'))[0]?.value).toBe(1)
    expect((await prometheusQuery(prometheus(), 'redis_up'))[0]?.value).toBe(1)
    for (const component of ['postgres-exporter', 'redis-exporter'] as const) {
      const cmdline = readFileSync(`/proc/${monitoring.info.pids[component]}/cmdline`, 'utf8')
      expect(cmdline).not.toContain(info.postgres.password)
      expect(cmdline).not.toContain(info.redis.password)
    }
  })

  it("Loki answers LogQL for the agents' lines, labelled as the guide's Promtail labels them, and takes pushed lines", async () => {
    const loki = monitoring.info.loki!
    let errors: Awaited<ReturnType<typeof lokiQuery>> = []
    const failing = [...idsIn('disconnected'), ...idsIn('failing'), ...idsIn('down')].sort()
    await waitUntil(
      'the agents to have pushed their ERROR lines',
      async () => {
        errors = await lokiQuery(loki.url, '{job="agents", level="ERROR"}')
        return [...new Set(errors.map((e) => e.labels.agent_id))].length === failing.length
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    expect([...new Set(errors.map((e) => e.labels.agent_id))].sort()).toEqual(failing)
    const line = JSON.parse(errors[0]!.line) as Record<string, string>
    expect(Object.keys(line).sort()).toEqual(['agent_id', 'level', 'message', 'timestamp'])
    expect(line.level).toBe('ERROR')

    const healthy = idsIn('healthy')[0]!
    expect((await lokiQuery(loki.url, `{job="agents", agent_id="${healthy}", level="ERROR"}`)).length).toBe(0)
    await pushToLoki(loki.url, [agentLogEntry(healthy, 'ERROR', 'probe-ops bed: a line pushed by the test')])
    const pushed = await lokiQuery(loki.url, `{job="agents", agent_id="${healthy}"} |= "pushed by the test"`)
    expect(pushed.map((p) => p.labels.level)).toEqual(['ERROR'])
  })
})
