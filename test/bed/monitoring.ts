/**
 * The platform's monitoring, on demand (Loki alone takes ~10 s to get ready, so it is not in the
 * globalSetup): the local-platform toolkit's stack in a temp dir, on free loopback ports, for the
 * tests that need it.
 *
 *   const monitoring = await startMonitoring({ agents: 8, states: { disconnected: 1, down: 1 }, loki: true })
 *   ... monitoring.info.prometheus.url, monitoring.info.loki.url, monitoring.info.agents ...
 *   await monitoring.stop()
 *
 * A program it needs that is missing fails the test with what to install, under CI and outside
 * it alike: never a skip.
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { AgentSpec, AgentState } from '../../src/local-platform/agents.js'
import { EXPORTERS, type ExporterName } from '../../src/local-platform/exporters.js'
import { LOKI_HINT, locateLoki } from '../../src/local-platform/loki.js'
import { startMonitoringStack, stopMonitoringStack, type MonitoringComponent, type MonitoringStack } from '../../src/local-platform/monitoring.js'
import { findExecutable } from '../../src/systems/programs.js'
import { bedError, makeTempDir, removeDir, track, waitUntil, type BedService } from './process.js'
import type { PostgresInfo } from './postgres.js'
import type { RedisInfo } from './redis.js'

export { AGENT_PROFILES, AGENT_STATES, type AgentSpec, type AgentState } from '../../src/local-platform/agents.js'
export { GUIDE_RULE_GROUPS } from '../../src/local-platform/guide-rules.js'
export { agentLogEntry, pushToLoki, type LogEntry } from '../../src/local-platform/loki-push.js'

export interface StartMonitoringOptions {
  /** How many generated agents (agent-001, ...); none by default. */
  agents?: number
  /** How many of them are in each state; the rest are healthy. */
  states?: Partial<Record<AgentState, number>>
  /** Start Loki, and push the agents' logs to it. */
  loki?: boolean
  /** Start Prometheus (by default), scraping everything else. */
  prometheus?: boolean
  /** Exporters to start: node_exporter, and postgres/redis exporters of the given servers (the bed's, usually). */
  exporters?: { node?: boolean; postgres?: PostgresInfo; redis?: RedisInfo }
  /** Where Prometheus sends the guide's alerts; nowhere by default. */
  alertmanagerUrl?: string
  /** 1 s by default. */
  scrapeIntervalSeconds?: number
  /** How often every agent pushes its log lines to Loki; 1 s by default. */
  logIntervalSeconds?: number
}

export interface MonitoringInfo {
  dir: string
  prometheus?: { url: string; configFile: string }
  loki?: { url: string }
  agents: ReadonlyArray<AgentSpec & { target: string; url: string }>
  exporters: MonitoringStack['exporters']
  /** Each running program's pid, by component. */
  pids: Partial<Record<MonitoringComponent, number>>
}

export type MonitoringServer = BedService<MonitoringInfo>

/** The programs the options need, found on PATH (Loki: or installed into .tools/); a missing one is an error that says what to install. */
async function programs(options: StartMonitoringOptions) {
  const missing: string[] = []
  const find = async (name: ExporterName | 'prometheus', wanted: boolean) => {
    if (!wanted) return undefined
    const { program, package: debian } = name === 'prometheus' ? { program: 'prometheus', package: 'prometheus' } : EXPORTERS[name]
    const found = await findExecutable(program)
    if (!found) missing.push(`${program} (apt-get install ${debian})`)
    return found
  }
  const exporters = options.exporters ?? {}
  const found = {
    prometheus: await find('prometheus', options.prometheus !== false),
    node: await find('node-exporter', !!exporters.node),
    postgres: await find('postgres-exporter', !!exporters.postgres),
    redis: await find('redis-exporter', !!exporters.redis),
    loki: options.loki ? await locateLoki() : undefined,
  }
  if (options.loki && !found.loki) missing.push(`loki (${LOKI_HINT})`)
  if (missing.length > 0) throw new Error(`test bed: not installed: ${missing.join(', ')}; scripts/install-test-deps.sh installs them all`)
  return found
}

