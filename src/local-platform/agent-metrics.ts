/**
 * Generated probe agents: what each one exports at /metrics (the metric names of the guide's
 * agent/monitoring/metrics.py) and what it logs, as a function of its state and of the time
 * since the fleet started. Pure and deterministic, so that a test knows what Prometheus and Loki
 * must show: counters grow at fixed rates, a frozen counter never moves.
 */

/**
 * What an agent is doing wrong, if anything, against the guide's thresholds: disconnected
 * (agent_connection_status 0), stale (connected, but its heartbeats stopped), failing (more than
 * 10 % of its tasks fail), overloaded on CPU (> 80 %), memory (> 85 %) or disk (< 10 % free),
 * and down (its exporter does not answer scrapes at all; its logs still reach Loki).
 */
export const AGENT_STATES = ['healthy', 'disconnected', 'stale', 'failing', 'overloaded-cpu', 'overloaded-memory', 'overloaded-disk', 'down'] as const
export type AgentState = (typeof AGENT_STATES)[number]

export interface AgentProfile {
  connected: boolean
  /** Whether agent_heartbeats_total grows (one per second) or stays where it was at the start. */
  heartbeats: boolean
  /** Whether agent_tasks_total grows or stays where it was at the start. */
  tasks: boolean
  /** The share of tasks that end with status="error". */
  failureShare: number
  cpuPercent: number
  memoryShare: number
  diskShare: number
  /** Task durations are this many times the protocol's usual. */
  latencyFactor: number
}

const NORMAL: AgentProfile = {
  connected: true,
  heartbeats: true,
  tasks: true,
  failureShare: 0.02,
  cpuPercent: 25,
  memoryShare: 0.4,
  diskShare: 0.5,
  latencyFactor: 1,
}

export const AGENT_PROFILES: Readonly<Record<AgentState, AgentProfile>> = {
  healthy: NORMAL,
  disconnected: { ...NORMAL, connected: false, heartbeats: false, tasks: false },
  stale: { ...NORMAL, heartbeats: false },
  failing: { ...NORMAL, failureShare: 0.25 },
  'overloaded-cpu': { ...NORMAL, cpuPercent: 96, latencyFactor: 4 },
  'overloaded-memory': { ...NORMAL, memoryShare: 0.93 },
  'overloaded-disk': { ...NORMAL, diskShare: 0.95 },
  // What it would export, were its exporter up: nothing reaches Prometheus.
  down: NORMAL,
}

/** The protocols of the platform's tasks, with a usual duration of each (seconds). */
export const AGENT_PROTOCOLS: Readonly<Record<string, number>> = { http: 0.15, https: 0.25, tcp: 0.03, udp: 0.02, dns: 0.02, icmp: 0.01 }

/**
 * Tasks per second an agent runs of each protocol: enough that a healthy agent's 2 % of failures
 * stays well under the guide's 10 % over any window of 10 s or more (counters are whole numbers).
 */
export const TASKS_PER_SECOND = 2
/** Heartbeats per second of an agent whose heartbeats run. */
export const HEARTBEATS_PER_SECOND = 1
/** Counters start as if the fleet had run this long already: every series has a value at the first scrape. */
const HISTORY_SECONDS = 1000

const MEMORY_TOTAL_BYTES = 8 * 1024 ** 3
const DISK_TOTAL_BYTES = 100 * 1024 ** 3
/** prometheus_client's default histogram buckets, as the guide's agents use them. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

export interface AgentSpec {
  /** agent-001: the agents table's name, and the agent_id label. */
  id: string
  state: AgentState
  /** Where its exporter listens (host:port is 127.0.0.1:port); a down agent's port refuses. */
  port: number
}

/** Agent ids as the sandbox's agents table names them: agent-001, agent-002, ... */
export function agentId(index: number): string {
  return `agent-${String(index + 1).padStart(3, '0')}`
}

/**
 * `count` agents, the first ones of each state in `states` (counts, in AGENT_STATES order) and
 * the rest healthy. Refused when the states ask for more agents than there are.
 */
export function agentStates(count: number, states: Partial<Record<AgentState, number>> = {}): AgentState[] {
  const chosen = AGENT_STATES.filter((state) => state !== 'healthy').flatMap((state) => Array<AgentState>(states[state] ?? 0).fill(state))
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`agents: ${count} is not a number of agents`)
  if (chosen.length > count) throw new RangeError(`agents: the states ask for ${chosen.length} agents, but there are ${count}`)
  return [...chosen, ...Array<AgentState>(count - chosen.length).fill('healthy')]
}

/** A little variation between agents of one state, the same every run. */
function spread(agent: AgentSpec, range: number): number {
  const digits = Number(agent.id.replace(/\D/g, '')) || 0
  return (digits * 7) % range
}

function counter(running: boolean, perSecond: number, elapsedSeconds: number): number {
  return Math.floor(perSecond * (HISTORY_SECONDS + (running ? elapsedSeconds : 0)))
}

