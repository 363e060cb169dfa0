import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import type { Secret } from '../config/secret.js'
import { UsageError } from '../errors.js'
import { processStart } from '../lib/process.js'
import type { AgentState } from '../local-platform/agents.js'
import { EXPORTERS } from '../local-platform/exporters.js'
import { LOKI_HINT, LokiNotUsable, locateLoki, type LokiBinary } from '../local-platform/loki.js'
import { startMonitoringStack, type MonitoringComponent, type MonitoringStackOptions } from '../local-platform/monitoring.js'
import { PROMETHEUS_BIN } from '../local-platform/prometheus.js'
import { findExecutable } from '../systems/programs.js'
import type { Layout, MonitoringComponentName } from './layout.js'
import type { StateFile } from './state.js'

/**
 * The sandbox's monitoring, as the guide deploys it: Prometheus (with the guide's alert rules,
 * alerting to the sandbox's AlertManager), the node/postgres/redis exporters, generated agents
 * named as the agents table names them (a few of them in trouble), and Loki receiving their
 * logs. Each part runs when its program is installed; what is missing is a note, not a failure.
 */

/** A handful of agents in each kind of trouble, so that every verdict can be seen. */
const TROUBLED: Partial<Record<AgentState, number>> = { disconnected: 1, stale: 1, failing: 1, 'overloaded-cpu': 1, down: 1 }

/** Loki, found before anything starts: a --loki that is not Grafana Loki is bad usage; none at all is a note. */
export async function findSandboxLoki(given: string | undefined, notes: string[]): Promise<LokiBinary | undefined> {
  try {
    const found = await locateLoki({ given, install: false, notes })
    if (!found) notes.push(`no Loki: the agents' logs go nowhere (${LOKI_HINT}, or pass --loki)`)
    return found
  } catch (error) {
    if (error instanceof LokiNotUsable) throw new UsageError(`--loki ${error.message}`, 'pass the path of a Grafana Loki server binary (2.x)')
    throw error
  }
}

export interface SandboxMonitoringOptions {
  agents: number
  loki?: LokiBinary
  postgresPort: number
  redisPort: number
  redisPassword: Secret
  alertmanagerUrl?: string
}

export async function startMonitoring(paths: Layout, file: StateFile, options: SandboxMonitoringOptions): Promise<string> {
  const notes = file.state.notes
  const find = async (name: keyof typeof EXPORTERS) => {
    const found = await findExecutable(EXPORTERS[name].program)
    if (!found) notes.push(`${name} is not installed: apt-get install ${EXPORTERS[name].package}`)
    return found
  }
  const [node, postgres, redis] = await Promise.all([find('node-exporter'), find('postgres-exporter'), find('redis-exporter')])
  const prometheus = existsSync(PROMETHEUS_BIN) ? PROMETHEUS_BIN : undefined
  if (!prometheus) notes.push(`Prometheus is not installed (${PROMETHEUS_BIN}): apt-get install prometheus`)
  const stack: MonitoringStackOptions = {
    dir: paths.monitoring,
    logFile: (component) => paths.logs[component],
    prometheus: prometheus ? { binary: prometheus, scrapeIntervalSeconds: 5, alertmanagerUrl: options.alertmanagerUrl } : undefined,
    loki: options.loki ? { binary: options.loki.path } : undefined,
    agents: options.agents > 0 ? { count: options.agents, states: troubled(options.agents), pidFile: paths.pidFiles.agents } : undefined,
    exporters: {
      node: node ? { binary: node, textfileDir: paths.metrics } : undefined,
      postgres: postgres
        ? {
            binary: postgres,
            host: '127.0.0.1',
            databasePort: options.postgresPort,
            user: 'postgres',
            database: 'network_probe',
            passwordFile: paths.pgPassword,
          }
        : undefined,
      redis: redis ? { binary: redis, address: `redis://127.0.0.1:${options.redisPort}`, password: options.redisPassword.reveal() } : undefined,
    },
    newSession: true,
    onStarted: (component, service, where) => record(paths, file, component, service.pid, where),
  }
  const started = await startMonitoringStack(stack)
  file.state.agents = started.agents.map(({ id, state, port }) => ({ id, state, port }))
  await file.save()
  const parts = started.services.map(({ component }) => component)
  return parts.length > 0 ? `${parts.join(', ')} ready` : 'nothing installed to run'
}

/** As many troubled agents as the fleet has room for, the first ones; the rest healthy. */
function troubled(count: number): Partial<Record<AgentState, number>> {
  let left = count
  return Object.fromEntries(
    Object.entries(TROUBLED).map(([state, wanted]) => {
      const taken = Math.min(wanted, left)
      left -= taken
      return [state, taken]
    }),
  )
}

/** Records a started part (its pid file too: only the agents write their own) before its readiness is waited for. */
async function record(paths: Layout, file: StateFile, component: MonitoringComponent, pid: number, where: { port: number; url: string }): Promise<void> {
  const name: MonitoringComponentName = component
  const pidFile = paths.pidFiles[name]
  if (name !== 'agents') await writeFile(pidFile, `${pid}\n`)
  await file.record(name, { pid, port: where.port, address: where.url, pidFile, logFile: paths.logs[name], processStart: processStart(pid) })
}
