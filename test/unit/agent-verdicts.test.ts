import { describe, expect, it } from 'vitest'
import { fleetFindings, fleetTable } from '../../src/jobs/agents/fleet.js'
import { fleetQueries } from '../../src/jobs/agents/sources.js'
import { jobScrapeSeconds } from '../../src/systems/prometheus.js'
import { judgeAgent, type AgentLimits, type ScrapedAgent } from '../../src/jobs/agents/verdicts.js'

const limits: AgentLimits = { windowMs: 300_000, heartbeatStaleMs: 120_000, cpuPercent: 80, memoryPercent: 85, diskPercent: 90, failurePercent: 10 }
const both = { prometheus: true, database: true }
const prometheusOnly = { prometheus: true, database: false }
const databaseOnly = { prometheus: false, database: true }

function scraped(over: Partial<ScrapedAgent> = {}): ScrapedAgent {
  return {
    instance: '10.0.0.1:9090',
    health: 'up',
    lastError: '',
    connected: true,
    heartbeatSeries: true,
    heartbeatAgeSeconds: 3,
    protocols: [
      { protocol: 'http', total: 600, failed: 12 },
      { protocol: 'dns', total: 600, failed: 0 },
    ],
    cpuPercent: 30,
    memoryPercent: 40,
    diskPercent: 50,
    ...over,
  }
}

const judge = (agent: Partial<ScrapedAgent>, read = prometheusOnly) => judgeAgent({ id: 'agent-001', scraped: scraped(agent) }, limits, read)

describe('an agent’s verdict (Prometheus)', () => {
  it('is healthy within every threshold, with no reason', () => {
    expect(judge({})).toEqual({ verdict: 'healthy', reasons: [] })
  })

  it('is not stale on its first sample: one sample cannot show the heartbeat counter growing', () => {
    expect(judge({ heartbeatAgeSeconds: null, heartbeatSamples: 1, protocols: [] })).toEqual({
      verdict: 'no-data',
      reasons: [{ verdict: 'no-data', text: 'scraped once so far: heartbeats and tasks are judged after its next scrape' }],
    })
    expect(judge({ heartbeatAgeSeconds: null, heartbeatSamples: 1, cpuPercent: 99 }).verdict).toBe('overloaded')
    expect(judge({ heartbeatAgeSeconds: null, heartbeatSamples: 2 }).verdict).toBe('stale')
  })

  it('is down when its target does not answer scrapes, with the scrape error, whatever else', () => {
    const down = judge({ health: 'down', lastError: 'connection refused', connected: undefined, heartbeatSeries: false, protocols: [] })
    expect(down.verdict).toBe('down')
    expect(down.reasons[0]!.text).toContain('connection refused')
  })

  it('is no-data when the target answers without agent metrics, or was not scraped yet', () => {
    expect(
      judge({ connected: undefined, heartbeatSeries: false, protocols: [], cpuPercent: undefined, memoryPercent: undefined, diskPercent: undefined }).verdict,
    ).toBe('no-data')
    expect(judge({ health: 'unknown' }).reasons[0]!.text).toBe('not scraped yet')
  })

  it('is disconnected on agent_connection_status 0, without a second stale reason', () => {
    const result = judge({ connected: false, heartbeatAgeSeconds: null })
    expect(result.verdict).toBe('disconnected')
    expect(result.reasons.map((r) => r.verdict)).toEqual(['disconnected'])
  })

  it('is stale with no heartbeat in the window, or the last one older than heartbeatStale', () => {
    expect(judge({ heartbeatAgeSeconds: null })).toMatchObject({ verdict: 'stale', reasons: [{ text: 'no heartbeat in the last 5m' }] })
    expect(judge({ heartbeatAgeSeconds: 180 }).reasons[0]!.text).toBe('last heartbeat 3m ago (stale after 2m)')
    expect(judge({ heartbeatAgeSeconds: 100 }).verdict).toBe('healthy')
  })

  it('is failing above the guide’s 10 % of failed tasks, naming the worst protocol; exactly 10 % is not', () => {
    const failing = judge({
      protocols: [
        { protocol: 'tcp', total: 100, failed: 30 },
        { protocol: 'udp', total: 100, failed: 0 },
      ],
    })
    expect(failing.verdict).toBe('failing')
    expect(failing.reasons[0]!.text).toBe('15 % of tasks failed over 5m (above 10 %; worst tcp 30 %)')
    expect(judge({ protocols: [{ protocol: 'tcp', total: 100, failed: 10 }] }).verdict).toBe('healthy')
    expect(judge({ protocols: [] }).verdict).toBe('healthy')
  })

  it('is overloaded above the guide’s CPU 80 %, memory 85 %, disk 90 %, one reason each', () => {
    expect(judge({ cpuPercent: 96 }).reasons.map((r) => r.text)).toEqual(['CPU 96 % (above 80 %)'])
    expect(judge({ memoryPercent: 93 }).reasons.map((r) => r.text)).toEqual(['memory 93 % (above 85 %)'])
    expect(judge({ diskPercent: 95, cpuPercent: 81 }).reasons.map((r) => r.text)).toEqual(['CPU 81 % (above 80 %)', 'disk 95 % (above 90 %)'])
    expect(judge({ cpuPercent: 80, memoryPercent: 85, diskPercent: 90 }).verdict).toBe('healthy')
  })

  it('takes the worst of several reasons as its verdict, listing every one worst first', () => {
    const result = judge({ heartbeatAgeSeconds: null, cpuPercent: 99, protocols: [{ protocol: 'http', total: 10, failed: 5 }] })
    expect(result.verdict).toBe('stale')
    expect(result.reasons.map((r) => r.verdict)).toEqual(['stale', 'failing', 'overloaded'])
  })
})

