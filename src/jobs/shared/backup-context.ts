import type { Config } from '../../config/load.js'
import { ServiceRuntimes } from '../../systems/services.js'

/**
 * What every job that takes or reads backups works with: the configuration, the runtimes that
 * reach the postgres service (pg_dump in its container, stopping it for a swap), and the version
 * that writes the manifests. The backup jobs, the restores and maintain weekly share it.
 */
export interface BackupContext {
  config: Readonly<Config>
  runtimes: ServiceRuntimes
  toolVersion: string
}

export function backupContext(config: Readonly<Config>, toolVersion: string): BackupContext {
  return { config, runtimes: new ServiceRuntimes(config), toolVersion }
}
