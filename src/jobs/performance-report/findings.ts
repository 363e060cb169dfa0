/**
 * The performance report's thresholds, and what crossing them means, as findings. Pure: the
 * steps measure, these rate. Every threshold is a warning (medium): the report says where to
 * look, it does not fail the platform.
 */

import { formatCount, formatPercent } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'
import { verdictFix } from '../agents/verdicts.js'
import type { AgentState, AgentStatus, ProtocolThroughput, TableStatistics } from './data.js'

/** Below this share of blocks found in shared buffers (once enough were read to tell), a warning. */
export const CACHE_HIT_WARNING = 0.95
/** Blocks read before the ratio means anything: a fresh server has read little, all from disk. */
export const CACHE_MIN_BLOCKS = 10_000
/** From this share of the usable connections in use, a warning (as diagnose). */
export const CONNECTIONS_WARNING = 0.8
/** A table scanned this often, reading this many rows a scan on average, likely misses an index. */
export const SEQ_SCANS_MIN = 100
export const ROWS_PER_SCAN_MIN = 100_000
/** Mostly dead: more dead than live tuples, and at least this many. */
export const DEAD_TUPLES_MIN = 10_000
/** The guide's alert rules: TaskFailureRateHigh (10%), HighResponseTime (2 s). */
export const FAILURE_RATE_WARNING = 0.1
export const P95_WARNING_SECONDS = 2

/** 1.23 s, or 456 ms. */
export function seconds(s: number): string {
  return s >= 1 ? `${s.toFixed(2)} s` : `${Math.round(s * 1000)} ms`
}

export function cacheFindings(databaseRatio: number | null, blocksRead: number): Finding[] {
  if (databaseRatio === null || blocksRead < CACHE_MIN_BLOCKS || databaseRatio >= CACHE_HIT_WARNING) return []
  return [
    {
      id: 'cache-hit-ratio',
      severity: 'medium',
      message: `cache hit ratio ${formatPercent(databaseRatio, 2)} is below ${formatPercent(CACHE_HIT_WARNING, 0)}`,
      fix: 'raise shared_buffers (about a quarter of RAM), or find the sequential scans of large tables (see the tables step)',
    },
  ]
}

export function connectionFindings(used: number, usable: number): Finding[] {
  if (used / usable < CONNECTIONS_WARNING) return []
  return [
    {
      id: 'connections-used',
      severity: 'medium',
      message: `${used} of ${usable} usable connections in use`,
      fix: 'put a pooler (pgbouncer) in front, or find who holds them (the list above)',
    },
  ]
}

export function tableFindings(bySequentialScans: readonly TableStatistics[], byDeadTuples: readonly TableStatistics[]): Finding[] {
  const findings: Finding[] = []
  for (const t of bySequentialScans) {
    if (t.seqScans >= SEQ_SCANS_MIN && t.rowsPerSeqScan >= ROWS_PER_SCAN_MIN)
      findings.push({
        id: `seq-scans:${t.table}`,
        severity: 'medium',
        subject: t.table,
        message: `${t.table}: ${formatCount(t.seqScans)} sequential scans reading ${formatCount(t.rowsPerSeqScan)} rows each`,
        fix: 'find the statement (statements step) and add the index it lacks',
      })
  }
  for (const t of byDeadTuples) {
    if (t.deadTuples >= DEAD_TUPLES_MIN && t.deadTuples > t.liveTuples)
      findings.push({
        id: `dead-tuples:${t.table}`,
        severity: 'medium',
        subject: t.table,
        message: `${t.table} is mostly dead tuples: ${formatCount(t.deadTuples)} dead, ${formatCount(t.liveTuples)} live`,
        fix: 'probe-ops maintain daily --only vacuum; if they come back, look for long transactions holding vacuum back',
      })
  }
  return findings
}

/** Agents named in one finding; the data lists every one. */
const AGENTS_NAMED = 5

/** What each state says of the agents in it, and what to do about them. */
const AGENT_FINDINGS: { state: AgentState; said: string; fix: (first: AgentStatus) => string }[] = [
  {
    state: 'disconnected',
    said: 'disconnected',
    fix: () => 'check those agents: systemctl status network-probe-agent, and their network path to the management API',
  },
  { state: 'down', said: 'down', fix: (first) => verdictFix('down', { id: first.agent, instance: first.instance }) },
  { state: 'no-data', said: 'without agent_connection_status', fix: (first) => verdictFix('no-data', { id: first.agent, instance: first.instance }) },
]

/** One finding per state an agent should not be in, naming the first few (a down one with its scrape error). */
export function agentFindings(agents: readonly AgentStatus[]): Finding[] {
  const findings: Finding[] = []
  for (const { state, said, fix } of AGENT_FINDINGS) {
    const these = agents.filter((a) => a.state === state)
    if (these.length === 0) continue
    const named = these.slice(0, AGENTS_NAMED).map((a) => (a.scrapeError ? `${a.agent} (scrape failed: ${a.scrapeError})` : a.agent))
    findings.push({
      id: `agents-${state}`,
      severity: 'medium',
      message: `${these.length} of ${agents.length} agents ${said}: ${named.join(', ')}${these.length > AGENTS_NAMED ? ', ...' : ''}`,
      fix: fix(these[0]!),
    })
  }
  return findings
}

export interface PlatformFigures {
  /** Prometheus' address, for the finding that says it has none of the platform's metrics. */
  url: string
  protocols: readonly ProtocolThroughput[]
  p95Seconds: number | null
  agents: readonly AgentStatus[]
  /** The platform's metrics Prometheus does not have. */
  missing: readonly string[]
}

export const PLATFORM_METRICS = ['tasks_total', 'http_request_duration_seconds', 'agent_connection_status'] as const

export function platformFindings({ url, protocols, p95Seconds, agents, missing }: PlatformFigures): Finding[] {
  const findings: Finding[] = []
  for (const p of protocols) {
    if (p.failureRate > FAILURE_RATE_WARNING)
      findings.push({
        id: `task-failure-rate:${p.protocol}`,
        severity: 'medium',
        subject: p.protocol,
        message: `${p.protocol} tasks fail at ${formatPercent(p.failureRate)} (guide's TaskFailureRateHigh: ${formatPercent(FAILURE_RATE_WARNING, 0)})`,
        fix: `look at the failing ${p.protocol} tasks' errors in task_results, and at the agents running them`,
      })
  }
  if (p95Seconds !== null && p95Seconds > P95_WARNING_SECONDS)
    findings.push({
      id: 'http-p95-latency',
      severity: 'medium',
      message: `HTTP p95 latency ${seconds(p95Seconds)} (guide's HighResponseTime: ${P95_WARNING_SECONDS} s)`,
      fix: `the slowest endpoints are listed above; the statements step shows the database's share`,
    })
  findings.push(...agentFindings(agents))
  if (missing.length === PLATFORM_METRICS.length)
    findings.push({
      id: 'platform-metrics-missing',
      severity: 'medium',
      message: `Prometheus at ${url} has none of the platform's metrics (${missing.join(', ')})`,
      fix: "check its scrape config: the management API's and agents' /metrics",
    })
  return findings
}
