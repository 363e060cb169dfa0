import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { freePorts } from '../lib/ports.js'
import { agentTarget, planAgents, startAgentFleet, type AgentSpec, type AgentState } from './agents.js'
import { startNodeExporter, startPostgresExporter, startRedisExporter, type ExporterName, type PostgresExporterOptions } from './exporters.js'
import { GUIDE_ALERT_RULES, GUIDE_RULES_FILE } from './guide-rules.js'
import { startLokiServer } from './loki.js'
import { startPrometheusServer, type ScrapeJob } from './prometheus.js'
import { stopService, type RunningService } from './services.js'

/**
 * A platform's monitoring as the guide deploys it, on 127.0.0.1: Prometheus scraping the
 * agents (job "agents", one target per agent labelled agent_id), node/postgres/redis exporters
 * (jobs named as the guide's services) and itself, with the guide's alert rules loaded; Loki
 * receiving the agents' logs. Each part is optional; all start at once, each on a port picked
 * before any starts, so that Prometheus and the agents know where the others will be.
 */

export type MonitoringComponent = 'prometheus' | 'loki' | 'agents' | ExporterName

export interface MonitoringStackOptions {
  /** Each component's files go in DIR/COMPONENT/. */
  dir: string
  /** Where each component's output goes. */
  logFile: (component: MonitoringComponent) => string
  prometheus?: { binary: string; scrapeIntervalSeconds?: number; alertmanagerUrl?: string }
  loki?: { binary: string }
  agents?: {
    count: number
    states?: Partial<Record<AgentState, number>>
    logIntervalSeconds?: number
    /** DIR/agents/agents.pid by default. */
    pidFile?: string
  }
  exporters?: {
    node?: { binary: string; textfileDir?: string }
    postgres?: { binary: string } & Pick<PostgresExporterOptions, 'host' | 'databasePort' | 'user' | 'database' | 'passwordFile'>
    /** address: redis://host:port, without the password. */
    redis?: { binary: string; address: string; password?: string }
  }
  /** In sessions of their own, outliving us (the sandbox). */
  newSession?: boolean
  /** Runs as soon as a component runs, before its readiness is waited for. */
  onStarted?: (component: MonitoringComponent, service: RunningService, where: { port: number; url: string }) => void | Promise<void>
}

export interface MonitoringStack {
  prometheus?: { url: string; port: number; configFile: string }
  loki?: { url: string; port: number }
  agents: readonly AgentSpec[]
  exporters: Partial<Record<ExporterName, { url: string; target: string }>>
  services: ReadonlyArray<{ component: MonitoringComponent; service: RunningService }>
}

const STOP_STEPS = [['SIGTERM', 10_000]] as const

