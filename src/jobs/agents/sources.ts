import type { PostgresConfig } from '../../config/load.js'
import { StepFailure } from '../../errors.js'
import { postgresFailure, queryRows, sqlState, withPostgres } from '../../systems/postgres.js'
import { isSystemError } from '../../systems/errors.js'
import { promDuration, queryInstant, scrapeIntervalOf, scrapeTargets, type PrometheusConfig, type Sample, type ScrapeTarget } from '../../systems/prometheus.js'
import type { ProtocolTasks, RecordedAgent, ScrapedAgent } from './verdicts.js'

/**
 * Where agents' figures come from. Prometheus: its scrape targets of the agents' job (every
 * agent it knows, down ones included) and seven aggregate queries over all of them at once,
 * whatever the size of the fleet, sent with the targets request; `report performance` takes
 * only the targets and the connection query. The platform database: one configurable query.
 */

/** Prometheus's default scrape interval, for a Prometheus that does not say its own. */
const DEFAULT_SCRAPE_SECONDS = 60
/** A counter's change needs two samples: a range of this many scrape intervals holds them. */
const SAMPLES_RANGE = 2.5
/** Steps of the heartbeat subquery over the window: the resolution of "time since the last heartbeat". */
const HEARTBEAT_STEPS = 100

export interface ScrapedFleet {
  /** By agent id: the agent_id label of the target, else its instance. */
  agents: Map<string, ScrapedAgent>
  /** The window the rates cover: at least a few scrape intervals. */
  windowMs: number
}

function quoted(value: string): string {
  return JSON.stringify(value)
}

const jobSelector = (job: string) => `{job=${quoted(job)}}`

/** An agent's id: the agent_id label of its target, else its instance. */
const idOf = (labels: Record<string, string>) => labels.agent_id ?? labels.instance ?? ''

/** The connection query of a fleet: agent_connection_status, 1 when the agent is connected to the management platform. */
const connectionQuery = (selector: string) => `agent_connection_status${selector}`

/** What the queries of one fleet look like: the job's (or one target's) selector in each. */
export function fleetQueries(
  selector: string,
  windowMs: number,
  scrapeSeconds: number,
): Record<'connected' | 'heartbeats' | 'heartbeatAge' | 'tasks' | 'cpu' | 'memory' | 'disk', string> {
  const window = promDuration(windowMs)
  const range = promDuration(Math.max(1, SAMPLES_RANGE * scrapeSeconds) * 1000)
  const step = promDuration(Math.max(scrapeSeconds, windowMs / 1000 / HEARTBEAT_STEPS) * 1000)
  return {
    connected: connectionQuery(selector),
    // Samples in the window, not only presence: growth needs two of them.
    heartbeats: `max by (instance) (count_over_time(agent_heartbeats_total${selector}[${window}]))`,
    // The latest moment within the window at which the counter had just grown.
    heartbeatAge: `time() - max by (instance) (max_over_time(timestamp(changes(agent_heartbeats_total${selector}[${range}]) > 0)[${window}:${step}]))`,
    tasks: `sum by (instance, protocol, status) (increase(agent_tasks_total${selector}[${window}]))`,
    cpu: `max by (instance) (agent_cpu_usage_percent${selector})`,
    memory: `max by (instance) (100 * agent_memory_usage_bytes${selector} / agent_memory_total_bytes${selector})`,
    disk: `max by (instance) (100 * agent_disk_usage_bytes${selector} / agent_disk_total_bytes${selector})`,
  }
}

type QueryName = keyof ReturnType<typeof fleetQueries>

function byInstance(samples: readonly Sample[]): Map<string, number> {
  return new Map(samples.filter((s) => Number.isFinite(s.value)).map((s) => [s.labels.instance ?? '', s.value]))
}

