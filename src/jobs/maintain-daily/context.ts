import type { Config } from '../../config/load.js'

export interface MaintenanceContext {
  config: Readonly<Config>
  /** Fixed once at the start of the run, so every step and batch ages rows by the same clock. */
  startedAt: Date
}
