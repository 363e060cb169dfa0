import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { formatDuration } from '../../lib/duration.js'
import { plural } from '../../lib/format.js'
import type { Finding, Severity, StepOutcome } from '../../report/outcome.js'
import { textTable } from '../../report/table.js'
import { hintOf } from '../hints.js'
import type { AgentData, FleetData } from './data.js'
import { readRecordedAgents, readScrapedFleet } from './sources.js'
import { VERDICTS, failureRate, judgeAgent, rankOf, taskTotals, verdictFix, type AgentFigures, type AgentLimits, type Verdict } from './verdicts.js'

/**
 * The fleet as one step sees it, for `probe-ops agents` and diagnose alike: every agent either
 * source knows, judged, as a table, findings by verdict and the figures of each. A source that
 * could not be read is said so; with no source read there is no "0 agents", but a failed step.
 */

export interface FleetRequest {
  config: Readonly<Config>
  windowMs: number
  /** One agent (`agents --agent ID`): its protocols in full. */
  agent?: string
  /** Each source's bound. */
  timeoutMs: number
  /** diagnose lists only the agents in trouble; `agents` lists every one. */
  list: 'every' | 'troubled'
}

const SEVERITY: Record<Verdict, Severity | undefined> = {
  down: 'high',
  disconnected: 'high',
  stale: 'medium',
  failing: 'medium',
  overloaded: 'medium',
  'no-data': 'medium',
  disagreement: 'low',
  maintenance: 'info',
  healthy: undefined,
}

/** Names shown in one finding; the table and the data have every agent. */
const NAMED = 10

function limitsOf(config: Readonly<Config>, windowMs: number): AgentLimits {
  const { heartbeatStaleMs, cpuPercent, memoryPercent, diskPercent, failurePercent } = config.agents
  return { windowMs, heartbeatStaleMs, cpuPercent, memoryPercent, diskPercent, failurePercent }
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits))
const orNull = (value: number | undefined) => (value === undefined ? null : round(value))

function agentData(figures: AgentFigures, limits: AgentLimits, read: { prometheus: boolean; database: boolean }): AgentData {
  const { verdict, reasons } = judgeAgent(figures, limits, read)
  const { scraped, recorded } = figures
  const seconds = limits.windowMs / 1000
  const totals = taskTotals(scraped?.protocols ?? [])
  const rate = failureRate(totals)
  const heartbeat = scraped?.heartbeatSeries ? scraped.heartbeatAgeSeconds : recorded?.heartbeatAgeSeconds
  return {
    id: figures.id,
    verdict,
    reasons: reasons.map((r) => r.text),
    ...(scraped ? { instance: scraped.instance, scrape: scraped.health } : {}),
    ...(scraped?.health === 'down' && scraped.lastError ? { scrapeError: scraped.lastError } : {}),
    connected: scraped?.connected ?? (recorded && !scraped ? recorded.status === 'online' : null),
    heartbeatAgeSeconds: heartbeat === undefined || heartbeat === null ? null : Math.round(heartbeat),
    tasksPerSecond: scraped?.protocols.length ? round(totals.total / seconds, 3) : null,
    failureRate: rate === null ? null : round(rate, 4),
    protocols: (scraped?.protocols ?? []).map((p) => ({
      protocol: p.protocol,
      perSecond: round(p.total / seconds, 3),
      failureRate: p.total > 0 ? round(p.failed / p.total, 4) : null,
    })),
    cpuPercent: orNull(scraped?.cpuPercent),
    memoryPercent: orNull(scraped?.memoryPercent),
    diskPercent: orNull(scraped?.diskPercent),
    ...(recorded
      ? { database: { status: recorded.status, heartbeatAgeSeconds: recorded.heartbeatAgeSeconds === null ? null : Math.round(recorded.heartbeatAgeSeconds) } }
      : {}),
  }
}

/** One finding per verdict, naming its agents (the first few) and each one's reason. */
export function fleetFindings(agents: readonly AgentData[], single: boolean): Finding[] {
  const findings: Finding[] = []
  for (const verdict of VERDICTS) {
    const severity = SEVERITY[verdict]
    const these = agents.filter((a) => a.verdict === verdict)
    if (!severity || these.length === 0) continue
    const named = these.slice(0, NAMED).map((a) => `${a.id} (${a.reasons[0]})`)
    const more = these.length > NAMED ? `, and ${these.length - NAMED} more` : ''
    const fix = verdictFix(verdict, these[0]!)
    findings.push({
      id: single ? `agent-${verdict}:${these[0]!.id}` : `agents-${verdict}`,
      severity,
      subject: these.length === 1 ? these[0]!.id : `${plural(these.length, 'agent')}`,
      message: `${plural(these.length, 'agent')} ${verdict}: ${named.join('; ')}${more}`,
      fix,
    })
  }
  return findings
}

const cell = (value: number | null, unit = '') => (value === null ? '-' : `${value}${unit}`)

function state(agent: AgentData): string {
  if (agent.scrape === 'down') return 'down'
  if (agent.connected === null) return '-'
  return agent.connected ? 'connected' : 'disconnected'
}

/** The table of the terminal view: one line per agent, its verdict and first reason last. */
export function fleetTable(agents: readonly AgentData[], windowMs: number): string[] {
  const window = formatDuration(windowMs)
  const rows = agents.map((a) => [
    a.id,
    state(a),
    a.heartbeatAgeSeconds === null
      ? a.connected === null && a.scrape !== 'up'
        ? '-'
        : `none in ${window}`
      : `${formatDuration(Math.max(1, a.heartbeatAgeSeconds) * 1000)} ago`,
    cell(a.tasksPerSecond),
    a.failureRate === null ? '-' : `${round(a.failureRate * 100)}%`,
    cell(a.cpuPercent, '%'),
    cell(a.memoryPercent, '%'),
    cell(a.diskPercent, '%'),
    a.reasons.length > 0 ? `${a.verdict}: ${a.reasons.join('; ')}` : a.verdict,
  ])
  return textTable(['AGENT', 'STATE', 'HEARTBEAT', 'TASKS/S', 'FAILED', 'CPU', 'MEM', 'DISK', 'VERDICT'], rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'l'])
}

