import type { BackupCopy, CatalogEntry } from '../../backups/catalog.js'
import type { Leftover } from '../../backups/store.js'
import type { BackupContext } from '../shared/backup-context.js'

/** --repository: the repositories a command reads (all, in configuration order, without). */
export interface RepositoryOptions {
  repositories?: string[]
}

/** `backup list` and `backup prune`. */
export interface CatalogContext extends BackupContext {
  repositories?: string[]
}

/** `backup verify BACKUP [--restore-test]`. */
export interface VerifyOptions extends RepositoryOptions {
  /** An id, the path of its data or manifest, or "latest". */
  backup: string
  restoreTest: boolean
}

export interface VerifyContext extends BackupContext {
  /** The backup named, with the copies the repositories read hold (in configuration order). */
  entry: CatalogEntry
  copies: BackupCopy[]
  state: {
    /** The copies whose checksum passed: the later checks read them. */
    passed: BackupCopy[]
    /** Verifications that could not be written to a copy's manifest, and why. */
    unrecorded: string[]
  }
  /** Manifests refused while finding it: reported, never used. */
  unreadable: Leftover[]
  restoreTest: boolean
}

/** `backup wal-setup [--apply] [--new-archive]`. */
export interface WalSetupOptions {
  apply: boolean
  /** With apply: a repository of another cluster (an upgrade, a restored cluster) starts a new archive generation. */
  newArchive?: boolean
}

export interface WalSetupContext extends BackupContext {
  apply: boolean
  newArchive: boolean
  state: {
    /** The settings step found archiving waiting for a restart (or not set up): nothing to check yet. */
    restartNeeded?: boolean
  }
}
