/**
 * What each agent's figures mean, against the guide's thresholds: pure, so that every verdict is
 * tested without a Prometheus. The figures come from Prometheus (the agents' metrics and their
 * scrape targets), from the platform database's agents table, or from both; where both speak
 * and disagree, the disagreement is a reason of its own.
 */

import { formatDuration } from '../../lib/duration.js'

/** Worst first: an agent's verdict is the worst of its reasons. */
export const VERDICTS = ['down', 'disconnected', 'stale', 'failing', 'overloaded', 'no-data', 'disagreement', 'maintenance', 'healthy'] as const
export type Verdict = (typeof VERDICTS)[number]

const FIX: Record<Verdict, string> = {
  down: "its exporter does not answer: on the agent's host, check the agent service and curl http://INSTANCE/metrics",
  disconnected: 'the agent lost the management platform: check its network path and the management service (probe-ops diagnose --only services,http)',
  stale: 'the agent runs but sends no heartbeats: read its log (probe-ops agents --agent ID) and restart it',
  failing: 'read its errors (probe-ops agents --agent ID); check the probed targets and the agent’s network',
  overloaded: 'move tasks off it or give it more CPU, memory or disk (probe-ops agents --agent ID shows which)',
  'no-data': 'its target exports no agent_* metrics: check the agents job in prometheus.yml (agents.job names it)',
  disagreement: "the agents table and Prometheus disagree: check the agent's heartbeats to the management platform, and prometheus.yml's agents job",
  maintenance: 'none: it is in maintenance',
  healthy: '',
}

/** What to do about agents of one verdict, said of the first of them (`report performance` says the same). */
export function verdictFix(verdict: Verdict, agent: { id: string; instance?: string | undefined }): string {
  return FIX[verdict].replace('INSTANCE', agent.instance ?? 'HOST:PORT').replace('ID', agent.id)
}

/** An agent as Prometheus sees it: its scrape target, and the series the target exports. */
export interface ScrapedAgent {
  instance: string
  health: 'up' | 'down' | 'unknown'
  lastError: string
  /** agent_connection_status; undefined when the series is missing. */
  connected?: boolean
  /** Whether agent_heartbeats_total exists at all. */
  heartbeatSeries: boolean
  /** Seconds since the heartbeat counter last grew; null when it did not grow within the window. */
  heartbeatAgeSeconds?: number | null
  /** Samples of the heartbeat counter within the window: growth needs two, so one says nothing yet. */
  heartbeatSamples?: number
  /** Tasks over the window, by protocol: increase(agent_tasks_total) split by status. */
  protocols: ProtocolTasks[]
  cpuPercent?: number
  memoryPercent?: number
  diskPercent?: number
}

export interface ProtocolTasks {
  protocol: string
  total: number
  failed: number
}

/** An agent as the platform database's agents table has it. */
export interface RecordedAgent {
  status: string
  /** Seconds since last_heartbeat; null when there is none. */
  heartbeatAgeSeconds: number | null
}

export interface AgentFigures {
  id: string
  /** Absent when Prometheus was not read, or does not know the agent. */
  scraped?: ScrapedAgent
  /** Absent when the database was not read, or does not list the agent. */
  recorded?: RecordedAgent
}

/** What was read: an agent missing from a source that was read is a disagreement. */
export interface SourcesRead {
  prometheus: boolean
  database: boolean
}

export interface AgentLimits {
  windowMs: number
  heartbeatStaleMs: number
  cpuPercent: number
  memoryPercent: number
  diskPercent: number
  failurePercent: number
}

export interface Reason {
  verdict: Verdict
  text: string
}

export interface Judgement {
  verdict: Verdict
  reasons: Reason[]
}

const percent = (value: number) => `${Number(value.toFixed(1))} %`
const ago = (seconds: number) => formatDuration(Math.max(1000, Math.round(seconds) * 1000))

export function taskTotals(protocols: readonly ProtocolTasks[]): { total: number; failed: number } {
  return protocols.reduce((sum, p) => ({ total: sum.total + p.total, failed: sum.failed + p.failed }), { total: 0, failed: 0 })
}

/** The share of tasks that failed, 0..1; null without tasks. */
export function failureRate(tasks: { total: number; failed: number }): number | null {
  return tasks.total > 0 ? tasks.failed / tasks.total : null
}

function heartbeatReason(ageSeconds: number | null | undefined, limits: AgentLimits, source: string): Reason | undefined {
  if (ageSeconds === undefined) return undefined
  if (ageSeconds === null) return { verdict: 'stale', text: `no heartbeat in the last ${formatDuration(limits.windowMs)}${source}` }
  if (ageSeconds * 1000 > limits.heartbeatStaleMs)
    return { verdict: 'stale', text: `last heartbeat ${ago(ageSeconds)} ago (stale after ${formatDuration(limits.heartbeatStaleMs)})${source}` }
  return undefined
}