/** The agent's /metrics in Prometheus's text format (0.0.4), `elapsedSeconds` after the fleet started. */
export function agentMetricsText(agent: AgentSpec, elapsedSeconds: number): string {
  const profile = AGENT_PROFILES[agent.state]
  const lines: string[] = []
  const metric = (name: string, type: string, help: string, samples: Array<[labels: string, value: number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
  }
  const cpu = profile.cpuPercent + (profile.cpuPercent < 80 ? spread(agent, 20) : spread(agent, 3))
  metric('agent_connection_status', 'gauge', 'Connection status (1=connected, 0=disconnected)', [['', profile.connected ? 1 : 0]])
  metric('agent_heartbeats_total', 'counter', 'Total heartbeats sent', [['', counter(profile.heartbeats, HEARTBEATS_PER_SECOND, elapsedSeconds)]])
  metric('agent_cpu_usage_percent', 'gauge', 'CPU usage percentage', [['', cpu]])
  metric('agent_memory_usage_bytes', 'gauge', 'Memory usage in bytes', [['', Math.round(MEMORY_TOTAL_BYTES * profile.memoryShare)]])
  metric('agent_memory_total_bytes', 'gauge', 'Total memory in bytes', [['', MEMORY_TOTAL_BYTES]])
  metric('agent_disk_usage_bytes', 'gauge', 'Disk usage in bytes', [['', Math.round(DISK_TOTAL_BYTES * profile.diskShare)]])
  metric('agent_disk_total_bytes', 'gauge', 'Total disk space in bytes', [['', DISK_TOTAL_BYTES]])

  const tasks = Object.keys(AGENT_PROTOCOLS).map((protocol) => {
    const total = counter(profile.tasks, TASKS_PER_SECOND, elapsedSeconds)
    const errors = Math.floor(total * profile.failureShare)
    return { protocol, total, errors }
  })
  metric(
    'agent_tasks_total',
    'counter',
    'Total tasks executed by agent',
    tasks.flatMap(({ protocol, total, errors }): Array<[string, number]> => [
      [`{protocol="${protocol}",status="success"}`, total - errors],
      [`{protocol="${protocol}",status="error"}`, errors],
    ]),
  )
  lines.push('# HELP agent_task_duration_seconds Task execution duration on agent', '# TYPE agent_task_duration_seconds histogram')
  for (const { protocol, total } of tasks) {
    const usual = AGENT_PROTOCOLS[protocol]! * profile.latencyFactor
    for (const le of BUCKETS) lines.push(`agent_task_duration_seconds_bucket{protocol="${protocol}",le="${le}"} ${Math.floor(total * shareWithin(le, usual))}`)
    lines.push(`agent_task_duration_seconds_bucket{protocol="${protocol}",le="+Inf"} ${total}`)
    lines.push(`agent_task_duration_seconds_sum{protocol="${protocol}"} ${(total * usual * 1.2).toFixed(3)}`)
    lines.push(`agent_task_duration_seconds_count{protocol="${protocol}"} ${total}`)
  }
  return `${lines.join('\n')}\n`
}

/** The share of tasks that took at most `le` seconds, when they usually take `usual`. */
function shareWithin(le: number, usual: number): number {
  if (le >= 4 * usual) return 1
  if (le >= 2 * usual) return 0.9
  if (le >= usual) return 0.5
  if (le >= usual / 2) return 0.1
  return 0
}

export type LogLevel = 'INFO' | 'WARNING' | 'ERROR'

/** What an agent logs at its `tick`th log interval: INFO while all is well, WARNING or ERROR for what is wrong. */
export function agentLogLines(agent: AgentSpec, tick: number, intervalSeconds: number): Array<{ level: LogLevel; message: string }> {
  const protocols = Object.keys(AGENT_PROTOCOLS)
  const protocol = protocols[tick % protocols.length]!
  const task = 1000 + ((tick * 7 + spread(agent, 50)) % 500)
  const usualMs = Math.round(AGENT_PROTOCOLS[protocol]! * 1000)
  switch (agent.state) {
    case 'healthy':
      return [
        { level: 'INFO', message: 'heartbeat sent' },
        { level: 'INFO', message: `task ${task} (${protocol}) succeeded in ${usualMs} ms` },
      ]
    case 'failing':
      return [
        { level: 'INFO', message: 'heartbeat sent' },
        { level: 'ERROR', message: `task ${task} (${protocol}) failed: connection timed out after 5000 ms` },
      ]
    case 'disconnected':
      return [{ level: 'ERROR', message: 'connection to the management platform lost: connect ECONNREFUSED; retrying in 30 s' }]
    case 'stale':
      return [{ level: 'WARNING', message: `heartbeat not acknowledged for ${(tick + 1) * intervalSeconds} s` }]
    case 'overloaded-cpu':
      return [{ level: 'WARNING', message: `cpu usage ${AGENT_PROFILES[agent.state].cpuPercent}% is above 80%: tasks are delayed` }]
    case 'overloaded-memory':
      return [{ level: 'WARNING', message: `memory usage ${Math.round(AGENT_PROFILES[agent.state].memoryShare * 100)}% is above 85%` }]
    case 'overloaded-disk':
      return [{ level: 'WARNING', message: `disk ${Math.round((1 - AGENT_PROFILES[agent.state].diskShare) * 100)}% free: results may not be written` }]
    case 'down':
      return [{ level: 'ERROR', message: 'metrics server failed to start: listen EADDRINUSE: address already in use 0.0.0.0:9090' }]
  }
}
