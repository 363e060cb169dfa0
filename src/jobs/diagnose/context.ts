import type { Config } from '../../config/load.js'
import type { CpuSample } from '../../systems/host.js'
import type { ServiceRuntimes } from '../../systems/services.js'

/** `diagnose --since --check-timeout`: what the command's flags ask of the job, over the configuration's defaults. */
export interface DiagnoseOptions {
  /** How far back to read service logs. */
  sinceMs?: number
  /** How long each check may take. */
  checkTimeoutMs?: number
}

export interface DiagnoseContext {
  config: Readonly<Config>
  runtimes: ServiceRuntimes
  /** Started with the job, so the host step's sample is over by the time it runs. */
  cpuSample: CpuSample
  sinceMs: number
  checkTimeoutMs: number
}

/**
 * Slack over a check's own timeout before the runner gives up on it. A check's own bounds end it
 * first; this only fires when the host is too loaded to say what it found, and half a second was
 * not enough on a loaded 2-core machine (an incident's host may well be one), where the specific
 * answer ("stopped by a signal") matters more than a second.
 */
const BACKSTOP_MS = 1000

/** Every check's bound: its own timeout, and a moment to say what it found. */
export function checkBound(context: DiagnoseContext): number {
  return context.checkTimeoutMs + BACKSTOP_MS
}
