import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { load } from 'js-yaml'
import { describe, expect, it } from 'vitest'
import { AGENT_STATES, agentLogLines, agentMetricsText, agentStates, type AgentSpec } from '../../src/local-platform/agent-metrics.js'
import { GUIDE_ALERT_RULES } from '../../src/local-platform/guide-rules.js'
import { lokiConfig } from '../../src/local-platform/loki.js'
import { agentLogEntry, pushBody } from '../../src/local-platform/loki-push.js'
import { prometheusConfig } from '../../src/local-platform/prometheus.js'
import { runPromtool, skipWithoutPromtool } from '../helpers/promtool.js'
import { tempDir } from '../helpers/temp.js'

/** The samples of a text exposition, by series (name{labels}). */
function samples(text: string): Map<string, number> {
  return new Map(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
  )
}

const agent = (state: AgentSpec['state']): AgentSpec => ({ id: 'agent-004', state, port: 9100 })

describe('generated agents', () => {
  it('are given the states asked for, the rest healthy, and no more than there are', () => {
    expect(agentStates(4, { down: 1, failing: 2 })).toEqual(['failing', 'failing', 'down', 'healthy'])
    expect(() => agentStates(2, { down: 3 })).toThrow('the states ask for 3 agents, but there are 2')
  })

  it.skipIf(skipWithoutPromtool)("export the guide's metric names, in a format promtool accepts", async () => {
    for (const state of AGENT_STATES) {
      const text = agentMetricsText(agent(state), 30)
      const check = await runPromtool(['check', 'metrics'], text)
      expect(check.exitCode, `${state}: ${check.output}`).toBe(0)
      const names = new Set([...samples(text).keys()].map((series) => series.split('{')[0]))
      for (const name of [
        'agent_connection_status',
        'agent_heartbeats_total',
        'agent_cpu_usage_percent',
        'agent_memory_usage_bytes',
        'agent_disk_usage_bytes',
        'agent_tasks_total',
        'agent_task_duration_seconds_bucket',
        'agent_task_duration_seconds_count',
      ])
        expect(names, `${state}: ${name}`).toContain(name)
    }
  })

  it('grow their counters at fixed rates, and a disconnected or stale one stops its heartbeats', () => {
    const heartbeats = (state: AgentSpec['state']) =>
      samples(agentMetricsText(agent(state), 60)).get('agent_heartbeats_total')! - samples(agentMetricsText(agent(state), 0)).get('agent_heartbeats_total')!
    expect(heartbeats('healthy')).toBe(60)
    expect(heartbeats('stale')).toBe(0)
    expect(heartbeats('disconnected')).toBe(0)
    expect(samples(agentMetricsText(agent('disconnected'), 10)).get('agent_connection_status')).toBe(0)
  })

  it("fail more than the guide's 10 % of tasks only when failing, and keep each histogram whole", () => {
    const share = (state: AgentSpec['state']) => {
      const [before, after] = [0, 100].map((t) => samples(agentMetricsText(agent(state), t)))
      const grown = (series: string) => after!.get(series)! - before!.get(series)!
      const errors = grown('agent_tasks_total{protocol="http",status="error"}')
      return errors / (errors + grown('agent_tasks_total{protocol="http",status="success"}'))
    }
    expect(share('failing')).toBeGreaterThan(0.1)
    expect(share('healthy')).toBeLessThan(0.05)
    const metrics = samples(agentMetricsText(agent('overloaded-cpu'), 10))
    const buckets = [...metrics.entries()].filter(([series]) => series.startsWith('agent_task_duration_seconds_bucket{protocol="https"'))
    const counts = buckets.map(([, value]) => value)
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(counts.at(-1)).toBe(metrics.get('agent_task_duration_seconds_count{protocol="https"}'))
    expect(metrics.get('agent_cpu_usage_percent')).toBeGreaterThan(80)
  })

  it('log ERROR lines when failing, disconnected or down, and never when healthy', () => {
    const levels = (state: AgentSpec['state']) => new Set([0, 1, 2].flatMap((tick) => agentLogLines(agent(state), tick, 5).map((l) => l.level)))
    for (const state of ['failing', 'disconnected', 'down'] as const) expect(levels(state), state).toContain('ERROR')
    expect(levels('healthy')).toEqual(new Set(['INFO']))
  })
})

describe('Loki', () => {
  it("pushes a stream per label set, each line the JSON the guide's Promtail pipeline reads", () => {
    const time = new Date('2026-01-02T03:04:05.006Z')
    const body = JSON.parse(
      pushBody([
        agentLogEntry('agent-001', 'ERROR', 'boom', time),
        agentLogEntry('agent-001', 'INFO', 'ok', time),
        agentLogEntry('agent-001', 'ERROR', 'again', time),
      ]),
    ) as { streams: Array<{ stream: Record<string, string>; values: Array<[string, string]> }> }
    expect(body.streams.map((s) => s.stream)).toEqual([
      { job: 'agents', level: 'ERROR', agent_id: 'agent-001' },
      { job: 'agents', level: 'INFO', agent_id: 'agent-001' },
    ])
    const [first, second] = body.streams[0]!.values
    expect(BigInt(second![0]) > BigInt(first![0])).toBe(true)
    expect(JSON.parse(first![1])).toEqual({ timestamp: '2026-01-02T03:04:05.006Z', level: 'ERROR', message: 'boom', agent_id: 'agent-001' })
  })

  it('runs as one process on 127.0.0.1, with the frontend address its queries need', () => {
    const config = load(lokiConfig({ port: 3100, grpcPort: 9096, dir: '/tmp/loki' })) as Record<string, Record<string, unknown>>
    expect(config.frontend).toEqual({ address: '127.0.0.1' })
    expect(config.server).toMatchObject({ http_listen_address: '127.0.0.1', http_listen_port: 3100, grpc_listen_port: 9096 })
    expect(config.common).toMatchObject({ path_prefix: '/tmp/loki/data', ring: { kvstore: { store: 'inmemory' } } })
  })
})

describe('Prometheus configuration', () => {
  it.skipIf(skipWithoutPromtool)("labels each agent's target with its agent_id, loads the guide's rules, and passes promtool", async () => {
    const dir = tempDir('prometheus-config')
    mkdirSync(join(dir, 'rules'))
    writeFileSync(join(dir, 'rules', 'network-probe.yml'), GUIDE_ALERT_RULES)
    const text = prometheusConfig({
      jobs: [
        { name: 'agents', targets: ['agent-001', 'agent-002'].map((id, i) => ({ address: `127.0.0.1:${9101 + i}`, labels: { agent_id: id } })) },
        { name: 'node-exporter', targets: [{ address: '127.0.0.1:9100' }] },
      ],
      intervalSeconds: 5,
      ruleFiles: [join(dir, 'rules', '*.yml')],
      alertmanagers: ['http://127.0.0.1:9093'],
    })
    const config = load(text) as { scrape_configs: Array<{ job_name: string; static_configs: unknown[] }> }
    expect(config.scrape_configs[0]).toEqual({
      job_name: 'agents',
      static_configs: [
        { targets: ['127.0.0.1:9101'], labels: { agent_id: 'agent-001' } },
        { targets: ['127.0.0.1:9102'], labels: { agent_id: 'agent-002' } },
      ],
    })
    writeFileSync(join(dir, 'prometheus.yml'), text)
    const check = await runPromtool(['check', 'config', join(dir, 'prometheus.yml')])
    expect(check.exitCode, check.output).toBe(0)
    expect(check.output).toContain('SUCCESS: 10 rules found')
  })
})