function tasksByInstance(samples: readonly Sample[]): Map<string, ProtocolTasks[]> {
  const out = new Map<string, Map<string, ProtocolTasks>>()
  for (const sample of samples) {
    if (!Number.isFinite(sample.value)) continue
    const instance = sample.labels.instance ?? ''
    const protocol = sample.labels.protocol ?? '(none)'
    const protocols = out.get(instance) ?? new Map<string, ProtocolTasks>()
    out.set(instance, protocols)
    const entry = protocols.get(protocol) ?? { protocol, total: 0, failed: 0 }
    protocols.set(protocol, entry)
    entry.total += sample.value
    if (sample.labels.status !== 'success') entry.failed += sample.value
  }
  return new Map([...out].map(([instance, protocols]) => [instance, [...protocols.values()].sort((a, b) => a.protocol.localeCompare(b.protocol))]))
}

/** An agent's scrape target and connection status, as Prometheus has them. */
export type AgentConnection = Pick<ScrapedAgent, 'instance' | 'health' | 'lastError' | 'connected'>

function connectionOf(target: ScrapeTarget, connected: ReadonlyMap<string, number>): AgentConnection {
  const status = connected.get(target.instance)
  return {
    instance: target.instance,
    health: target.health,
    lastError: target.lastError,
    ...(status !== undefined ? { connected: status === 1 } : {}),
  }
}

/**
 * Every agent Prometheus scrapes in `job`, by agent id: its target (down ones included, with the
 * scrape error) and agent_connection_status. The targets request and one aggregate query, at once.
 */
export async function readFleetConnections(prometheus: PrometheusConfig, job: string): Promise<Map<string, AgentConnection>> {
  const [targets, status] = await Promise.all([scrapeTargets(prometheus, job), queryInstant(prometheus, connectionQuery(jobSelector(job)))])
  const connected = byInstance(status)
  return new Map(targets.map((target) => [idOf(target.labels), connectionOf(target, connected)]))
}

/** The fleet queries at once, their answers by name. */
async function askFleet(prometheus: PrometheusConfig, selector: string, windowMs: number, scrapeSeconds: number): Promise<Record<QueryName, Sample[]>> {
  const queries = fleetQueries(selector, windowMs, scrapeSeconds)
  const names = Object.keys(queries) as QueryName[]
  const answers = await Promise.all(names.map((name) => queryInstant(prometheus, queries[name])))
  return Object.fromEntries(names.map((name, i) => [name, answers[i]!])) as Record<QueryName, Sample[]>
}

/**
 * The job's scrape interval from Prometheus's configuration, so that the whole fleet's queries go
 * out with its (large) targets list instead of after it. A Prometheus that does not show its
 * configuration (a proxy in front that allows less) leaves the interval to the targets; one that
 * does not answer at all is that failure, not a second wait.
 */
async function configuredInterval(prometheus: PrometheusConfig, job: string): Promise<number | undefined> {
  try {
    return await scrapeIntervalOf(prometheus, job)
  } catch (error) {
    if (isSystemError(error, 'prometheus', 'bad-answer')) return undefined
    throw error
  }
}

const windowOf = (windowMs: number, scrapeSeconds: number) => Math.max(windowMs, SAMPLES_RANGE * scrapeSeconds * 1000)