function protocolTable(agent: AgentData): string[] {
  if (agent.protocols.length === 0) return []
  const rows = agent.protocols.map((p) => [p.protocol, String(p.perSecond), p.failureRate === null ? '-' : `${round(p.failureRate * 100)}%`])
  return ['', ...textTable(['PROTOCOL', 'TASKS/S', 'FAILED'], rows, ['l', 'r', 'r'])]
}

function countsOf(agents: readonly AgentData[]): Partial<Record<Verdict, number>> {
  const counts: Partial<Record<Verdict, number>> = {}
  for (const a of agents) counts[a.verdict] = (counts[a.verdict] ?? 0) + 1
  return counts
}

function describeCounts(counts: Partial<Record<Verdict, number>>): string {
  return VERDICTS.filter((v) => counts[v])
    .map((v) => `${counts[v]} ${v}`)
    .join(', ')
}

/** Reads the sources, judges every agent, and says what it found. */
export async function lookAtFleet(request: FleetRequest): Promise<StepOutcome<FleetData>> {
  const { config, agent } = request
  const prometheus = config.prometheus.url ? { ...config.prometheus, timeoutMs: Math.min(config.prometheus.timeoutMs, request.timeoutMs) } : undefined
  const query = config.agents.databaseQuery.trim()
  if (!prometheus && !query) return { skipped: true, summary: "no source of agents: prometheus.url and agents.databaseQuery are both ''" }
  const [scraped, recorded] = await Promise.allSettled([
    prometheus ? readScrapedFleet(prometheus, { job: config.agents.job, windowMs: request.windowMs, agent }) : Promise.resolve(undefined),
    query ? readRecordedAgents(config.postgres, { query, timeoutMs: request.timeoutMs, agent }) : Promise.resolve(undefined),
  ])
  const failures = [scraped, recorded].filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  // No source answered: a red line naming each, never an empty fleet.
  if (failures.length > 0 && (scraped.status === 'rejected' || !prometheus) && (recorded.status === 'rejected' || !query)) throw failures[0]!.reason
  const fleet = scraped.status === 'fulfilled' ? scraped.value : undefined
  const rows = recorded.status === 'fulfilled' ? recorded.value : undefined
  const windowMs = fleet?.windowMs ?? request.windowMs
  const read = { prometheus: fleet !== undefined, database: rows !== undefined }
  const ids = [...new Set([...(fleet?.agents.keys() ?? []), ...(rows?.keys() ?? [])])]
  const limits = limitsOf(config, windowMs)
  const agents = ids
    .map((id) => agentData({ id, scraped: fleet?.agents.get(id), recorded: rows?.get(id) }, limits, read))
    .sort((a, b) => rankOf(a.verdict) - rankOf(b.verdict) || a.id.localeCompare(b.id))

  const findings = fleetFindings(agents, agent !== undefined)
  const unread = (name: string, result: PromiseSettledResult<unknown>, severity: Severity): void => {
    if (result.status !== 'rejected') return
    findings.unshift({
      id: `agents-source-unread:${name}`,
      severity,
      subject: name,
      message: `${name} not read: ${describeError(result.reason)}`,
      fix: hintOf(result.reason) ?? `check ${name}`,
    })
  }
  unread('prometheus', scraped, 'high')
  unread('database', recorded, 'medium')
  const sourceData = (result: PromiseSettledResult<unknown>, url?: string) => ({
    read: result.status === 'fulfilled',
    ...(url ? { url } : {}),
    ...(result.status === 'rejected' ? { error: describeError(result.reason) } : {}),
  })
  const data: FleetData = {
    windowMs,
    sources: {
      ...(prometheus ? { prometheus: sourceData(scraped, prometheus.url) } : {}),
      ...(query ? { database: sourceData(recorded) } : {}),
    },
    counts: countsOf(agents),
    agents,
  }
  const from = [read.prometheus ? `Prometheus job ${config.agents.job}` : '', read.database ? 'the agents table' : ''].filter(Boolean).join(' and ')
  if (agents.length === 0) {
    const what = agent === undefined ? 'no agents' : `no agent ${agent}`
    findings.push({
      id: agent === undefined ? 'agents-none' : `agent-unknown:${agent}`,
      severity: agent === undefined ? 'medium' : 'high',
      message: `${what} in ${from}`,
      fix: agent === undefined ? 'check the agents job in prometheus.yml (agents.job) and agents.databaseQuery' : 'probe-ops agents lists every agent',
    })
    return { summary: `${what} in ${from}`, findings, data }
  }
  const shown = request.list === 'every' ? agents : agents.filter((a) => a.verdict !== 'healthy')
  const details = [
    ...(shown.length > 0 ? fleetTable(shown, windowMs) : []),
    ...(agent !== undefined && agents[0] ? protocolTable(agents[0]) : []),
    ...(shown.length < agents.length ? [`(${plural(agents.length - shown.length, 'healthy agent')} not listed: probe-ops agents lists every one)`] : []),
  ]
  return {
    summary: `${plural(agents.length, 'agent')} (${describeCounts(data.counts)}) from ${from} over ${formatDuration(windowMs)}`,
    findings,
    details,
    data,
  }
}
