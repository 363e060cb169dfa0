import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig, type Config, type ServiceConfig } from '../../src/config/load.js'
import type { PostgresData, RedisData } from '../../src/jobs/diagnose/data.js'
import {
  alertFindings,
  formatUptime,
  healthFindings,
  hostFindings,
  httpFindings,
  logFindings,
  postgresFindings,
  redisFindings,
} from '../../src/jobs/diagnose/findings.js'
import { problemOf, serviceFindings, type ServiceLook } from '../../src/jobs/shared/services-look.js'
import { StepFailure } from '../../src/errors.js'
import { statusOf, type Finding } from '../../src/report/outcome.js'
import type { CpuUsage, MemoryUsage } from '../../src/systems/host.js'
import type { ServiceStatus } from '../../src/systems/services.js'

const config: Config = resolveConfig(parseConfigText('', 'test'), null, {})
const service = (name: string): ServiceConfig => config.services.find((s) => s.name === name)!

const idle: CpuUsage = { cores: 2, load1: 0.5, load5: 0.5, load15: 0.5, usagePercent: 12 }
const roomy: MemoryUsage = { totalBytes: 8e9, availableBytes: 6e9, usedPercent: 25, swapTotalBytes: 0, swapUsedPercent: 0 }
const thresholds = { warningPercent: 80, criticalPercent: 90 }

const ids = (findings: Finding[]) => findings.map((f) => `${f.severity} ${f.id}`)

describe('host findings', () => {
  it('rates load, memory and each disk against the thresholds', () => {
    expect(hostFindings(idle, roomy, [{ path: '/', usedPercent: 50, freeBytes: 5e9 }], thresholds)).toEqual([])
    const busy = hostFindings(
      { ...idle, load5: 4.1 },
      { ...roomy, usedPercent: 90 },
      [
        { path: '/', usedPercent: 79.9, freeBytes: 1e9 },
        { path: '/var', usedPercent: 80, freeBytes: 1e9 },
        { path: '/data', usedPercent: 90, freeBytes: 2 ** 30 },
        { path: '/gone', error: 'path does not exist' },
      ],
      thresholds,
    )
    expect(ids(busy)).toEqual(['medium cpu-load', 'medium memory-used', 'medium disk-full:/var', 'critical disk-full:/data', 'medium disk-unreadable:/gone'])
    expect(busy.find((f) => f.id === 'disk-full:/data')).toMatchObject({
      message: 'disk /data is 90% full (1.0 GiB free)',
      fix: expect.stringMatching(/clean-logs/),
    })
    expect(busy.find((f) => f.id === 'disk-unreadable:/gone')!.message).toBe('disk path /gone: path does not exist')
    // Load at twice the cores is busy but not yet a finding.
    expect(hostFindings({ ...idle, load5: 4 }, roomy, [], thresholds)).toEqual([])
    expect(statusOf(busy)).toBe('failed')
  })
})

function look(name: string, status: Partial<ServiceStatus> | undefined, extra: Partial<ServiceLook> = {}): ServiceLook {
  const full = status && { name, runtime: 'docker' as const, target: `np-${name}-1`, found: true, running: true, state: 'running', ...status }
  const ready = extra.ready ?? (!!full?.running && !extra.notServing)
  return { service: service(name), status: full, readiness: { ready, detail: ready ? 'answered' : 'refused' }, ready, ...extra }
}