/** Every agent Prometheus scrapes in `job` (or only `agent`), with its figures over the window. */
export async function readScrapedFleet(prometheus: PrometheusConfig, options: { job: string; windowMs: number; agent?: string }): Promise<ScrapedFleet> {
  const selectJob = jobSelector(options.job)
  const interval = options.agent === undefined ? await configuredInterval(prometheus, options.job) : undefined
  const early = interval === undefined ? undefined : askFleet(prometheus, selectJob, windowOf(options.windowMs, interval), interval)
  // Settled at once: a failure of the early queries is thrown where they are awaited, never unhandled.
  early?.catch(() => undefined)
  const all = await scrapeTargets(prometheus, options.job)
  const targets = options.agent === undefined ? all : all.filter((t) => idOf(t.labels) === options.agent || t.instance === options.agent)
  const intervals = targets.map((t) => t.scrapeIntervalSeconds).filter((s): s is number => s !== undefined)
  const scrapeSeconds = interval ?? (intervals.length > 0 ? Math.max(...intervals) : DEFAULT_SCRAPE_SECONDS)
  const windowMs = windowOf(options.windowMs, scrapeSeconds)
  const agents = new Map<string, ScrapedAgent>()
  if (targets.length === 0) return { agents, windowMs }

  const selector = options.agent === undefined ? selectJob : `{job=${quoted(options.job)}, instance=${quoted(targets[0]!.instance)}}`
  const answer = await (early ?? askFleet(prometheus, selector, windowMs, scrapeSeconds))
  const connected = byInstance(answer.connected)
  const heartbeats = byInstance(answer.heartbeats)
  const heartbeatAge = byInstance(answer.heartbeatAge)
  const tasks = tasksByInstance(answer.tasks)
  const [cpu, memory, disk] = [byInstance(answer.cpu), byInstance(answer.memory), byInstance(answer.disk)]

  for (const target of targets) {
    const instance = target.instance
    const heartbeatSeries = heartbeats.has(instance)
    const age = heartbeatAge.get(instance)
    agents.set(idOf(target.labels), {
      ...connectionOf(target, connected),
      heartbeatSeries,
      ...(heartbeatSeries ? { heartbeatAgeSeconds: age === undefined ? null : Math.max(0, age), heartbeatSamples: heartbeats.get(instance)! } : {}),
      protocols: tasks.get(instance) ?? [],
      ...(cpu.has(instance) ? { cpuPercent: cpu.get(instance)! } : {}),
      ...(memory.has(instance) ? { memoryPercent: memory.get(instance)! } : {}),
      ...(disk.has(instance) ? { diskPercent: disk.get(instance)! } : {}),
    })
  }
  return { agents, windowMs }
}

/** A last_heartbeat as pg returns it (timestamptz: a Date) or as a query may cast it (text). */
function heartbeatTime(value: unknown): number | null {
  if (value instanceof Date) return value.getTime()
  if (typeof value !== 'string' && typeof value !== 'number') return null
  const at = typeof value === 'number' ? value : Date.parse(value)
  return Number.isNaN(at) ? null : at
}

/** The columns the configured query must return. */
interface AgentRow {
  name: unknown
  status: unknown
  last_heartbeat: unknown
}

/** The agents table as the configured query reads it (name, status, last_heartbeat). */
export async function readRecordedAgents(
  postgres: PostgresConfig,
  options: { query: string; timeoutMs: number; agent?: string },
): Promise<Map<string, RecordedAgent>> {
  const bound = { connectTimeoutMs: Math.min(options.timeoutMs, postgres.connectTimeoutMs), statementTimeoutMs: options.timeoutMs }
  let rows: AgentRow[]
  try {
    rows = await withPostgres(postgres, (client) => queryRows<AgentRow>(client, options.query), bound)
  } catch (error) {
    if (sqlState(error) === '42P01' || sqlState(error) === '42703' || sqlState(error) === '42601')
      throw new StepFailure(
        `agents.databaseQuery failed in ${postgres.database}: ${(error as Error).message}`,
        "fix agents.databaseQuery (it must return name, status and last_heartbeat), or set it to '' to leave the database out",
      )
    throw postgresFailure(error, { ...postgres, connectTimeoutMs: bound.connectTimeoutMs })
  }
  const now = Date.now()
  const agents = new Map<string, RecordedAgent>()
  for (const row of rows) {
    if (!('name' in row) || !('status' in row) || !('last_heartbeat' in row))
      throw new StepFailure(
        'agents.databaseQuery does not return name, status and last_heartbeat',
        'rename its columns: select name, status, last_heartbeat from agents',
      )
    const name = String(row.name)
    if (options.agent !== undefined && name !== options.agent) continue
    const at = heartbeatTime(row.last_heartbeat)
    agents.set(name, { status: String(row.status), heartbeatAgeSeconds: at === null ? null : Math.max(0, (now - at) / 1000) })
  }
  return agents
}
