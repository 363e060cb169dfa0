import { createServer, request as httpRequest, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { performanceReportStep } from '../../src/jobs/maintain-weekly/performance.js'
import { historyFileName } from '../../src/report/history.js'
import type { Report, StepResult } from '../../src/report/model.js'
import { Interruption } from '../../src/errors.js'
import { startJob, runJob } from '../../src/report/runner.js'
import {
  bed,
  bedEnv,
  startHangingServer,
  startMonitoring,
  startPrometheus,
  startRefusedPort,
  waitForPrometheusData,
  waitForScrapes,
  type MonitoringServer,
  type PrometheusServer,
} from '../bed/index.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { startExporter, type Exporter } from '../helpers/platform-exporter.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

/** The weekly job's performance step, as maintain weekly lists it. */
const nested = { id: 'performance-report', title: 'Performance report', load: async () => performanceReportStep }

/** Tasks per second by protocol: icmp fails a quarter of the time, over the guide's 10%. */
const TASKS = { http: { success: 90, error: 10 }, dns: { success: 40, error: 0 }, icmp: { success: 15, error: 5 } }

describe('probe-ops report performance against real PostgreSQL and Prometheus', () => {
  const databases: string[] = []
  let database: string
  let plain: string
  let exporter: Exporter
  let prometheus: PrometheusServer
  let env: (db: string) => Record<string, string>

  beforeAll(async () => {
    const { postgres } = bed()
    database = await createPlatformDatabase(databaseName('perf'), { days: 30, rowsPerDay: 300 })
    plain = await createPlatformDatabase(databaseName('perf_plain'), { days: 2, rowsPerDay: 50 })
    databases.push(database, plain)
    // The bed's PostgreSQL preloads pg_stat_statements; this database installs it, the other does not.
    await sql(database, 'create extension if not exists pg_stat_statements')
    for (let i = 0; i < 5; i++) await sql(database, `select count(*) from task_results where error_message like '%refused%'`)

    exporter = await startExporter({
      tasks: TASKS,
      http: {
        '/api/v1/health': {
          perSecond: 20,
          buckets: [
            [0.01, 0.9],
            [0.05, 0.1],
          ],
        },
        '/api/v1/results': {
          perSecond: 5,
          buckets: [
            [0.5, 0.5],
            [1, 0.3],
            [2.5, 0.2],
          ],
        },
      },
      agents: { 'agent-001': true, 'agent-002': true, 'agent-003': false },
    })
    prometheus = await startPrometheus({ targets: [exporter.target] })
    // rate() over the 10 s window the tests ask for needs that window full of scrapes.
    await waitForPrometheusData(prometheus.info, ['count_over_time(tasks_total[15s]) >= 11', 'agent_connection_status'], 60_000)
    env = (db) => ({
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password,
      PGDATABASE: db,
      REDIS_URL: bed().redis.url,
    })
  }, 120_000)

  afterAll(async () => {
    await prometheus?.stop()
    await exporter?.close()
    for (const d of databases) await dropDatabase(d)
  })

  function config(dir: string, extra: Record<string, unknown> = {}) {
    return writeConfig({
      host: 'bed',
      reports: { dir: join(dir, 'reports') },
      prometheus: { url: prometheus.info.url },
      performance: { window: '10s', top: 5 },
      ...extra,
    })
  }

  it('reports statements, cache, connections, tables and the platform figures, and saves the report', async () => {
    const dir = tempDir('perf')
    const result = await runCli(['report', 'performance', '--config', config(dir).path, '--json'], env(database))
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(report.command).toBe('report performance')
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['statements', 'ok'],
      ['cache', 'ok'],
      ['connections', 'ok'],
      ['tables', 'ok'],
      ['prometheus', 'warning'],
    ])

    const statements = step(report, 'statements').data as {
      installed: boolean
      byTotalTime: { query: string; calls: number; totalMs: number }[]
      byMeanTime: { meanMs: number }[]
    }
    expect(statements.installed).toBe(true)
    expect(statements.byTotalTime.length).toBeGreaterThan(0)
    expect(statements.byTotalTime.length).toBeLessThanOrEqual(5)
    expect(statements.byTotalTime.map((s) => s.totalMs)).toEqual([...statements.byTotalTime.map((s) => s.totalMs)].sort((a, b) => b - a))
    expect(statements.byMeanTime.map((s) => s.meanMs)).toEqual([...statements.byMeanTime.map((s) => s.meanMs)].sort((a, b) => b - a))
    const ours = await sql<{ calls: string }>(
      database,
      `select calls from pg_stat_statements where query like '%error_message like%' and dbid = (select oid from pg_database where datname = current_database())`,
    )
    expect(Number(ours[0]!.calls)).toBeGreaterThanOrEqual(5)

    const cache = step(report, 'cache').data as { databaseRatio: number; blocksHit: number }
    expect(cache.databaseRatio).toBeGreaterThan(0)
    expect(cache.databaseRatio).toBeLessThanOrEqual(1)
    expect(cache.blocksHit).toBeGreaterThan(0)

    const connections = step(report, 'connections').data as { used: number; maxConnections: number; topHolders: { application: string }[] }
    expect(connections.used).toBeGreaterThanOrEqual(1)
    expect(connections.maxConnections).toBeGreaterThan(connections.used)

    const tables = step(report, 'tables').data as { bySequentialScans: { table: string; seqScans: number }[] }
    expect(tables.bySequentialScans.find((t) => t.table === 'task_results')!.seqScans).toBeGreaterThanOrEqual(5)

    const prom = step(report, 'prometheus')
    const data = prom.data as {
      window: string
      protocols: { protocol: string; perSecond: number; failureRate: number }[]
      httpP95Seconds: number
      slowestEndpoints: { endpoint: string }[]
      agents: { connected: number; total: number }
    }
    expect(data.window).toBe('10s')
    const by = Object.fromEntries(data.protocols.map((p) => [p.protocol, p]))
    expect(Object.keys(by).sort()).toEqual(['dns', 'http', 'icmp'])
    for (const [protocol, rates] of Object.entries(TASKS)) {
      const expected = rates.success + rates.error
      expect(by[protocol]!.perSecond, protocol).toBeGreaterThan(expected * 0.85)
      expect(by[protocol]!.perSecond, protocol).toBeLessThan(expected * 1.15)
      expect(by[protocol]!.failureRate, protocol).toBeCloseTo(rates.error / expected, 1)
    }
    // 95th percentile of 20/s under 50 ms and 5/s between 0.5 and 2.5 s: inside the (0.5 s, 1 s] bucket.
    expect(data.httpP95Seconds).toBeGreaterThan(0.5)
    expect(data.httpP95Seconds).toBeLessThanOrEqual(1)
    expect(data.slowestEndpoints[0]!.endpoint).toBe('/api/v1/results')
    expect(data.agents).toMatchObject({ connected: 2, total: 3 })
    expect(prom.summary).toMatch(/tasks\/min, [\d.]+% failed; HTTP p95 \d+ ms; 2\/3 agents connected/)
    // http fails at exactly the guide's 10%: whether its rate comes out above that is noise.
    expect(prom.findings!.map((f) => [f.id, f.severity])).toEqual(
      expect.arrayContaining([
        ['agents-disconnected', 'medium'],
        ['task-failure-rate:icmp', 'medium'],
      ]),
    )
    expect(prom.findings!.map((f) => f.id)).not.toContain('task-failure-rate:dns')
    const messages = prom.findings!.map((f) => f.message)
    expect(messages.some((p) => /^icmp tasks fail at 2\d\.\d%/.test(p))).toBe(true)
    expect(messages.some((p) => /1 of 3 agents disconnected: agent-003/.test(p))).toBe(true)

    const saved = join(dir, 'reports', historyFileName('performance', new Date(report.startedAt)))
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toEqual(report)
  })

  it('takes --window and --top over the configuration', async () => {
    const path = config(tempDir('perf-flags')).path
    const result = await runCli(
      ['report', 'performance', '--config', path, '--only', 'tables,prometheus', '--window', '20s', '--top', '1', '--json'],
      env(database),
    )
    const report = parseReport(result)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(step(report, 'prometheus').data).toMatchObject({ window: '20s' })
    expect((step(report, 'tables').data as { bySequentialScans: unknown[] }).bySequentialScans).toHaveLength(1)
  })

  it('skips statements without pg_stat_statements and Prometheus when it is not configured, with what to do', async () => {
    const result = await runCli(['report', 'performance', '--config', config(tempDir('perf-off'), { prometheus: { url: '' } }).path, '--json'], env(plain))
    const report = parseReport(result)
    expect(result.exitCode).toBe(0)
    expect(step(report, 'statements')).toMatchObject({
      status: 'skipped',
      summary: `pg_stat_statements is not installed in ${plain}`,
      findings: [{ id: 'pg-stat-statements-missing', severity: 'info', message: expect.any(String), fix: expect.stringContaining('shared_preload_libraries') }],
    })
    expect(step(report, 'prometheus')).toMatchObject({ status: 'skipped', summary: 'Prometheus not configured (prometheus.url is empty)' })
    for (const id of ['cache', 'connections', 'tables']) expect(step(report, id).status).toBe('ok')
  })

  it('warns, within its timeout, when Prometheus refuses or hangs', async () => {
    const refused = await startRefusedPort()
    const down = await runCli(
      [
        'report',
        'performance',
        '--config',
        config(tempDir('perf-down'), { prometheus: { url: `http://127.0.0.1:${refused}` } }).path,
        '--json',
        '--only',
        'prometheus',
      ],
      env(database),
    )
    expect(down.exitCode).toBe(0)
    expect(step(parseReport(down), 'prometheus')).toMatchObject({
      status: 'warning',
      summary: `not measured: Prometheus refused the connection at http://127.0.0.1:${refused}`,
    })

    const hanging = await startHangingServer()
    try {
      const hung = await runCli(
        [
          'report',
          'performance',
          '--config',
          config(tempDir('perf-hang'), { prometheus: { url: hanging.url, timeoutSeconds: 1 } }).path,
          '--json',
          '--only',
          'prometheus',
        ],
        env(database),
      )
      expect(hung.exitCode).toBe(0)
      expect(step(parseReport(hung), 'prometheus')).toMatchObject({
        status: 'warning',
        summary: `not measured: Prometheus at ${hanging.url} did not answer within 1 s`,
      })
    } finally {
      await hanging.close()
    }
  })

  it('runs as one step of another job (maintain weekly), saving the same report', async () => {
    const dir = tempDir('perf-step')
    const { path } = config(dir)
    const loaded = loadConfig(path, env(database))
    const weekly = await runJob(
      { command: 'maintain weekly', concurrent: false, steps: [nested] },
      { config: loaded, toolVersion: '9.9.9' },
      { version: '9.9.9', host: 'bed' },
    )
    const outcome = weekly.steps[0]!
    expect(outcome).toMatchObject({ id: 'performance-report', status: 'warning' })
    expect(outcome.summary).toMatch(/^statements: .*; cache: .*; connections: .*; tables: .*; prometheus: .*agents connected/)
    // The report's findings are the step's: what the prometheus step found, the weekly job's cron mail says.
    expect(outcome.findings!.map((f) => f.id)).toEqual(expect.arrayContaining(['agents-disconnected', 'task-failure-rate:icmp']))
    expect(outcome.details).toContain(`saved as ${join(dir, 'reports', historyFileName('performance', new Date()))}`)
    const savedTo = outcome.data!.savedTo as string
    expect(savedTo).toBe(join(dir, 'reports', historyFileName('performance', new Date())))
    const saved = JSON.parse(readFileSync(savedTo, 'utf8')) as Report
    expect(saved).toMatchObject({ command: 'report performance', version: '9.9.9', host: 'bed', status: 'warning' })
    expect(saved.steps.map((s) => s.id)).toEqual(['statements', 'cache', 'connections', 'tables', 'prometheus'])
    expect((outcome.data!.steps as StepResult[]).map((s) => s.status)).toEqual(saved.steps.map((s) => s.status))

    const dry = await runJob(
      { command: 'maintain weekly', concurrent: false, steps: [nested] },
      { config: loadConfig(config(tempDir('perf-dry')).path, env(database)), toolVersion: '0' },
      { version: '0', host: 'bed', dryRun: true },
    )
    expect(dry.steps[0]!.data!.savedTo).toBeNull()
  })

  for (const cut of ['SIGINT', '--timeout'] as const) {
    it(`stops its own steps when ${cut} cuts the job it runs in, and keeps no cut report as the day's`, async () => {
      // Prometheus answers nothing: the report's own job waits on it until stopped, or for its 30 s.
      const hanging = await startHangingServer()
      try {
        const dir = tempDir('perf-cut')
        const loaded = loadConfig(config(dir, { prometheus: { url: hanging.url, timeoutSeconds: 30 } }).path, env(database))
        const interrupt = new AbortController()
        const weekly = startJob(
          { command: 'maintain weekly', concurrent: false, steps: [nested] },
          { config: loaded, toolVersion: '9.9.9' },
          { version: '9.9.9', host: 'bed', interrupt: interrupt.signal, ...(cut === '--timeout' ? { timeoutMs: 3000 } : {}) },
        )
        while (hanging.accepted === 0) await new Promise((r) => setTimeout(r, 20))
        if (cut === 'SIGINT') interrupt.abort(new Interruption('SIGINT'))
        const report = await weekly.report
        expect(report.interrupted).toMatchObject({ by: cut === 'SIGINT' ? 'SIGINT' : 'timeout' })
        expect(report.steps[0]).toMatchObject({ id: 'performance-report', status: 'failed' })
        // The step has really ended (the job's lock is held until then), its own job with it.
        await weekly.ended
        expect(existsSync(join(dir, 'reports', historyFileName('performance', new Date())))).toBe(false)
      } finally {
        await hanging.close()
      }
    })
  }
})