describe('service findings', () => {
  it('rates down and not serving as critical, says how to resume one stopped by a signal, and groups unreadable runtimes by reason', () => {
    const docker = new StepFailure('the Docker socket /run/docker.sock does not exist', 'is Docker installed and running?')
    const looks = [
      look('management', undefined, { unreadable: docker }),
      look('web', undefined, { unreadable: docker }),
      look('postgres', { running: false, state: 'exited (exit 1)' }),
      look(
        'redis',
        { runtime: 'process', target: '/run/redis.pid', pid: 4242, stoppedBySignal: true, state: 'stopped by a signal (pid 4242, /proc state T)' },
        {
          notServing: 'stopped by a signal (pid 4242, /proc state T): it holds its port and answers nothing',
        },
      ),
    ]
    const findings = serviceFindings(looks)
    expect(ids(findings)).toEqual(['critical service-down:postgres', 'critical service-not-serving:redis', 'high service-state-unknown:management,web'])
    expect(findings[0]).toMatchObject({ message: 'postgres is exited (exit 1)', fix: 'probe-ops recover postgres' })
    expect(findings[1]).toMatchObject({
      message: 'redis is stopped by a signal (pid 4242, /proc state T): it holds its port and answers nothing',
      fix: 'resume it: kill -CONT 4242; or restart it: probe-ops recover redis',
    })
    expect(findings[2]).toMatchObject({
      subject: 'management, web',
      message: 'management, web: state unknown: the Docker socket /run/docker.sock does not exist',
      fix: 'is Docker installed and running?',
    })
    expect(problemOf(looks[0]!)).toBe('state unknown: the Docker socket /run/docker.sock does not exist')
  })

  it('names a missing container as not deployed, and a hung one as not serving', () => {
    const missing = look('web', { found: false, running: false, state: 'missing', target: 'np-web-1' })
    const hung = look('redis', {}, { notServing: 'running but not answering within 1 s (stopped, hung?)' })
    expect(serviceFindings([missing, hung, look('postgres', {})])).toEqual([
      {
        id: 'service-not-deployed:web',
        severity: 'critical',
        subject: 'web',
        message: 'web is not deployed: no container np-web-1',
        fix: 'deploy it (docker-compose up -d web), or fix services.web in the configuration',
      },
      {
        id: 'service-not-serving:redis',
        severity: 'critical',
        subject: 'redis',
        message: 'redis is running but not answering within 1 s (stopped, hung?)',
        fix: 'probe-ops recover redis',
      },
    ])
  })

  it('rates a failing health check and a crash loop, only for a service that serves (else it is down, said once)', () => {
    const unhealthy = look('web', { health: 'unhealthy' })
    const looping = look('redis', { restarts: 3, uptimeSeconds: 599 })
    const settled = look('postgres', { restarts: 3, uptimeSeconds: 600 })
    const downAndUnhealthy = look('management', { health: 'unhealthy' }, { notServing: 'running but not ready (HTTP 503)' })
    expect(ids(healthFindings([unhealthy, looping, settled, downAndUnhealthy]))).toEqual(['high service-unhealthy:web', 'medium service-crash-loop:redis'])
    expect(healthFindings([looping])[0]!.message).toBe('redis restarted 3 times and is up only 10m: a crash loop?')
  })
})

describe('HTTP findings', () => {
  it('rates a failed health URL critical and a slow one medium', () => {
    const probes = [
      { service: 'management', url: 'http://m/api/v1/health', ok: true, status: 200, latencyMs: 40 },
      { service: 'web', url: 'http://w/', ok: true, status: 200, latencyMs: 2500 },
      { service: 'api', url: 'http://a/', ok: false, status: 503, latencyMs: 5 },
      { service: 'docs', url: 'http://d/', ok: false, latencyMs: 1000, error: 'no answer within 1 s', timedOut: true },
    ]
    const findings = httpFindings(probes, 2000)
    expect(ids(findings)).toEqual(['medium endpoint-slow:web', 'critical endpoint-down:api', 'critical endpoint-down:docs'])
    expect(findings.map((f) => f.message)).toEqual(['web answered in 2500 ms', 'api http://a/: HTTP 503', 'docs http://d/: no answer within 1 s'])
  })
})

const healthyPostgres: PostgresData = {
  latencyMs: 1,
  version: '15.8',
  maxConnections: 100,
  connections: { active: 3, idle: 10 },
  databaseBytes: 1e9,
  cacheHitRatio: 0.5,
  blocksRead: 10_000,
  longestQuery: { pid: 11, seconds: 300, query: 'select 1' },
  longestTransaction: { pid: 12, seconds: 301, state: 'active' },
}

