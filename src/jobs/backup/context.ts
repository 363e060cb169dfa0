import type { Config } from '../../config/load.js'
import type { ServiceRuntimes } from '../../systems/services.js'

export interface BackupContext {
  config: Config
  runtimes: ServiceRuntimes
  toolVersion: string
}
