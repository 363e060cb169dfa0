import { describe, expect, it } from 'vitest'
import { nestedOutcome } from '../../src/jobs/maintain-weekly/performance.js'
import { agentStatuses, describeAgents } from '../../src/jobs/performance-report/agents.js'
import type { AgentState, AgentStatus, TableStatistics } from '../../src/jobs/performance-report/data.js'
import {
  agentFindings,
  CACHE_HIT_WARNING,
  CACHE_MIN_BLOCKS,
  cacheFindings,
  connectionFindings,
  platformFindings,
  tableFindings,
  type PlatformFigures,
} from '../../src/jobs/performance-report/findings.js'
import type { Report, StepResult } from '../../src/report/model.js'
import type { Sample } from '../../src/systems/prometheus.js'
import { resultOf } from '../../src/report/step-result.js'

const ids = (findings: { id: string; severity: string }[]) => findings.map((f) => `${f.id}:${f.severity}`)

describe('performance thresholds', () => {
  it('warns on a cache hit ratio below 95%, once enough blocks were read to tell', () => {
    expect(cacheFindings(0.9, CACHE_MIN_BLOCKS)).toEqual([
      expect.objectContaining({ id: 'cache-hit-ratio', severity: 'medium', message: 'cache hit ratio 90.00% is below 95%' }),
    ])
    expect(cacheFindings(CACHE_HIT_WARNING, 1_000_000)).toEqual([])
    expect(cacheFindings(0.5, CACHE_MIN_BLOCKS - 1)).toEqual([])
    expect(cacheFindings(null, 0)).toEqual([])
  })

  it('warns from 80% of the usable connections in use', () => {
    expect(connectionFindings(79, 100)).toEqual([])
    expect(ids(connectionFindings(80, 100))).toEqual(['connections-used:medium'])
  })

  function table(name: string, figures: Partial<TableStatistics>): TableStatistics {
    return {
      table: name,
      seqScans: 0,
      seqRowsRead: 0,
      rowsPerSeqScan: 0,
      indexScans: null,
      liveTuples: 0,
      deadTuples: 0,
      deadRatio: 0,
      lastVacuum: null,
      lastAnalyze: null,
      ...figures,
    }
  }

  it('flags tables scanned often and in full, and tables mostly of dead tuples', () => {
    const scans = [
      table('task_results', { seqScans: 100, rowsPerSeqScan: 100_000 }),
      table('often_small', { seqScans: 10_000, rowsPerSeqScan: 99_999 }),
      table('rare_large', { seqScans: 99, rowsPerSeqScan: 10_000_000 }),
    ]
    const dead = [
      table('bloated', { deadTuples: 10_000, liveTuples: 9_999 }),
      table('few', { deadTuples: 9_999, liveTuples: 0 }),
      table('busy', { deadTuples: 50_000, liveTuples: 50_000 }),
    ]
    expect(ids(tableFindings(scans, dead))).toEqual(['seq-scans:task_results:medium', 'dead-tuples:bloated:medium'])
    expect(tableFindings(scans, dead)[0]!.message).toBe('task_results: 100 sequential scans reading 100,000 rows each')
  })

  const platform = (figures: Partial<PlatformFigures>): PlatformFigures => ({
    url: 'http://prometheus:9090',
    protocols: [],
    p95Seconds: null,
    agents: [],
    missing: [],
    ...figures,
  })
  const status = (agent: string, state: AgentState): AgentStatus => ({ agent, connected: state === 'connected', state })
  const protocol = (name: string, failureRate: number) => ({ protocol: name, perSecond: 10, perMinute: 600, failedPerSecond: 10 * failureRate, failureRate })

  it("rates the platform by the guide's alert rules: failure rate over 10%, p95 over 2 s, any agent disconnected", () => {
    expect(platformFindings(platform({ protocols: [protocol('http', 0.1), protocol('icmp', 0.25)] }))).toEqual([
      expect.objectContaining({ id: 'task-failure-rate:icmp', severity: 'medium', message: "icmp tasks fail at 25.0% (guide's TaskFailureRateHigh: 10%)" }),
    ])
    expect(platformFindings(platform({ p95Seconds: 2 }))).toEqual([])
    expect(platformFindings(platform({ p95Seconds: 2.5 }))).toEqual([
      expect.objectContaining({ id: 'http-p95-latency', message: "HTTP p95 latency 2.50 s (guide's HighResponseTime: 2 s)" }),
    ])
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'].map((agent, i) => status(agent, i === 0 ? 'connected' : 'disconnected'))
    expect(platformFindings(platform({ agents }))).toEqual([
      expect.objectContaining({ id: 'agents-disconnected', message: '6 of 7 agents disconnected: a2, a3, a4, a5, a6, ...' }),
    ])
    expect(platformFindings(platform({ agents: [status('a1', 'connected')] }))).toEqual([])
  })

  it('names the agents whose exporter is down with their scrape error, and those without agent_connection_status', () => {
    const agents = [
      status('a1', 'connected'),
      status('a2', 'disconnected'),
      { ...status('a3', 'down'), instance: '10.0.0.3:9100', scrapeError: 'connection refused' },
      { ...status('a4', 'no-data'), instance: '10.0.0.4:9100' },
    ]
    expect(agentFindings(agents)).toEqual([
      expect.objectContaining({ id: 'agents-disconnected', severity: 'medium', message: '1 of 4 agents disconnected: a2' }),
      {
        id: 'agents-down',
        severity: 'medium',
        message: '1 of 4 agents down: a3 (scrape failed: connection refused)',
        fix: "its exporter does not answer: on the agent's host, check the agent service and curl http://10.0.0.3:9100/metrics",
      },
      expect.objectContaining({ id: 'agents-no-data', message: '1 of 4 agents without agent_connection_status: a4' }),
    ])
  })

  it("says so when Prometheus has none of the platform's metrics, and only then", () => {
    expect(ids(platformFindings(platform({ missing: ['tasks_total', 'http_request_duration_seconds', 'agent_connection_status'] })))).toEqual([
      'platform-metrics-missing:medium',
    ])
    expect(platformFindings(platform({ missing: ['tasks_total', 'agent_connection_status'] }))).toEqual([])
  })
})