describe('PostgreSQL findings', () => {
  it('says nothing at the thresholds, and rates each past them medium', () => {
    // A low ratio over few reads says nothing yet; a query of exactly 5 min is not long; an active transaction is no idle one.
    expect(postgresFindings(healthyPostgres)).toEqual([])
    const busy = postgresFindings({
      ...healthyPostgres,
      connections: { active: 70, idle: 9 },
      blocksRead: 10_001,
      cacheHitRatio: 0.8912,
      longestQuery: { pid: 11, seconds: 301, query: 'select pg_sleep(1e6)' },
      longestTransaction: { pid: 12, seconds: 301, state: 'idle in transaction' },
    })
    expect(ids(busy)).toEqual(['medium connections-used', 'medium cache-hit-ratio', 'medium long-query:11', 'medium idle-in-transaction:12'])
    expect(busy.map((f) => f.message)).toEqual([
      '80 of 100 connections in use',
      'cache hit ratio 89.1%',
      'query of pid 11 running for 301 s',
      'pid 12 idle in transaction for 301 s',
    ])
    expect(statusOf(busy)).toBe('warning')
  })
})

describe('Redis findings', () => {
  const healthy: RedisData = {
    latencyMs: 1,
    usedMemoryBytes: 89,
    maxMemoryBytes: 100,
    usedPercent: 89,
    connectedClients: 1,
    evictedKeys: 0,
    rejectedConnections: 0,
    lastSaveStatus: 'ok',
  }
  it('rates memory near maxmemory, evictions and a failed save', () => {
    expect(redisFindings(healthy)).toEqual([])
    expect(redisFindings({ ...healthy, usedPercent: null, lastSaveStatus: undefined })).toEqual([])
    expect(ids(redisFindings({ ...healthy, usedPercent: 90, evictedKeys: 2, lastSaveStatus: 'err' }))).toEqual([
      'medium redis-memory',
      'medium redis-evictions',
      'medium redis-save-failed',
    ])
  })
})

describe('log findings', () => {
  it("groups unread logs by reason, weighs them above errors in logs that were read, and counts each service's errors", () => {
    const findings = logFindings(
      [
        { service: 'management', read: false, error: 'the Docker engine refused the connection', hint: 'start Docker' },
        { service: 'web', read: false, error: 'the Docker engine refused the connection', hint: 'start Docker' },
        { service: 'agent', read: true, errors: 1204, distinct: 3 },
        { service: 'worker', read: false, error: 'log file /var/log/worker.log does not exist' },
        { service: 'quiet', read: true, errors: 0, distinct: 0 },
      ],
      '1h',
    )
    expect(ids(findings)).toEqual(['low log-errors:agent', 'medium logs-not-read:management,web', 'medium logs-not-read:worker'])
    expect(findings[0]).toMatchObject({ message: 'agent: 1,204 errors (3 distinct) in the last 1h' })
    expect(findings[1]).toMatchObject({ message: 'logs of management, web not read: the Docker engine refused the connection', fix: 'start Docker' })
    expect(findings[2]).toMatchObject({ fix: 'check the service runtime' })
    // The step's error is what was not read, not a count that leaves sources out.
    expect(statusOf(findings)).toBe('warning')
  })

  it('says windows as an operator does', () => {
    expect([59, 600, 3600, 5400, 86400, 90000, 172800, 604800].map(formatUptime)).toEqual(['59s', '10m', '1h', '90m', '1d', '25h', '2d', '7d'])
  })
})

describe('alert findings', () => {
  it('rates each firing alert by its severity label and tells alerts apart by their labels', () => {
    const alert = (alertname: string, severity: string, labels: Record<string, string> = {}) => ({
      alertname,
      severity,
      instance: 'probe-01',
      labels: { alertname, severity, instance: 'probe-01', ...labels },
    })
    const findings = alertFindings(
      [
        alert('DiskSpaceCritical', 'critical', { path: '/' }),
        alert('DiskSpaceWarning', 'warning', { path: '/' }),
        alert('DiskSpaceWarning', 'warning', { path: '/var' }),
        alert('Heartbeat', 'info'),
      ],
      'http://am:9093',
    )
    expect(findings.map((f) => f.severity)).toEqual(['critical', 'medium', 'medium', 'low'])
    expect(findings[1]!.id).toBe('alert-firing:DiskSpaceWarning{instance="probe-01",path="/",severity="warning"}')
    expect(new Set(findings.map((f) => f.id)).size).toBe(4)
    expect(findings[0]).toMatchObject({ message: 'DiskSpaceCritical (critical) on probe-01', fix: 'see it in AlertManager: http://am:9093/#/alerts' })
  })
})
