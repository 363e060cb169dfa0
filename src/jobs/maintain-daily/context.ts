import type { Config } from '../../config/load.js'
import type { ServiceRuntimes } from '../../systems/services.js'

export interface MaintenanceContext {
  config: Config
  runtimes: ServiceRuntimes
  /** Fixed once at the start of the run, so every step and batch ages rows by the same clock. */
  startedAt: Date
}
