/**
 * What diagnose's checks found, rated: pure functions of the figures a check read, so that the
 * thresholds and ratings are tested without a platform. A warning worth acting on is medium, one
 * only worth a look is low; what is down is critical, a check that fails otherwise high.
 */

import { formatPercent, plural } from '../../lib/format.js'
import type { Finding, Severity } from '../../report/outcome.js'
import type { CpuUsage, DiskUsage, MemoryUsage } from '../../systems/host.js'
import type { HttpProbe } from '../../systems/http.js'
import { diskFindings, type DiskThresholds } from '../shared/disk-usage.js'
import type { ServiceLook } from '../shared/services-look.js'
import type { PostgresData, RedisData } from './data.js'

/** Memory this full leaves the page cache nothing and the OOM killer close. */
const MEMORY_PERCENT = 90
/** A container restarted this often and up for less than this long is in a crash loop. */
const LOOP_RESTARTS = 3
const LOOP_UPTIME_S = 600
/** Long enough to be worth a look on a platform whose queries take milliseconds. */
const LONG_QUERY_S = 300
const IDLE_TRANSACTION_S = 300
/** Below this many block reads a cache hit ratio says nothing yet (a database just started). */
const CACHE_READS = 10_000
const CACHE_HIT_RATIO = 0.9
const CONNECTIONS_SHARE = 0.8
const REDIS_MEMORY_PERCENT = 90

/** 90s, 15m, 6h, 3d: a duration as an operator says it. */
export function formatUptime(seconds: number): string {
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200 && seconds % 3600 !== 0) return `${Math.round(seconds / 60)}m`
  if (seconds < 172800 && seconds % 86400 !== 0) return `${Math.round(seconds / 3600)}h`
  return `${Math.round(seconds / 86400)}d`
}

export function hostFindings(cpu: CpuUsage, memory: MemoryUsage, disks: readonly DiskUsage[], thresholds: DiskThresholds): Finding[] {
  const findings: Finding[] = []
  if (cpu.load5 > cpu.cores * 2)
    findings.push({
      id: 'cpu-load',
      severity: 'medium',
      message: `load average ${cpu.load5.toFixed(2)} on ${cpu.cores} cores`,
      fix: 'find the busy processes with `top -o %CPU`',
    })
  if (memory.usedPercent >= MEMORY_PERCENT)
    findings.push({
      id: 'memory-used',
      severity: 'medium',
      message: `memory ${memory.usedPercent}% used`,
      fix: 'find the largest processes with `ps aux --sort=-rss | head`',
    })
  return [...findings, ...diskFindings(disks, thresholds)]
}

/**
 * What the runtime's state says beyond serving or not (serviceFindings says that): a failing
 * health check, or a crash loop that "running" hides.
 */
export function healthFindings(looks: readonly ServiceLook[]): Finding[] {
  return looks.flatMap(({ service, status, ready }): Finding[] => {
    if (!status || !ready) return []
    const name = service.name
    if (status.health === 'unhealthy')
      return [
        {
          id: `service-unhealthy:${name}`,
          severity: 'high',
          subject: name,
          message: `${name} is running but its health check fails`,
          fix: `probe-ops recover ${name}`,
        },
      ]
    if ((status.restarts ?? 0) >= LOOP_RESTARTS && (status.uptimeSeconds ?? Infinity) < LOOP_UPTIME_S)
      return [
        {
          id: `service-crash-loop:${name}`,
          severity: 'medium',
          subject: name,
          message: `${name} restarted ${status.restarts} times and is up only ${formatUptime(status.uptimeSeconds!)}: a crash loop?`,
          fix: 'read its errors: probe-ops diagnose --only logs',
        },
      ]
    return []
  })
}

export function httpFindings(probes: readonly (HttpProbe & { service: string })[], slowMs: number): Finding[] {
  return probes.flatMap((p): Finding[] => {
    if (!p.ok)
      return [
        {
          id: `endpoint-down:${p.service}`,
          severity: 'critical',
          subject: p.service,
          message: `${p.service} ${p.url}: ${p.error ?? `HTTP ${p.status}`}`,
          fix: `probe-ops recover ${p.service}`,
        },
      ]
    if (p.latencyMs > slowMs)
      return [
        {
          id: `endpoint-slow:${p.service}`,
          severity: 'medium',
          subject: p.service,
          message: `${p.service} answered in ${p.latencyMs} ms`,
          fix: 'look at its load: probe-ops diagnose --only postgres,redis',
        },
      ]
    return []
  })
}

/** Client connections in use, this check's own included. */
export function connectionsUsed(figures: Pick<PostgresData, 'connections'>): number {
  return Object.values(figures.connections).reduce((a, b) => a + b, 0) + 1
}

