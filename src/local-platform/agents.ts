import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { freePorts } from '../lib/ports.js'
import { agentId, agentStates, type AgentSpec, type AgentState } from './agent-metrics.js'
import type { AgentsExporterSpec } from './agents-exporter.js'
import { startReadyService, type RunningService } from './services.js'

/**
 * Generated probe agents (agent-metrics.ts says what each exports and logs): one process,
 * agents-exporter.js, with a port of its own for each agent, and their logs pushed to Loki.
 */

export { AGENT_STATES, AGENT_PROFILES, type AgentSpec, type AgentState } from './agent-metrics.js'

const LOOPBACK = '127.0.0.1'

/** `count` agents with the states asked for (the rest healthy), each on a free loopback port. */
export async function planAgents(count: number, states: Partial<Record<AgentState, number>> = {}): Promise<AgentSpec[]> {
  const chosen = agentStates(count, states)
  const ports = await freePorts(count)
  return chosen.map((state, index) => ({ id: agentId(index), state, port: ports[index]! }))
}

/** The address Prometheus scrapes an agent at. */
export function agentTarget(agent: AgentSpec): string {
  return `${LOOPBACK}:${agent.port}`
}

/**
 * The command that runs the exporter: the built script beside this module, or, when this module
 * is the TypeScript source (the test bed, the benches), that source through tsx.
 */
export function agentsExporterCommand(specFile: string, pidFile: string): string[] {
  const here = fileURLToPath(import.meta.url)
  const script = here.endsWith('.ts') ? here.replace(/agents\.ts$/, 'agents-exporter.ts') : here.replace(/agents\.js$/, 'agents-exporter.js')
  const loader = here.endsWith('.ts') ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : []
  return [process.execPath, ...loader, script, '--spec', specFile, '--pid-file', pidFile]
}

export interface AgentFleetOptions {
  agents: readonly AgentSpec[]
  /** agents.json (the exporter's spec) goes here. */
  dir: string
  /** Written by the exporter once every agent's port listens. */
  pidFile: string
  logFile: string
  /** Where the agents' logs go (http://host:port), every `logIntervalSeconds` (5 by default). */
  lokiUrl?: string
  logIntervalSeconds?: number
  newSession?: boolean
  onStarted?: (service: RunningService) => void | Promise<void>
}

export async function startAgentFleet(options: AgentFleetOptions): Promise<RunningService & { agents: readonly AgentSpec[] }> {
  const specFile = join(options.dir, 'agents.json')
  const spec: AgentsExporterSpec = {
    host: LOOPBACK,
    agents: [...options.agents],
    ...(options.lokiUrl ? { loki: { url: options.lokiUrl, intervalSeconds: options.logIntervalSeconds ?? 5 } } : {}),
  }
  await writeFile(specFile, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o644 })
  const [command, ...args] = agentsExporterCommand(specFile, options.pidFile)
  let pid: number | undefined
  const service = await startReadyService(
    { name: 'agents-exporter', command: command!, args, logFile: options.logFile, cwd: options.dir, newSession: options.newSession },
    {
      what: `the ${options.agents.length} generated agents to listen`,
      probe: async () => existsSync(options.pidFile) && (await readFile(options.pidFile, 'utf8')).trim() === String(pid),
      timeoutMs: 20_000,
    },
    async (started) => {
      pid = started.pid
      await options.onStarted?.(started)
    },
  )
  return Object.assign(service, { agents: options.agents })
}
