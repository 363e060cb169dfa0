import type { Leftover, StoredBackup } from '../../backups/store.js'
import type { BackupContext } from '../shared/backup-context.js'

/** `backup verify BACKUP [--restore-test]`. */
export interface VerifyOptions {
  /** An id, the path of its data or manifest, or "latest". */
  backup: string
  restoreTest: boolean
}

export interface VerifyContext extends BackupContext {
  backup: StoredBackup
  /** Manifests refused while finding it: reported, never used. */
  unreadable: Leftover[]
  restoreTest: boolean
}

/** `backup wal-setup [--apply]`. */
export interface WalSetupOptions {
  apply: boolean
}

export interface WalSetupContext extends BackupContext {
  apply: boolean
  state: {
    /** The settings step found archiving waiting for a restart (or not set up): nothing to check yet. */
    restartNeeded?: boolean
  }
}