describe("report performance's agents: every target of the agents job, against real Prometheus and generated agents", () => {
  let monitoring: MonitoringServer

  beforeAll(async () => {
    // agent-001 disconnected, agent-002 and agent-003 down (their exporters refuse), agent-004 and agent-005 healthy.
    monitoring = await startMonitoring({ agents: 5, states: { disconnected: 1, down: 2 } })
    await waitForScrapes(monitoring.info.prometheus!.url)
    await waitForPrometheusData(monitoring.info.prometheus!, ['count(agent_connection_status{job="agents"}) >= 3', 'count(up{job="agents"} == 0) >= 2'])
  }, 120_000)

  afterAll(async () => {
    await monitoring?.stop()
  })

  it('counts the agents whose exporter is down and names them with the scrape error', async () => {
    const dir = tempDir('perf-agents')
    const { path } = writeConfig({
      reports: { dir: join(dir, 'reports') },
      prometheus: { url: monitoring.info.prometheus!.url },
      performance: { window: '10s' },
    })
    const result = await runCli(['report', 'performance', '--config', path, '--only', 'prometheus', '--json'], bedEnv())
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode, result.stderr).toBe(0)
    const prom = step(report, 'prometheus')
    const agents = (prom.data as { agents: { connected: number; total: number; disconnected: number; down: number; list: unknown[] } }).agents
    expect(agents).toMatchObject({ connected: 2, disconnected: 1, down: 2, total: 5 })
    expect(agents.list).toEqual([
      { agent: 'agent-001', connected: false, state: 'disconnected', instance: monitoring.info.agents[0]!.target },
      {
        agent: 'agent-002',
        connected: false,
        state: 'down',
        instance: monitoring.info.agents[1]!.target,
        scrapeError: expect.stringMatching(/connection refused/) as unknown,
      },
      {
        agent: 'agent-003',
        connected: false,
        state: 'down',
        instance: monitoring.info.agents[2]!.target,
        scrapeError: expect.stringMatching(/connection refused/) as unknown,
      },
      { agent: 'agent-004', connected: true, state: 'connected', instance: monitoring.info.agents[3]!.target },
      { agent: 'agent-005', connected: true, state: 'connected', instance: monitoring.info.agents[4]!.target },
    ])
    expect(prom.summary).toMatch(/; 2\/5 agents connected, 1 disconnected, 2 down \(scrape failed: .*connection refused\)$/)
    const findings = new Map(prom.findings!.map((f) => [f.id, f]))
    expect(findings.get('agents-disconnected')).toMatchObject({ severity: 'medium', message: '1 of 5 agents disconnected: agent-001' })
    expect(findings.get('agents-down')).toMatchObject({
      severity: 'medium',
      message: expect.stringMatching(
        /^2 of 5 agents down: agent-002 \(scrape failed: .*connection refused\), agent-003 \(scrape failed: .*connection refused\)$/,
      ) as unknown,
      fix: expect.stringContaining(`curl http://${monitoring.info.agents[1]!.target}/metrics`) as unknown,
    })
  })

  it('warns, within its timeout, when Prometheus answers queries but never its targets', async () => {
    const upstream = new URL(monitoring.info.prometheus!.url)
    const held = new Set<ServerResponse>()
    const proxy = createServer((request, response) => {
      if (request.url?.startsWith('/api/v1/targets')) return void held.add(response)
      const forwarded = httpRequest(
        { host: upstream.hostname, port: upstream.port, path: request.url, method: request.method, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(response)
        },
      )
      forwarded.on('error', () => response.destroy())
      request.pipe(forwarded)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    try {
      const { path } = writeConfig({
        reports: { dir: join(tempDir('perf-targets-hang'), 'reports') },
        prometheus: { url, timeoutSeconds: 1 },
        performance: { window: '10s' },
      })
      const result = await runCli(['report', 'performance', '--config', path, '--only', 'prometheus', '--json'], bedEnv())
      const report = parseReport(result)
      expectValidReport(report)
      expect(result.exitCode, result.stderr).toBe(0)
      expect(held.size).toBeGreaterThan(0)
      // Never "0 agents" or a count from the series alone: the part that could not be read says so.
      expect(step(report, 'prometheus')).toMatchObject({
        status: 'warning',
        summary: expect.stringMatching(/^not measured: .*did not answer within 1 s/) as unknown,
      })
    } finally {
      for (const response of held) response.destroy()
      await new Promise((resolve) => proxy.close(resolve))
    }
  })
})