describe("the performance report's agents", () => {
  const target = (instance: string, health: 'up' | 'down' | 'unknown', connected?: boolean, lastError = '') => ({
    instance,
    health,
    lastError,
    ...(connected === undefined ? {} : { connected }),
  })

  it("lists every target of the agents job, and adds the agents only another job's agent_connection_status names", () => {
    const targets = new Map([
      ['agent-b', target('10.0.0.2:9100', 'down', undefined, 'connection refused')],
      ['agent-a', target('10.0.0.1:9100', 'up', true)],
      ['agent-c', target('10.0.0.3:9100', 'up')],
      ['agent-d', target('10.0.0.4:9100', 'down', undefined)],
    ])
    const others: Sample[] = [
      { labels: { job: 'platform', instance: 'api:8000', agent_id: 'agent-a' }, value: 0 },
      { labels: { job: 'platform', instance: 'api:8000', agent_id: 'agent-e' }, value: 0 },
      { labels: { job: 'platform', instance: 'api:8000', agent: 'agent-f' }, value: 1 },
    ]
    const agents = agentStatuses(targets, others)
    expect(agents).toEqual([
      { agent: 'agent-a', connected: true, state: 'connected', instance: '10.0.0.1:9100' },
      { agent: 'agent-b', connected: false, state: 'down', instance: '10.0.0.2:9100', scrapeError: 'connection refused' },
      { agent: 'agent-c', connected: false, state: 'no-data', instance: '10.0.0.3:9100' },
      { agent: 'agent-d', connected: false, state: 'down', instance: '10.0.0.4:9100', scrapeError: 'no error given' },
      { agent: 'agent-e', connected: false, state: 'disconnected' },
      { agent: 'agent-f', connected: true, state: 'connected' },
    ])
    expect(describeAgents(agents)).toBe('2/6 agents connected, 1 disconnected, 2 down (scrape failed: connection refused), 1 without agent_connection_status')
    expect(describeAgents(agents.slice(0, 1))).toBe('1/1 agent connected')
    expect(describeAgents([])).toBe('no agents')
  })
})

