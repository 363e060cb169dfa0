import { existsSync } from 'node:fs'
import { describeInterruptedSwitch, describeLeftStopped, interruptedRecovery, interruptedSwitch, leftStopped } from '../../backups/run-notes.js'
import { findInRepositories } from '../../backups/catalog.js'
import { LATEST, findBackup, listBackups, type StoredBackup } from '../../backups/store.js'
import { newestArchived, walDir } from '../../backups/wal.js'
import type { Config } from '../../config/load.js'
import { UsageError } from '../../errors.js'
import { backupContext } from '../shared/backup-context.js'
import type {
  CleanupContext,
  CleanupOptions,
  FullRestoreContext,
  FullRestoreOptions,
  PartialRestoreContext,
  PartialRestoreOptions,
  PhysicalRestoreOptions,
  PitrContext,
  PitrRestoreOptions,
} from './context.js'
import { choosePitrBase, targetRefusal } from './planning.js'

/**
 * What every restore checks before it starts, and the context it builds: a restore never starts
 * over what an interrupted one left (that is `restore --cleanup`'s), and a backup that cannot
 * serve the request is the user's mistake, refused before anything is asked or changed.
 */

async function checkNothingInterrupted(config: Readonly<Config>): Promise<void> {
  // With backup.repositories, backup.dir may not exist yet: a fresh host restoring from an off-site
  // repository (the disaster case). Alone, it is where every backup is.
  if (config.backup.repositories === undefined && !existsSync(config.backup.dir))
    throw new UsageError(`the backup directory ${config.backup.dir} does not exist`, 'set backup.dir, or take a backup first: probe-ops backup database')
  const switching = await interruptedSwitch(config)
  if (switching) throw new UsageError(describeInterruptedSwitch(switching), 'probe-ops restore --cleanup finishes or undoes it first')
  const stopped = await leftStopped(config)
  if (stopped) throw new UsageError(describeLeftStopped(stopped), 'probe-ops restore --cleanup starts them again first')
  const recovering = await interruptedRecovery(config)
  if (recovering)
    throw new UsageError(
      `a recovery into ${recovering.recovered} was interrupted (started ${recovering.startedAt})`,
      'probe-ops restore --cleanup removes what it left first',
    )
}

/** Nothing interrupted, then the backup named in every repository (or those --repository picks). */
async function findNamed(config: Readonly<Config>, options: { backup: string; repositories?: string[] | undefined }, kind: 'database' | 'base') {
  await checkNothingInterrupted(config)
  return findInRepositories(config.backup, { name: options.backup, database: config.postgres.database, kind, repositories: options.repositories })
}

/**
 * What both dump restores start from: nothing interrupted, the dump named in every repository (or
 * those --repository picks), and where a restore reads it first (a local copy that needs no
 * staging; else the verify step stages one).
 */
async function dumpContext(config: Readonly<Config>, options: FullRestoreOptions | PartialRestoreOptions, toolVersion: string) {
  const { entry, unreadable } = await findNamed(config, options, 'database')
  const local = entry.copies.find((copy) => copy.path !== undefined && !copy.manifest.encryption)
  const backup: StoredBackup = { manifest: (local ?? entry.copies[0]!).manifest, path: local?.path ?? '' }
  return { ...backupContext(config, toolVersion), backup, copies: entry.copies, unreadable, at: new Date() }
}

export async function fullRestoreContext(config: Readonly<Config>, options: FullRestoreOptions, toolVersion: string): Promise<FullRestoreContext> {
  const context = await dumpContext(config, options, toolVersion)
  return { ...context, ownership: { owners: !options.noOwner, privileges: !options.noPrivileges }, state: {} }
}

export async function partialRestoreContext(config: Readonly<Config>, options: PartialRestoreOptions, toolVersion: string): Promise<PartialRestoreContext> {
  const context = await dumpContext(config, options, toolVersion)
  return { ...context, tables: options.tables, intoSchema: options.intoSchema, state: {} }
}

/** Chooses the base backup, or refuses a target outside what the backups and the WAL archive cover. */
export async function pitrContext(config: Readonly<Config>, options: PitrRestoreOptions, toolVersion: string): Promise<PitrContext> {
  await checkNothingInterrupted(config)
  const { backups, unreadable } = await listBackups(config.backup.dir)
  const bases = backups.filter((b) => b.manifest.kind === 'base' && b.manifest.consistentAt)
  // Without any base backup that is the reason to give, whatever was named.
  const named =
    options.backup === LATEST || bases.length === 0 ? undefined : (await findBackup(config.backup.dir, options.backup, config.postgres.database, 'base')).backup
  const { base, window } = choosePitrBase(bases, await newestArchived(walDir(config)), options.target, named)
  if (base.manifest.wal) await checkTargetReach(config, base.manifest.id, options.target)
  return { ...backupContext(config, toolVersion), base, unreadable, target: options.target, window, sideOnly: options.sideOnly, at: new Date(), state: {} }
}

/**
 * A physical full restore: the base backup named (or latest-base) in every repository, or those
 * --repository picks; its copies are tried in that order by the prepare step.
 */
export async function physicalContext(config: Readonly<Config>, options: PhysicalRestoreOptions, toolVersion: string): Promise<PitrContext> {
  const { entry, unreadable } = await findNamed(config, options, 'base')
  const base: StoredBackup = { manifest: entry.copies[0]!.manifest, path: '' }
  if (options.target && base.manifest.wal) await checkTargetReach(config, base.manifest.id, options.target)
  return {
    ...backupContext(config, toolVersion),
    base,
    copies: entry.copies,
    unreadable,
    ...(options.target ? { target: options.target } : {}),
    sideOnly: options.sideOnly,
    at: new Date(),
    state: {},
  }
}

/** Reading every repository's WAL listing before a restore starts: bounded, as the catalog is. */
const REACH_TIMEOUT_MS = 300_000

/** A --target-time the archived WAL cannot take the base to: exit 2, naming the windows (planning.ts targetRefusal). */
async function checkTargetReach(config: Readonly<Config>, baseId: string, target: Date): Promise<void> {
  const { windowsAcrossRepositories } = await import('../../backups/wal-inventory.js')
  const encryption = config.backup.encryption
  const recoverable = await windowsAcrossRepositories(config.backup, {
    identityFile: encryption?.identityFile,
    runner: encryption?.program,
    signal: AbortSignal.timeout(REACH_TIMEOUT_MS),
  })
  // A repository that could not be read: what recovery finds is unknown, and PostgreSQL says it.
  if (!recoverable) return
  const window = recoverable.windows.find((w) => w.base === baseId)
  const refusal = targetRefusal(baseId, target, { ...(window ? { window } : {}), windows: recoverable.windows })
  if (refusal) throw refusal
}

export function cleanupContext(config: Readonly<Config>, options: CleanupOptions, toolVersion: string): CleanupContext {
  return { ...backupContext(config, toolVersion), dropPreRestore: options.dropPreRestore }
}
