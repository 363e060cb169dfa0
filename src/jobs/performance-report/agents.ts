import { plural } from '../../lib/format.js'
import { queryInstant, type PrometheusConfig, type Sample } from '../../systems/prometheus.js'
import { readFleetConnections, type AgentConnection } from '../agents/sources.js'
import type { AgentState, AgentStatus } from './data.js'

/**
 * The report's agents: every target of the agents' scrape job, as `probe-ops agents` reads them
 * (an exporter that does not answer has no series at all, so counting series alone drops it),
 * and the agents other jobs report in agent_connection_status (a management API exporting its
 * agents' status). Two aggregate queries and the targets request, whatever the fleet's size.
 */

const otherAgentName = (labels: Record<string, string>) => labels.agent_id ?? labels.agent ?? labels.instance ?? labels.job ?? '(unnamed)'

function stateOf(agent: AgentConnection): AgentState {
  if (agent.health === 'down') return 'down'
  if (agent.connected === undefined) return 'no-data'
  return agent.connected ? 'connected' : 'disconnected'
}

/** The agents job's targets by id, and the status series of other jobs for the agents it does not know; by name. */
export function agentStatuses(targets: ReadonlyMap<string, AgentConnection>, others: readonly Sample[]): AgentStatus[] {
  const agents = new Map<string, AgentStatus>()
  for (const [id, target] of targets) {
    const state = stateOf(target)
    agents.set(id, {
      agent: id,
      connected: state === 'connected',
      state,
      instance: target.instance,
      ...(state === 'down' ? { scrapeError: target.lastError || 'no error given' } : {}),
    })
  }
  for (const sample of others) {
    const agent = otherAgentName(sample.labels)
    const connected = sample.value === 1
    if (!agents.has(agent)) agents.set(agent, { agent, connected, state: connected ? 'connected' : 'disconnected' })
  }
  return [...agents.values()].sort((a, b) => a.agent.localeCompare(b.agent))
}

/** Every agent Prometheus knows: the agents job's targets, and the agents of other jobs' agent_connection_status. */
export async function readAgents(prometheus: PrometheusConfig, job: string): Promise<AgentStatus[]> {
  const [targets, others] = await Promise.all([
    readFleetConnections(prometheus, job),
    queryInstant(prometheus, `agent_connection_status{job!=${JSON.stringify(job)}}`),
  ])
  return agentStatuses(targets, others)
}

export function countAgents(agents: readonly AgentStatus[]): Record<AgentState, number> {
  const counts: Record<AgentState, number> = { connected: 0, disconnected: 0, down: 0, 'no-data': 0 }
  for (const a of agents) counts[a.state]++
  return counts
}

/** "38/40 agents connected, 2 down (scrape failed: ...)": the agents part of the step's summary. */
export function describeAgents(agents: readonly AgentStatus[]): string {
  if (agents.length === 0) return 'no agents'
  const counts = countAgents(agents)
  const firstError = agents.find((a) => a.state === 'down')?.scrapeError
  return [
    `${counts.connected}/${plural(agents.length, 'agent')} connected`,
    ...(counts.disconnected ? [`${counts.disconnected} disconnected`] : []),
    ...(counts.down ? [`${counts.down} down (scrape failed: ${firstError})`] : []),
    ...(counts['no-data'] ? [`${counts['no-data']} without agent_connection_status`] : []),
  ].join(', ')
}
