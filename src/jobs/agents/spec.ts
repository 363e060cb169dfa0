import { defineJob } from '../spec.js'
import { stepBound, type AgentsContext, type AgentsOptions } from './context.js'

/**
 * `probe-ops agents`: the fleet through the platform's own distributed engines, Prometheus and
 * Loki (and the agents table), never by logging in to a host. Read-only, so no lock.
 */
export const agents = defineJob({
  id: 'agents',
  command: 'agents',
  order: 'concurrent',
  steps: [
    {
      id: 'fleet',
      title: 'Agents',
      summary: 'every agent Prometheus scrapes (and the agents table lists): connection, heartbeat, tasks, resources, verdict',
      load: async () => (await import('./steps.js')).fleet,
    },
    {
      id: 'logs',
      title: "The agent's recent errors (Loki)",
      summary: 'with --agent and loki.url: its errors over the window, through LogQL',
      load: async () => (await import('./steps.js')).logs,
    },
  ],
  defaultTimeoutSeconds: (config) => Math.ceil(stepBound({ timeoutMs: Math.max(config.prometheus.timeoutMs, config.loki.timeoutMs) }) / 1000) + 2,
  context: (config, options: AgentsOptions): AgentsContext => ({
    config,
    ...(options.agent !== undefined ? { agent: options.agent } : {}),
    windowMs: options.windowMs ?? config.agents.windowMs,
    timeoutMs: config.prometheus.timeoutMs,
  }),
})