export async function startMonitoring(options: StartMonitoringOptions = {}): Promise<MonitoringServer> {
  const found = await programs(options)
  const dir = await makeTempDir('monitoringbed-')
  const tracked = track({ dirs: [dir] })
  let stack: Pick<MonitoringStack, 'services'> = { services: [] }
  const stop = async (): Promise<void> => {
    await stopMonitoringStack(stack)
    await removeDir(dir)
    tracked.untrack()
  }
  try {
    const { postgres, redis } = options.exporters ?? {}
    const passwordFile = path.join(dir, 'pgpassword')
    if (postgres) await writeFile(passwordFile, `${postgres.password}\n`, { mode: 0o600 })
    const started = await bedError(() =>
      startMonitoringStack({
        dir,
        logFile: (component) => path.join(dir, `${component}.log`),
        prometheus: found.prometheus
          ? { binary: found.prometheus, scrapeIntervalSeconds: options.scrapeIntervalSeconds ?? 1, alertmanagerUrl: options.alertmanagerUrl }
          : undefined,
        loki: found.loki ? { binary: found.loki.path } : undefined,
        agents: options.agents ? { count: options.agents, states: options.states, logIntervalSeconds: options.logIntervalSeconds ?? 1 } : undefined,
        exporters: {
          node: found.node ? { binary: found.node } : undefined,
          postgres:
            found.postgres && postgres
              ? { binary: found.postgres, host: postgres.host, databasePort: postgres.port, user: postgres.user, database: postgres.database, passwordFile }
              : undefined,
          redis: found.redis && redis ? { binary: found.redis, address: `redis://${redis.host}:${redis.port}`, password: redis.password } : undefined,
        },
        onStarted: (_component, service) => void tracked.entry.pids.push(service.pid),
      }),
    )
    stack = started
    const info: MonitoringInfo = {
      dir,
      ...(started.prometheus ? { prometheus: { url: started.prometheus.url, configFile: started.prometheus.configFile } } : {}),
      ...(started.loki ? { loki: { url: started.loki.url } } : {}),
      agents: started.agents.map((agent) => ({ ...agent, target: `127.0.0.1:${agent.port}`, url: `http://127.0.0.1:${agent.port}/metrics` })),
      exporters: started.exporters,
      pids: Object.fromEntries(started.services.map(({ component, service }) => [component, service.pid])),
    }
    return { info, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

export interface ScrapeTargetState {
  job: string
  instance: string
  labels: Record<string, string>
  health: 'up' | 'down' | 'unknown'
  lastError: string
}

/** Prometheus's active scrape targets (/api/v1/targets). */
export async function prometheusTargets(url: string): Promise<ScrapeTargetState[]> {
  const response = await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(5000) })
  const body = (await response.json()) as {
    data: { activeTargets: Array<{ labels: Record<string, string>; health: ScrapeTargetState['health']; lastError: string }> }
  }
  return body.data.activeTargets.map((t) => ({
    job: t.labels.job ?? '',
    instance: t.labels.instance ?? '',
    labels: t.labels,
    health: t.health,
    lastError: t.lastError,
  }))
}

/** Waits (bounded) until Prometheus has scraped each of its targets at least once. */
export async function waitForScrapes(url: string, timeoutMs = 30_000): Promise<ScrapeTargetState[]> {
  let targets: ScrapeTargetState[] = []
  await waitUntil(
    `prometheus at ${url} to have scraped every target`,
    async () => {
      targets = await prometheusTargets(url)
      return targets.length > 0 && targets.every((t) => t.health !== 'unknown')
    },
    { timeoutMs, intervalMs: 250 },
  )
  return targets
}

/** Log lines a LogQL query returns over the last `sinceSeconds` (newest first), each with its stream's labels. */
export async function lokiQuery(
  url: string,
  logql: string,
  sinceSeconds = 600,
  limit = 1000,
): Promise<Array<{ labels: Record<string, string>; line: string }>> {
  const start = (BigInt(Date.now() - sinceSeconds * 1000) * 1_000_000n).toString()
  const query = new URLSearchParams({ query: logql, start, limit: String(limit), direction: 'backward' })
  const response = await fetch(`${url}/loki/api/v1/query_range?${query.toString()}`, { signal: AbortSignal.timeout(10_000) })
  const body = (await response.json()) as { status: string; data?: { result: Array<{ stream: Record<string, string>; values: Array<[string, string]> }> } }
  if (body.status !== 'success') throw new Error(`loki query ${logql}: ${JSON.stringify(body).slice(0, 300)}`)
  return (body.data?.result ?? []).flatMap((r) => r.values.map(([, line]) => ({ labels: r.stream, line })))
}
