import type { Config } from '../../config/load.js'

/** `agents --agent --window`: what the command's flags ask of the job, over the configuration's defaults. */
export interface AgentsOptions {
  agent?: string
  windowMs?: number
}

export interface AgentsContext {
  config: Readonly<Config>
  /** One agent, or every one. */
  agent?: string
  windowMs: number
  /** Each source's bound (Prometheus's, the database's, Loki's). */
  timeoutMs: number
}

/** Sources are read at once, then the figures of each in a second round: two bounds, and a moment to report. */
export function stepBound(context: { timeoutMs: number }): number {
  return 2 * context.timeoutMs + 1000
}
