import type { StoredBackup } from '../../backups/store.js'
import type { BackupContext } from '../backup/context.js'

export interface RestoreContext extends BackupContext {
  backup: StoredBackup
  /** Fixed at the start: names the restored and the pre-restore databases. */
  at: Date
  /** What the steps learn and hand on. */
  state: { restoredDatabase?: string; preRestoreDatabase?: string; safetyBackup?: string }
}