describe('an agent’s verdict (the agents table, and both sources)', () => {
  const recorded = (status: string, heartbeatAgeSeconds: number | null) => ({ status, heartbeatAgeSeconds })

  it('without Prometheus: offline is disconnected, an old or missing heartbeat stale, maintenance its own', () => {
    expect(judgeAgent({ id: 'a', recorded: recorded('online', 5) }, limits, databaseOnly).verdict).toBe('healthy')
    expect(judgeAgent({ id: 'a', recorded: recorded('offline', 10_800) }, limits, databaseOnly)).toMatchObject({
      verdict: 'disconnected',
      reasons: [{ text: 'status offline in the agents table' }],
    })
    expect(judgeAgent({ id: 'a', recorded: recorded('online', 600) }, limits, databaseOnly).reasons[0]!.text).toBe(
      'last heartbeat 10m ago (stale after 2m) (agents table)',
    )
    expect(judgeAgent({ id: 'a', recorded: recorded('online', null) }, limits, databaseOnly).verdict).toBe('stale')
    expect(judgeAgent({ id: 'a', recorded: recorded('maintenance', null) }, limits, databaseOnly).verdict).toBe('maintenance')
  })

  it('with both: disagreements are reasons of their own, beside what Prometheus says', () => {
    const onlineButDown = judgeAgent({ id: 'a', scraped: scraped({ health: 'down', lastError: 'refused' }), recorded: recorded('online', 3) }, limits, both)
    expect(onlineButDown.verdict).toBe('down')
    expect(onlineButDown.reasons.map((r) => r.text)).toContain('online in the agents table, but down in Prometheus')
    const offlineButConnected = judgeAgent({ id: 'a', scraped: scraped(), recorded: recorded('offline', 10_800) }, limits, both)
    expect(offlineButConnected).toMatchObject({ verdict: 'disagreement', reasons: [{ text: 'offline in the agents table, but connected in Prometheus' }] })
    expect(judgeAgent({ id: 'a', recorded: recorded('online', 1) }, limits, both).reasons[0]!.text).toBe(
      'in the agents table, but not a scrape target of Prometheus',
    )
    expect(judgeAgent({ id: 'a', scraped: scraped() }, limits, both).reasons[0]!.text).toBe('scraped by Prometheus, but not in the agents table')
    expect(judgeAgent({ id: 'a', scraped: scraped(), recorded: recorded('online', 1) }, limits, both).verdict).toBe('healthy')
  })
})