export async function startMonitoringStack(options: MonitoringStackOptions): Promise<MonitoringStack> {
  const { exporters = {} } = options
  const agents = options.agents ? await planAgents(options.agents.count, options.agents.states) : []
  const [prometheusPort, lokiPort, lokiGrpcPort, nodePort, postgresPort, redisPort] = (await freePorts(6)) as [number, number, number, number, number, number]
  const lokiUrl = options.loki ? `http://127.0.0.1:${lokiPort}` : undefined
  const exporterPorts: Record<ExporterName, number> = { 'node-exporter': nodePort, 'postgres-exporter': postgresPort, 'redis-exporter': redisPort }
  const wanted: Record<ExporterName, boolean> = {
    'node-exporter': !!exporters.node,
    'postgres-exporter': !!exporters.postgres,
    'redis-exporter': !!exporters.redis,
  }

  const started: Array<{ component: MonitoringComponent; service: RunningService }> = []
  const stack: MonitoringStack = { agents, exporters: {}, services: started }
  const common = async (component: MonitoringComponent, port: number, url: string) => {
    const dir = join(options.dir, component)
    await mkdir(dir, { recursive: true })
    const onStarted = async (service: RunningService) => {
      started.push({ component, service })
      await options.onStarted?.(component, service, { port, url })
    }
    return { dir, cwd: dir, logFile: options.logFile(component), newSession: options.newSession, onStarted }
  }
  const exporterStart = async (component: ExporterName, binary: string) => {
    const port = exporterPorts[component]
    return { ...(await common(component, port, `http://127.0.0.1:${port}`)), binary, port }
  }
  const work: Array<Promise<unknown>> = []
  if (exporters.node) {
    const { textfileDir, binary } = exporters.node
    work.push(exporterStart('node-exporter', binary).then((o) => startNodeExporter({ ...o, textfileDir })))
  }
  if (exporters.postgres) {
    const { binary, ...database } = exporters.postgres
    work.push(exporterStart('postgres-exporter', binary).then((o) => startPostgresExporter({ ...o, ...database })))
  }
  if (exporters.redis) {
    const { binary, address, password } = exporters.redis
    work.push(exporterStart('redis-exporter', binary).then((o) => startRedisExporter({ ...o, address, password })))
  }
  if (options.agents) {
    const settings = options.agents
    work.push(
      common('agents', agents[0]?.port ?? 0, agents[0] ? `http://${agentTarget(agents[0])}/metrics` : '').then((o) =>
        startAgentFleet({ ...o, agents, pidFile: settings.pidFile ?? join(o.dir, 'agents.pid'), lokiUrl, logIntervalSeconds: settings.logIntervalSeconds }),
      ),
    )
  }
  if (options.loki && lokiUrl) {
    const { binary } = options.loki
    work.push(
      common('loki', lokiPort, lokiUrl)
        .then((o) => startLokiServer({ ...o, binary, port: lokiPort, grpcPort: lokiGrpcPort }))
        .then(() => void (stack.loki = { url: lokiUrl, port: lokiPort })),
    )
  }
  if (options.prometheus) {
    const settings = options.prometheus
    const url = `http://127.0.0.1:${prometheusPort}`
    const jobs: ScrapeJob[] = [
      { name: 'prometheus', targets: [{ address: `127.0.0.1:${prometheusPort}` }] },
      ...(agents.length > 0 ? [{ name: 'agents', targets: agents.map((agent) => ({ address: agentTarget(agent), labels: { agent_id: agent.id } })) }] : []),
      ...(['node-exporter', 'postgres-exporter', 'redis-exporter'] as const)
        .filter((name) => wanted[name])
        .map((name) => ({ name, targets: [{ address: `127.0.0.1:${exporterPorts[name]}` }] })),
    ]
    work.push(
      common('prometheus', prometheusPort, url)
        .then((o) =>
          startPrometheusServer({
            ...o,
            binary: settings.binary,
            port: prometheusPort,
            jobs,
            rules: { [GUIDE_RULES_FILE]: GUIDE_ALERT_RULES },
            alertmanagerUrl: settings.alertmanagerUrl,
            scrapeIntervalSeconds: settings.scrapeIntervalSeconds,
          }),
        )
        .then((service) => void (stack.prometheus = { url, port: prometheusPort, configFile: service.configFile })),
    )
  }
  const outcomes = await Promise.allSettled(work)
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')
  if (failure) {
    await stopMonitoringStack(stack)
    throw failure.reason
  }
  for (const name of ['node-exporter', 'postgres-exporter', 'redis-exporter'] as const) {
    if (wanted[name]) stack.exporters[name] = { url: `http://127.0.0.1:${exporterPorts[name]}`, target: `127.0.0.1:${exporterPorts[name]}` }
  }
  return stack
}

/** Stops every part of the stack that runs (each only while it is the process that was started); returns whether all are gone. */
export async function stopMonitoringStack(stack: Pick<MonitoringStack, 'services'>): Promise<boolean> {
  const gone = await Promise.all(stack.services.map(({ service }) => stopService(service, STOP_STEPS)))
  return gone.every(Boolean)
}
