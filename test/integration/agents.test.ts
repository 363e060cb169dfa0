/**
 * probe-ops agents and diagnose's agents, monitoring and log steps against the bed's real
 * monitoring: Prometheus (the guide's rules) scraping generated agents in every state and the
 * node/postgres/redis exporters, Loki holding the agents' logs, the bed's AlertManager and a
 * platform database with an agents table. Faults: Prometheus and Loki refusing, or hung.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AgentData, FleetData } from '../../src/jobs/agents/data.js'
import type { MonitoringData } from '../../src/jobs/diagnose/data.js'
import type { Report, StepResult } from '../../src/report/model.js'
import {
  bed,
  bedEnv,
  lokiQuery,
  startHangingServer,
  startMonitoring,
  startRefusedPort,
  waitForPrometheusData,
  waitForScrapes,
  type HangingServer,
  type MonitoringServer,
} from '../bed/index.js'
import { waitUntil } from '../bed/process.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { createPlatformDatabase, databaseName, dropDatabase } from '../helpers/platform-db.js'

/** One agent in each state that is not healthy (agent-001 disconnected ... agent-007 down), and one healthy. */
const STATES = { disconnected: 1, stale: 1, failing: 1, 'overloaded-cpu': 1, 'overloaded-memory': 1, 'overloaded-disk': 1, down: 1 } as const
const EXPECTED: Record<string, AgentData['verdict']> = {
  'agent-001': 'disconnected',
  'agent-002': 'stale',
  'agent-003': 'failing',
  'agent-004': 'overloaded',
  'agent-005': 'overloaded',
  'agent-006': 'overloaded',
  'agent-007': 'down',
  'agent-008': 'healthy',
}
/** Rates over a window the young Prometheus has data for. */
const WINDOW = '10s'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id} in ${JSON.stringify(report.steps.map((s) => s.id))}`)
  return found
}

const fleetOf = (report: Report, id = 'fleet') => step(report, id).data as FleetData
const byId = (fleet: FleetData) => new Map(fleet.agents.map((a) => [a.id, a]))

describe('agents and the monitoring stack, against real Prometheus, Loki and AlertManager', () => {
  let monitoring: MonitoringServer
  let database: string
  let env: Record<string, string>
  const hung: HangingServer[] = []
  const prometheusUrl = () => monitoring.info.prometheus!.url
  const lokiUrl = () => monitoring.info.loki!.url
  const config = (settings: Record<string, unknown> = {}) =>
    writeConfig({ prometheus: { url: prometheusUrl() }, loki: { url: lokiUrl() }, agents: { databaseQuery: '' }, ...settings }).path

  beforeAll(async () => {
    const info = bed()
    env = bedEnv(info)
    ;[monitoring, database] = await Promise.all([
      startMonitoring({
        agents: 8,
        states: STATES,
        loki: true,
        exporters: { node: true, postgres: info.postgres, redis: info.redis },
        alertmanagerUrl: info.alertmanager.url,
      }),
      // agent-001 ... agent-005 in the agents table, agent-005 offline.
      createPlatformDatabase(databaseName('agents'), { days: 1, rowsPerDay: 10 }),
    ])
    await waitForScrapes(prometheusUrl())
    const failing = 'sum by (agent_id) (increase(agent_tasks_total{status="error"}[10s])) / sum by (agent_id) (increase(agent_tasks_total[10s])) > 0.10'
    await waitForPrometheusData(monitoring.info.prometheus!, [failing, 'rate(agent_heartbeats_total[5s])', 'pg_up', 'redis_up'])
    await waitUntil(
      'the failing agent to have pushed its errors to Loki',
      async () => (await lokiQuery(lokiUrl(), '{job="agents", agent_id="agent-003", level="ERROR"}')).length > 0,
      {
        timeoutMs: 30_000,
        intervalMs: 500,
      },
    )
  }, 180_000)

  afterAll(async () => {
    for (const server of hung) await server.close()
    await monitoring?.stop()
    if (database) await dropDatabase(database)
  })

  it('lists every agent Prometheus scrapes with its verdict and reason, the down one with its scrape error', async () => {
    const result = await runCli(['agents', '--config', config(), '--json', '--window', WINDOW], env)
    const report = parseReport(result)
    expect(result.exitCode, result.stderr).toBe(1)
    const fleet = fleetOf(report)
    expect(Object.fromEntries(fleet.agents.map((a) => [a.id, a.verdict]))).toEqual(EXPECTED)
    const agents = byId(fleet)
    expect(agents.get('agent-007')).toMatchObject({ scrape: 'down', scrapeError: expect.stringMatching(/connection refused/) as unknown })
    expect(agents.get('agent-001')).toMatchObject({ connected: false, reasons: [expect.stringMatching(/agent_connection_status 0/)] })
    expect(agents.get('agent-002')!.reasons[0]).toBe('no heartbeat in the last 10s')
    expect(agents.get('agent-003')!.failureRate).toBeGreaterThan(0.1)
    expect(agents.get('agent-003')!.protocols.map((p) => p.protocol)).toEqual(['dns', 'http', 'https', 'icmp', 'tcp', 'udp'])
    expect(agents.get('agent-004')!.reasons).toEqual([expect.stringMatching(/^CPU 9\d % \(above 80 %\)$/)])
    expect(agents.get('agent-005')!.reasons).toEqual(['memory 93 % (above 85 %)'])
    expect(agents.get('agent-006')!.reasons).toEqual(['disk 95 % (above 90 %)'])
    expect(agents.get('agent-008')).toMatchObject({ connected: true, reasons: [] })
    expect(agents.get('agent-008')!.heartbeatAgeSeconds).toBeLessThan(10)
    expect(agents.get('agent-008')!.tasksPerSecond).toBeGreaterThan(0)
    expect(step(report, 'fleet').findings!.map((f) => f.id)).toEqual(
      expect.arrayContaining(['agents-down', 'agents-disconnected', 'agents-stale', 'agents-failing', 'agents-overloaded']),
    )
    expect(step(report, 'logs')).toMatchObject({ status: 'skipped' })

    const text = await runCli(['agents', '--config', config(), '--window', WINDOW], env)
    expect(text.stdout).toMatch(/AGENT\s+STATE\s+HEARTBEAT\s+TASKS\/S\s+FAILED\s+CPU\s+MEM\s+DISK\s+VERDICT/)
    expect(text.stdout).toMatch(/agent-007\s+down\s.*connection refused/)
  })

  it('--agent shows one agent, its tasks by protocol and its recent errors through Loki', async () => {
    const report = parseReport(await runCli(['agents', '--config', config(), '--json', '--agent', 'agent-003', '--window', '1m'], env))
    const fleet = fleetOf(report)
    expect(fleet.agents.map((a) => [a.id, a.verdict])).toEqual([['agent-003', 'failing']])
    expect(step(report, 'fleet').findings![0]!.id).toBe('agent-failing:agent-003')
    const logs = step(report, 'logs')
    expect(logs.status).toBe('warning')
    expect(logs.data).toMatchObject({ agent: 'agent-003', errors: expect.any(Number) as unknown })
    expect((logs.data as { errors: number }).errors).toBeGreaterThan(0)
    expect(JSON.stringify(logs.data)).toContain('connection timed out after 5000 ms')
    expect(JSON.stringify(logs.data)).not.toContain('agent-001')

    const unknown = parseReport(await runCli(['agents', '--config', config(), '--json', '--agent', 'agent-999'], env))
    expect(step(unknown, 'fleet')).toMatchObject({ status: 'failed', findings: [{ id: 'agent-unknown:agent-999', severity: 'high' }] })
  })

  it('reads the agents table too, and shows where it and Prometheus disagree; alone, the table is the source', async () => {
    const both = parseReport(await runCli(['agents', '--config', config({ postgres: { database }, agents: {} }), '--json', '--window', WINDOW], env))
    const agents = byId(fleetOf(both))
    expect(fleetOf(both).sources).toMatchObject({ prometheus: { read: true }, database: { read: true } })
    expect(agents.get('agent-001')!.reasons).toContain('online in the agents table, but not connected in Prometheus')
    expect(agents.get('agent-005')).toMatchObject({ verdict: 'overloaded', database: { status: 'offline' } })
    expect(agents.get('agent-005')!.reasons).toContain('offline in the agents table, but connected in Prometheus')
    expect(agents.get('agent-008')).toMatchObject({ verdict: 'disagreement', reasons: ['scraped by Prometheus, but not in the agents table'] })

    const alone = parseReport(
      await runCli(['agents', '--config', config({ prometheus: { url: '' }, postgres: { database }, agents: { heartbeatStale: '1h' } }), '--json'], env),
    )
    expect(Object.fromEntries(fleetOf(alone).agents.map((a) => [a.id, a.verdict]))).toEqual({
      'agent-005': 'disconnected',
      'agent-001': 'healthy',
      'agent-002': 'healthy',
      'agent-003': 'healthy',
      'agent-004': 'healthy',
    })
  })

  it("diagnose checks the monitoring stack, lists the agents in trouble and reads every host's errors through Loki", async () => {
    const result = await runCli(['diagnose', '--config', config(), '--json', '--only', 'monitoring,agents,logs', '--since', '5m'], env)
    const report = parseReport(result)
    const monitoringStep = step(report, 'monitoring')
    const data = monitoringStep.data as MonitoringData
    expect(data.prometheus).toMatchObject({ ready: true, ruleGroups: 3, rules: 10, failingRules: [] })
    expect(data.prometheus.exporters).toEqual([
      { name: 'node', job: 'node-exporter', state: 'up' },
      { name: 'postgres', job: 'postgres-exporter', state: 'up', reaches: true },
      { name: 'redis', job: 'redis-exporter', state: 'up', reaches: true },
    ])
    expect(data.prometheus.downTargets).toEqual([
      { job: 'agents', instance: expect.any(String) as unknown, error: expect.stringMatching(/connection refused/) as unknown },
    ])
    expect(data.alertmanager).toMatchObject({ ready: true, receivers: [{ name: 'null', integrations: [] }] })
    expect(data.loki).toMatchObject({ ready: true })
    // The agent that is down, and the bed's AlertManager that notifies nobody: each named with what to fix.
    expect(monitoringStep.findings!.map((f) => f.id).sort()).toEqual(['alertmanager-no-receivers', 'scrape-targets-down:agents'])
    for (const finding of monitoringStep.findings!) expect(finding.fix).toBeTruthy()

    const agents = step(report, 'agents')
    expect(agents.status).toBe('failed')
    expect((agents.data as FleetData).agents).toHaveLength(8)
    expect(agents.details!.join('\n')).not.toMatch(/^agent-008/m)

    const logs = step(report, 'logs')
    expect(logs.status).toBe('warning')
    const sources = (logs.data as { services: { service: string; read: boolean; errors: number }[] }).services
    expect(sources).toEqual([expect.objectContaining({ service: 'agents', read: true })])
    expect(sources[0]!.errors).toBeGreaterThan(0)
  })

  it('Prometheus refused or hung: a failed step naming it, bounded, never an empty fleet', async () => {
    const refused = await startRefusedPort()
    const down = await runCli(['agents', '--config', config({ prometheus: { url: `http://127.0.0.1:${refused}` } }), '--json'], env)
    expect(down.exitCode).toBe(1)
    const fleet = step(parseReport(down), 'fleet')
    expect(fleet).toMatchObject({ status: 'failed', error: { message: `Prometheus refused the connection at http://127.0.0.1:${refused}` } })
    expect(fleet.error!.hint).toMatch(/start it/)
    expect(fleet.summary).not.toMatch(/0 agents/)
    // A configured Prometheus that refuses fails diagnose's steps too: never "ok", never skipped.
    const refusedDiagnose = parseReport(
      await runCli(['diagnose', '--config', config({ prometheus: { url: `http://127.0.0.1:${refused}` } }), '--json', '--only', 'monitoring,agents'], env),
    )
    for (const id of ['monitoring', 'agents']) expect(step(refusedDiagnose, id).status, id).toBe('failed')

    const server = await startHangingServer()
    hung.push(server)
    const hanging = await runCli(['agents', '--config', config({ prometheus: { url: server.url, timeoutSeconds: 1 } }), '--json'], env)
    expect(hanging.exitCode).toBe(1)
    expect(step(parseReport(hanging), 'fleet')).toMatchObject({
      status: 'failed',
      error: { message: `Prometheus at ${server.url} did not answer within 1 s` },
    })

    // The table still answers: its agents are listed, and Prometheus not being read is the red line.
    const withTable = parseReport(
      await runCli(['agents', '--config', config({ prometheus: { url: `http://127.0.0.1:${refused}` }, postgres: { database }, agents: {} }), '--json'], env),
    )
    const partial = step(withTable, 'fleet')
    expect(partial.status).toBe('failed')
    expect(partial.findings!.find((f) => f.id === 'agents-source-unread:prometheus')).toMatchObject({ severity: 'high', subject: 'prometheus' })
    expect((partial.data as FleetData).agents).toHaveLength(5)

    const diagnose = parseReport(
      await runCli(
        [
          'diagnose',
          '--config',
          config({ prometheus: { url: server.url, timeoutSeconds: 1 } }),
          '--json',
          '--only',
          'monitoring,agents',
          '--check-timeout',
          '1',
        ],
        env,
      ),
    )
    expect(step(diagnose, 'agents').status).toBe('failed')
    expect(step(diagnose, 'monitoring').status).toBe('failed')
    expect(step(diagnose, 'monitoring').findings!.find((f) => f.id === 'prometheus-not-ready')).toMatchObject({
      severity: 'high',
      message: expect.stringMatching(/no answer within 1000 ms/) as unknown,
    })
  })

  it('Loki refused or hung: the log step and the monitoring step fail naming it, bounded', async () => {
    const refused = await startRefusedPort()
    const server = await startHangingServer()
    hung.push(server)
    for (const [url, message] of [
      [`http://127.0.0.1:${refused}`, `Loki refused the connection at http://127.0.0.1:${refused}`],
      [server.url, `Loki at ${server.url} did not answer within 1 s`],
    ] as const) {
      const result = await runCli(
        ['diagnose', '--config', config({ loki: { url, timeoutSeconds: 1 } }), '--json', '--only', 'logs,monitoring', '--check-timeout', '1'],
        env,
      )
      expect(result.exitCode).toBe(1)
      const report = parseReport(result)
      expect(step(report, 'logs')).toMatchObject({ status: 'failed', error: { message: `logs not read: ${message}` } })
      expect(step(report, 'logs').error!.hint).toBeTruthy()
      const monitoringStep = step(report, 'monitoring')
      expect(monitoringStep.status).toBe('failed')
      expect(monitoringStep.findings!.find((f) => f.id === 'loki-unreachable')).toMatchObject({ severity: 'high', message })

      const agent = parseReport(await runCli(['agents', '--config', config({ loki: { url, timeoutSeconds: 1 } }), '--json', '--agent', 'agent-003'], env))
      expect(step(agent, 'logs')).toMatchObject({ status: 'failed', error: { message } })
    }
  })
})
