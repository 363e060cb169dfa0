import type { BackupCopy } from '../../backups/catalog.js'
import type { Leftover, StoredBackup } from '../../backups/store.js'
import type { OwnershipOptions } from '../../backups/verify.js'
import type { OsUser } from '../../systems/os-user.js'
import type { WalSpool } from '../../wal/spool.js'
import type { BackupContext } from '../shared/backup-context.js'
import type { RecoveryWindow } from './planning.js'
import type { TablePlan } from './table-merge.js'

/** `restore --mode full`: what the flags ask of it. */
export interface FullRestoreOptions {
  mode: 'full'
  backup: string
  /** --repository: read only from these (all, in configuration order, without). */
  repositories?: string[]
  /** Leave objects and the database to the restoring user (pg_restore --no-owner). */
  noOwner: boolean
  /** Skip GRANTs on objects and on the database (pg_restore --no-privileges). */
  noPrivileges: boolean
}

/** `restore --mode partial`. */
export interface PartialRestoreOptions {
  mode: 'partial'
  backup: string
  repositories?: string[]
  /** As given: `t` or `schema.t`. */
  tables: string[]
  /** Restore beside the live tables, into this schema. */
  intoSchema?: string
}

/** `restore --mode pitr`. */
export interface PitrRestoreOptions {
  mode: 'pitr'
  /** A base backup, or "latest": the newest before the target. */
  backup: string
  target: Date
  repositories?: undefined
  /** Leave the recovered cluster running on its side port; do not switch. */
  sideOnly: boolean
}

/** `restore <base backup> --mode full`: the whole cluster from a base backup, to the end of the archived WAL or to a time. */
export interface PhysicalRestoreOptions {
  mode: 'physical'
  /** A base backup's id (or file, manifest), or "latest-base". */
  backup: string
  /** Stop replay here; without it, replay every archived segment. */
  target?: Date
  sideOnly: boolean
  /** --repository: read only from these (all, in configuration order, without). */
  repositories?: string[]
}

/** `restore --cleanup`. */
export interface CleanupOptions {
  mode: 'cleanup'
  /** Also drop the databases kept from before earlier restores. */
  dropPreRestore: boolean
}

export type RestoreOptions = FullRestoreOptions | PartialRestoreOptions | PitrRestoreOptions | PhysicalRestoreOptions | CleanupOptions

/** A restore of a database dump (full or partial). */
interface DumpRestoreContext extends BackupContext {
  /**
   * The copy restored from, as a file pg_restore reads: until the verify step has chosen one, the
   * first local copy that needs no staging (its path is '' when there is none).
   */
  backup: StoredBackup
  /** Every repository's copy, in the configuration's order: the verify step takes the first that passes. */
  copies: BackupCopy[]
  /** The repository the copy in `backup` came from. */
  repository?: string
  /** A copy staged in backup.dir (from S3, or encrypted): removed when the run ends. */
  staged?: string
  /** Manifests refused while finding it: reported by the verify step, never used. */
  unreadable: Leftover[]
  /** Fixed at the start: names the restored and the pre-restore databases. */
  at: Date
}

export interface FullRestoreContext extends DumpRestoreContext {
  /** Objects and the database get their recorded owners and privileges. */
  ownership: OwnershipOptions
  /** What the steps learn and hand on. */
  state: {
    /** The copy made beside the live database, until it is swapped in or dropped. */
    restoredDatabase?: string
    /** The live database as it was, under its new name, once swapped out. */
    preRestoreDatabase?: string
    safetyBackup?: string
  }
}

export interface PartialRestoreContext extends DumpRestoreContext {
  /** The tables to restore, as given (`t` or `schema.t`). */
  tables: string[]
  intoSchema?: string
  state: {
    /** How each table is restored: decided once, before the safety backup. */
    tablePlan?: TablePlan
    safetyBackup?: string
  }
}

/** The steps both kinds of dump restore share (verify, safety backup) take either. */
export type DumpContext = FullRestoreContext | PartialRestoreContext

/** The side cluster a point-in-time recovery builds and starts. */
export interface SideCluster {
  dataDir: string
  /** Set once it is configured: the port it starts on. */
  port?: number
  /** The OS user PostgreSQL runs as, which owns the data directory. */
  user?: OsUser
  /** The live cluster's data directory, when visible from here: the recovered one goes beside it. */
  liveDir?: string
  /** The data directory has been given to PostgreSQL's user (giveTree began). */
  given?: boolean
  /** The directory is the operator's now (a failure names it, or the switch took it): never discarded. */
  kept?: boolean
  /** The discarding under way or done (see discardRecovered), so that it happens once. */
  discarding?: Promise<string | undefined>
  /** The WAL spool its restore_command reads (wal/spool.ts): made in prepare, removed when the run ends. */
  spool?: string
  /** The spool's prefetcher, while recovery runs. */
  prefetcher?: WalSpool
}

/**
 * A recovery from a base backup: a point-in-time recovery (base in backup.dir, target given), or
 * a physical full restore (the base's copies in the repositories, target optional).
 */
export interface PitrContext extends BackupContext {
  /** The base backup the recovery starts from (for a physical restore, its path is '' until a copy is read). */
  base: StoredBackup
  /** A physical full restore: every repository's copy of the base, in order; the first that unpacks whole is used. */
  copies?: BackupCopy[]
  /** Manifests refused while choosing it: reported by the verify step, never used. */
  unreadable: Leftover[]
  /** Where replay stops; undefined: at the end of the archived WAL. */
  target?: Date
  /** The window the base backups and the WAL archive cover (point-in-time recovery). */
  window?: RecoveryWindow
  sideOnly: boolean
  /** Fixed at the start: names the directories beside the live one. */
  at: Date
  state: { pitr?: SideCluster }
}

export interface CleanupContext extends BackupContext {
  dropPreRestore: boolean
}
