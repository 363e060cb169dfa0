import type { Leftover, StoredBackup } from '../../backups/store.js'
import type { OwnershipOptions } from '../../backups/verify.js'
import type { BackupContext } from '../backup/context.js'

export interface RestoreContext extends BackupContext {
  backup: StoredBackup
  /** Manifests refused while finding it: reported by the verify step, never used. */
  unreadable: Leftover[]
  /** Fixed at the start: names the restored and the pre-restore databases. */
  at: Date
  /** A full restore gives objects and the database their recorded owners and privileges. */
  ownership: OwnershipOptions
  /** What the steps learn and hand on. */
  state: { restoredDatabase?: string; preRestoreDatabase?: string; safetyBackup?: string }
}