export function postgresFindings(figures: PostgresData): Finding[] {
  const findings: Finding[] = []
  const used = connectionsUsed(figures)
  if (used >= figures.maxConnections * CONNECTIONS_SHARE)
    findings.push({
      id: 'connections-used',
      severity: 'medium',
      message: `${used} of ${figures.maxConnections} connections in use`,
      fix: 'find who holds them: select usename, application_name, state, count(*) from pg_stat_activity group by 1,2,3',
    })
  if (figures.cacheHitRatio !== null && figures.blocksRead > CACHE_READS && figures.cacheHitRatio < CACHE_HIT_RATIO)
    findings.push({
      id: 'cache-hit-ratio',
      severity: 'medium',
      message: `cache hit ratio ${formatPercent(figures.cacheHitRatio)}`,
      fix: 'raise shared_buffers, or look for sequential scans: probe-ops capacity-report',
    })
  const query = figures.longestQuery
  if (query && query.seconds > LONG_QUERY_S)
    findings.push({
      id: `long-query:${query.pid}`,
      severity: 'medium',
      subject: `pid ${query.pid}`,
      message: `query of pid ${query.pid} running for ${query.seconds} s`,
      fix: `inspect it, and if it must go: select pg_cancel_backend(${query.pid})`,
    })
  const transaction = figures.longestTransaction
  if (transaction && transaction.state.startsWith('idle in transaction') && transaction.seconds > IDLE_TRANSACTION_S)
    findings.push({
      id: `idle-in-transaction:${transaction.pid}`,
      severity: 'medium',
      subject: `pid ${transaction.pid}`,
      message: `pid ${transaction.pid} idle in transaction for ${transaction.seconds} s`,
      fix: `it holds locks and blocks vacuum: select pg_terminate_backend(${transaction.pid})`,
    })
  return findings
}

export function redisFindings(figures: RedisData): Finding[] {
  const findings: Finding[] = []
  if (figures.usedPercent !== null && figures.usedPercent >= REDIS_MEMORY_PERCENT)
    findings.push({
      id: 'redis-memory',
      severity: 'medium',
      message: `Redis memory ${figures.usedPercent}% of maxmemory`,
      fix: 'raise maxmemory or find the large keys: redis-cli --bigkeys',
    })
  if (figures.evictedKeys > 0)
    findings.push({
      id: 'redis-evictions',
      severity: 'medium',
      message: `${figures.evictedKeys} keys evicted since start`,
      fix: 'Redis is out of memory for its data: raise maxmemory',
    })
  if (figures.lastSaveStatus && figures.lastSaveStatus !== 'ok')
    findings.push({
      id: 'redis-save-failed',
      severity: 'medium',
      message: `last RDB save: ${figures.lastSaveStatus}`,
      fix: "read the Redis log for the save's error (disk full? permissions?)",
    })
  return findings
}

/** One service's logs: read and summed up, or not read and why. */
export type LogsRead = { service: string; read: true; errors: number; distinct: number } | { service: string; read: false; error: string; hint?: string }

/**
 * Errors in a service's logs are worth a look (low); logs that could not be read weigh more
 * (medium), one finding per reason naming every source it kept unread: a count that leaves
 * sources out must not look like the whole.
 */
export function logFindings(perService: readonly LogsRead[], window: string): Finding[] {
  const findings: Finding[] = []
  const unread = new Map<string, { names: string[]; hint?: string }>()
  for (const s of perService) {
    if (!s.read) {
      const entry = unread.get(s.error) ?? { names: [], hint: s.hint }
      entry.names.push(s.service)
      unread.set(s.error, entry)
    } else if (s.errors > 0) {
      findings.push({
        id: `log-errors:${s.service}`,
        severity: 'low',
        subject: s.service,
        message: `${s.service}: ${plural(s.errors, 'error')}${s.distinct > 1 ? ` (${s.distinct} distinct)` : ''} in the last ${window}`,
        fix: "read them in full: probe-ops diagnose --only logs --json, or the service's own logs",
      })
    }
  }
  for (const [message, { names, hint }] of unread)
    findings.push({
      id: `logs-not-read:${names.join(',')}`,
      severity: 'medium',
      subject: names.join(', '),
      message: `logs of ${names.join(', ')} not read: ${message}`,
      fix: hint ?? 'check the service runtime',
    })
  return findings
}

export interface FiringAlertFacts {
  labels: Record<string, string>
  alertname: string
  severity: string
  instance?: string
  summary?: string
}

/** An alert's severity label as a finding's: critical stays critical, warning is medium, anything else low. */
function alertSeverity(label: string): Severity {
  return label === 'critical' ? 'critical' : label === 'warning' ? 'medium' : 'low'
}

/** Each firing alert, identified as AlertManager identifies it: by its labels. */
export function alertFindings(firing: readonly FiringAlertFacts[], alertmanagerUrl: string): Finding[] {
  return firing.map((a) => {
    const labels = Object.entries(a.labels)
      .filter(([name]) => name !== 'alertname')
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    return {
      id: `alert-firing:${a.alertname}{${labels.join(',')}}`,
      severity: alertSeverity(a.severity),
      subject: a.alertname,
      message: `${a.alertname} (${a.severity})${a.instance ? ` on ${a.instance}` : ''}${a.summary ? `: ${a.summary}` : ''}`,
      fix: `see it in AlertManager: ${alertmanagerUrl}/#/alerts`,
    }
  })
}