describe("the performance report as maintain weekly's step", () => {
  const step = (id: string, outcome: Parameters<typeof resultOf>[1]): StepResult => resultOf({ id, title: id }, outcome, 5)
  const report = (steps: StepResult[]): Report => ({
    schemaVersion: 1,
    command: 'report performance',
    version: '1.0.0',
    host: 'probe',
    startedAt: '2026-06-01T04:00:00.000Z',
    finishedAt: '2026-06-01T04:00:01.000Z',
    durationMs: 1000,
    status: steps.some((s) => s.status === 'failed') ? 'failed' : steps.some((s) => s.status === 'warning') ? 'warning' : 'ok',
    dryRun: false,
    steps,
    alerts: [],
  })

  it("takes every step's findings and details, and says which step failed without a finding", () => {
    const nested = report([
      step('statements', { summary: 'not installed', skipped: true, findings: [{ id: 'pg-stat-statements-missing', severity: 'info', message: 'm' }] }),
      step('cache', {
        summary: 'database 90%',
        details: ['blocks: 1 hit'],
        findings: [{ id: 'cache-hit-ratio', severity: 'medium', message: 'low', fix: 'raise shared_buffers' }],
      }),
      {
        id: 'tables',
        title: 'tables',
        status: 'failed',
        durationMs: 1,
        summary: 'PostgreSQL refused',
        error: { message: 'PostgreSQL refused', hint: 'start it' },
      },
    ])
    const outcome = nestedOutcome(nested, { savedTo: '/var/lib/probe-ops/reports/performance-2026-06-01.json' })
    expect(outcome.findings).toEqual([
      { id: 'pg-stat-statements-missing', severity: 'info', message: 'm' },
      { id: 'cache-hit-ratio', severity: 'medium', message: 'low', fix: 'raise shared_buffers' },
      { id: 'performance-step-failed:tables', severity: 'high', subject: 'tables', message: 'tables: PostgreSQL refused', fix: 'start it' },
    ])
    expect(outcome.details).toEqual([
      'statements: skipped: not installed',
      'cache: warning: database 90%',
      '  blocks: 1 hit',
      'tables: failed: PostgreSQL refused',
      'saved as /var/lib/probe-ops/reports/performance-2026-06-01.json',
    ])
    expect(outcome.summary).toBe('cache: database 90%; tables: PostgreSQL refused')
    expect(outcome.data).toEqual({ status: 'failed', savedTo: '/var/lib/probe-ops/reports/performance-2026-06-01.json', steps: nested.steps })
    // The runner rates the step by these findings as the report was rated: failed.
    expect(step('performance-report', outcome).status).toBe('failed')
  })

  it('is a warning when the report could not be kept, and skipped only when every step was', () => {
    const measured = report([step('cache', { summary: 'database 99%' })])
    const unsaved = nestedOutcome(measured, { savedTo: null, error: 'could not save it in /r: permission denied' })
    expect(step('performance-report', unsaved)).toMatchObject({
      status: 'warning',
      error: { message: 'could not save it in /r: permission denied', hint: 'make reports.dir writable, or set it to "" to keep no reports' },
    })
    const none = report([step('statements', { summary: 'not installed', skipped: true }), step('prometheus', { summary: 'not configured', skipped: true })])
    expect(nestedOutcome(none, { savedTo: null })).toMatchObject({ skipped: true, summary: 'nothing measured' })
    expect(nestedOutcome(measured, { savedTo: null, note: 'dry run: not saved in /r' }).details).toEqual(['cache: database 99%', 'dry run: not saved in /r'])
  })
})