/** The reasons Prometheus's figures give: the scrape first, then connection, heartbeat, tasks and resources. */
function scrapedReasons(agent: ScrapedAgent, limits: AgentLimits): Reason[] {
  if (agent.health === 'down') return [{ verdict: 'down', text: `its exporter does not answer scrapes: ${agent.lastError || 'no error given'}` }]
  if (agent.health === 'unknown') return [{ verdict: 'no-data', text: 'not scraped yet' }]
  const hasSeries = agent.connected !== undefined || agent.heartbeatSeries || agent.cpuPercent !== undefined || agent.protocols.length > 0
  if (!hasSeries) return [{ verdict: 'no-data', text: 'its exporter answers without agent_* metrics' }]
  const reasons: Reason[] = []
  if (agent.connected === false) reasons.push({ verdict: 'disconnected', text: 'disconnected from the management platform (agent_connection_status 0)' })
  // One sample cannot show a counter growing: a target just scraped for the first time is not stale yet.
  const firstSample = agent.heartbeatSamples !== undefined && agent.heartbeatSamples < 2
  // A disconnected agent sends no heartbeats: that is the disconnection, not a second reason.
  const heartbeat =
    agent.connected === false || firstSample ? undefined : heartbeatReason(agent.heartbeatSeries ? agent.heartbeatAgeSeconds : undefined, limits, '')
  if (heartbeat) reasons.push(heartbeat)
  const rate = failureRate(taskTotals(agent.protocols))
  if (rate !== null && rate * 100 > limits.failurePercent) {
    const worst = [...agent.protocols].filter((p) => p.total > 0).sort((a, b) => b.failed / b.total - a.failed / a.total)[0]!
    reasons.push({
      verdict: 'failing',
      text: `${percent(rate * 100)} of tasks failed over ${formatDuration(limits.windowMs)} (above ${limits.failurePercent} %; worst ${worst.protocol} ${percent((worst.failed / worst.total) * 100)})`,
    })
  }
  const resources: [string, number | undefined, number][] = [
    ['CPU', agent.cpuPercent, limits.cpuPercent],
    ['memory', agent.memoryPercent, limits.memoryPercent],
    ['disk', agent.diskPercent, limits.diskPercent],
  ]
  for (const [name, value, limit] of resources)
    if (value !== undefined && value > limit) reasons.push({ verdict: 'overloaded', text: `${name} ${percent(value)} (above ${limit} %)` })
  if (reasons.length === 0 && firstSample) return [{ verdict: 'no-data', text: 'scraped once so far: heartbeats and tasks are judged after its next scrape' }]
  return reasons
}

/** The reasons the database gives when it is the only source that knows the agent. */
function recordedReasons(agent: RecordedAgent, limits: AgentLimits): Reason[] {
  if (agent.status === 'maintenance') return [{ verdict: 'maintenance', text: 'in maintenance (agents table)' }]
  if (agent.status !== 'online') return [{ verdict: 'disconnected', text: `status ${agent.status} in the agents table` }]
  if (agent.heartbeatAgeSeconds === null) return [{ verdict: 'stale', text: 'no heartbeat recorded (agents table)' }]
  const heartbeat = heartbeatReason(agent.heartbeatAgeSeconds, limits, ' (agents table)')
  return heartbeat ? [heartbeat] : []
}

/** Where the database and Prometheus tell different stories about one agent. */
function disagreements(agent: AgentFigures, read: SourcesRead): Reason[] {
  const { scraped, recorded } = agent
  if (read.prometheus && read.database && !scraped && recorded)
    return [{ verdict: 'disagreement', text: 'in the agents table, but not a scrape target of Prometheus' }]
  if (read.prometheus && read.database && scraped && !recorded) return [{ verdict: 'disagreement', text: 'scraped by Prometheus, but not in the agents table' }]
  if (!scraped || !recorded || recorded.status === 'maintenance') return []
  const recordedOnline = recorded.status === 'online'
  const live = scraped.health === 'up' && scraped.connected === true
  if (recordedOnline && !live)
    return [{ verdict: 'disagreement', text: `online in the agents table, but ${scraped.health === 'down' ? 'down' : 'not connected'} in Prometheus` }]
  if (!recordedOnline && live) return [{ verdict: 'disagreement', text: `${recorded.status} in the agents table, but connected in Prometheus` }]
  return []
}

export function rankOf(verdict: Verdict): number {
  return VERDICTS.indexOf(verdict)
}

/** An agent's verdict and every reason for it, worst first; Prometheus's figures win where both sources speak. */
export function judgeAgent(agent: AgentFigures, limits: AgentLimits, read: SourcesRead): Judgement {
  const own = agent.scraped ? scrapedReasons(agent.scraped, limits) : agent.recorded ? recordedReasons(agent.recorded, limits) : []
  const reasons = [...own, ...disagreements(agent, read)].sort((a, b) => rankOf(a.verdict) - rankOf(b.verdict))
  return { verdict: reasons[0]?.verdict ?? 'healthy', reasons }
}