describe('the fleet’s findings and table', () => {
  const agent = (id: string, verdict: 'down' | 'stale' | 'healthy', reason?: string) => ({
    id,
    verdict,
    reasons: reason ? [reason] : [],
    instance: `${id}:9090`,
    connected: verdict === 'down' ? null : true,
    heartbeatAgeSeconds: verdict === 'stale' ? null : 2,
    tasksPerSecond: null,
    failureRate: null,
    protocols: [],
    cpuPercent: null,
    memoryPercent: null,
    diskPercent: null,
  })

  it('is one finding per verdict naming its agents (the first ten), rated by how bad it is', () => {
    const agents = [
      ...Array.from({ length: 12 }, (_, i) => agent(`d${i}`, 'down', 'refused')),
      agent('s', 'stale', 'no heartbeat in the last 5m'),
      agent('h', 'healthy'),
    ]
    const findings = fleetFindings(agents, false)
    expect(findings.map((f) => [f.id, f.severity])).toEqual([
      ['agents-down', 'high'],
      ['agents-stale', 'medium'],
    ])
    expect(findings[0]!.message).toMatch(/^12 agents down: d0 \(refused\); .*d9 \(refused\), and 2 more$/)
    expect(findings[0]!.fix).toContain('curl http://d0:9090/metrics')
    expect(fleetFindings([agent('s', 'stale', 'x')], true)[0]!.id).toBe('agent-stale:s')
  })

  it('is a table with one line per agent, its verdict and reasons last', () => {
    const [header, down, stale] = fleetTable([agent('a1', 'down', 'refused'), agent('a2', 'stale', 'no heartbeat')], 300_000)
    expect(header).toMatch(/^AGENT\s+STATE\s+HEARTBEAT\s+TASKS\/S\s+FAILED\s+CPU\s+MEM\s+DISK\s+VERDICT$/)
    expect(down).toMatch(/^a1\s+-\s+.*down: refused$/)
    expect(stale).toMatch(/^a2\s+connected\s+none in 5m\s+.*stale: no heartbeat$/)
  })
})

describe('the fleet’s queries', () => {
  it('are seven aggregate queries over the job’s selector, never one per agent', () => {
    const queries = fleetQueries('{job="agents"}', 300_000, 15)
    expect(Object.keys(queries)).toHaveLength(7)
    for (const query of Object.values(queries)) expect(query).toContain('{job="agents"}')
    expect(queries.tasks).toBe('sum by (instance, protocol, status) (increase(agent_tasks_total{job="agents"}[5m]))')
    // A counter's change needs two scrapes: the range covers 2.5 intervals; the subquery steps a scrape interval at least.
    expect(queries.heartbeatAge).toContain('changes(agent_heartbeats_total{job="agents"}[38s]) > 0)[5m:15s]')
  })

  it("take the job's scrape interval from Prometheus's configuration: its own, else global's, else 1m", () => {
    const config = { global: { scrape_interval: '30s' }, scrape_configs: [{ job_name: 'agents', scrape_interval: '1m30s' }, { job_name: 'node' }] }
    expect(jobScrapeSeconds(config, 'agents')).toBe(90)
    expect(jobScrapeSeconds(config, 'node')).toBe(30)
    expect(jobScrapeSeconds({ scrape_configs: [{ job_name: 'agents' }] }, 'agents')).toBe(60)
    expect(jobScrapeSeconds(null, 'agents')).toBe(60)
  })
})
