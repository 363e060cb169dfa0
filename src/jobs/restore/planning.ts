import type { BackupManifest, StoredBackup } from '../../backups/store.js'
import type { StoppedServicesNote } from '../../backups/run-notes.js'
import type { Config } from '../../config/load.js'
import { StepFailure, UsageError } from '../../errors.js'
import { describeGap, mergedSpans } from '../../wal/window-text.js'
import type { Window } from '../../wal/timeline.js'
import { formatSize } from '../../lib/format.js'
import { DEFAULT_SEGMENT_BYTES } from '../../wal/names.js'

/**
 * The decisions of a restore, as pure functions of what was found: how much disk it needs, which
 * base backup a point-in-time recovery starts from, which tables a partial restore names, and
 * what `restore --cleanup` does with what an interrupted restore left. The steps find the facts
 * and act; these decide, and are unit-tested on their own.
 */

// ----- Disk -----

export interface DiskNeeds {
  /** The restored copy beside the live database. */
  copyBytes: number
  /** The safety backup of the live database (none when there is no live database). */
  safetyBytes: number
  /** What lands on the backup directory's disk: the safety backup, and the copy too when both share a disk. */
  inBackupDir: number
}

/**
 * A restore needs room for a second copy of the database beside the live one, and, in the
 * backup directory, for the safety backup: the live database compressed as well as the backup
 * was. Both count against one disk when they share it.
 */
export function diskNeeds(manifest: Pick<BackupManifest, 'bytes' | 'databaseBytes'>, liveBytes: number | undefined, shared: boolean): DiskNeeds {
  // An older manifest without the database's size: a dump is about a quarter of it.
  const copyBytes = Math.round((manifest.databaseBytes ?? manifest.bytes * 4) * 1.2)
  // No live database, no safety backup. A backup taken at a higher compression level than today's is smaller: hence the margin.
  const ratio = manifest.databaseBytes ? manifest.bytes / manifest.databaseBytes : 0.25
  const safetyBytes = liveBytes === undefined ? 0 : Math.round(liveBytes * ratio * 1.5)
  return { copyBytes, safetyBytes, inBackupDir: shared ? safetyBytes + copyBytes : safetyBytes }
}

/**
 * Which disk is too small for the restore, keeping `reserve` free on each: the backup
 * directory's (checked first: the safety backup is written before anything else), PostgreSQL's,
 * or none. A disk whose free space is unknown is not refused here.
 */
export function diskShortfall(needs: DiskNeeds, free: { backupDir?: number; dataDir?: number }, reserve: number): 'backup-dir' | 'data-dir' | undefined {
  if (free.backupDir !== undefined && free.backupDir - needs.inBackupDir < reserve) return 'backup-dir'
  if (free.dataDir !== undefined && free.dataDir - needs.copyBytes < reserve) return 'data-dir'
  return undefined
}

/** What a physical restore puts on the disk of the side data directory (planning.ts's physicalDiskNeeds). */
export interface PhysicalDiskNeeds {
  /** The base unpacked: 1.2 × the databases' size its manifest records, or an estimate without one. */
  dataBytes: number
  /** No size recorded: 4 × the compressed base (a tar.zst of a cluster's files is about a quarter of them). */
  estimated: boolean
  /** The WAL spool beside it: walPrefetch segments ready ahead, and the one being copied. */
  spoolBytes: number
}

export function physicalDiskNeeds(manifest: Pick<BackupManifest, 'bytes' | 'databaseBytes' | 'wal'>, walPrefetch: number): PhysicalDiskNeeds {
  const estimated = manifest.databaseBytes === undefined
  const dataBytes = Math.round((manifest.databaseBytes ?? manifest.bytes * 4) * 1.2)
  return { dataBytes, estimated, spoolBytes: (walPrefetch + 1) * (manifest.wal?.segmentBytes ?? DEFAULT_SEGMENT_BYTES) }
}

/** The refusal of a physical restore whose disk is too small (keeping `reserve` free), or undefined. */
export function physicalDiskRefusal(id: string, needs: PhysicalDiskNeeds, disk: { path: string; freeBytes: number }, reserve: number): StepFailure | undefined {
  const total = needs.dataBytes + needs.spoolBytes
  if (disk.freeBytes - total >= reserve) return undefined
  const how = needs.estimated ? '4 × its compressed size, as its manifest records no size of the databases' : 'its databases as recorded, and 20 %'
  return new StepFailure(
    `${id} needs about ${formatSize(total)} on ${disk.path} (${formatSize(needs.dataBytes)} unpacked: ${how}; ${formatSize(needs.spoolBytes)} of WAL spool), which has ${formatSize(disk.freeBytes)} free and must keep ${formatSize(reserve)}`,
    'free space there (or lower restore.reserveBytes, restore.walPrefetch); nothing was changed and the live cluster was not touched',
  )
}

// ----- Point-in-time recovery -----

/** From when to when the base backups and the WAL archive let a recovery stop (ISO times). */
export interface RecoveryWindow {
  from: string
  to: string
}

/**
 * The base backup a recovery to `target` starts from: `named` if given (it must become consistent
 * before the target), else the newest one that did. A target outside the window the base backups
 * (`bases`, newest first) and the newest archived WAL segment cover is refused with the window.
 */
export function choosePitrBase(
  bases: readonly StoredBackup[],
  newestWal: Date | undefined,
  target: Date,
  named: StoredBackup | undefined,
): { base: StoredBackup; window: RecoveryWindow } {
  const usable = bases.filter((b) => b.manifest.kind === 'base' && b.manifest.consistentAt)
  if (usable.length === 0)
    throw new UsageError(
      'there is no base backup to recover from',
      'take one: probe-ops backup base (with WAL archiving set up: probe-ops backup wal-setup --apply)',
    )
  const at = target.toISOString()
  const before = usable.filter((b) => b.manifest.consistentAt! <= at).sort((a, b) => b.manifest.consistentAt!.localeCompare(a.manifest.consistentAt!))
  // A named base backup that cannot reach the target is the reason to give, before the window.
  if (named && !named.manifest.consistentAt)
    throw new UsageError(
      `base backup ${named.manifest.id} does not record when it became consistent`,
      'it was not finished by probe-ops backup base; take a new one',
    )
  if (named && named.manifest.consistentAt! > at) {
    throw new UsageError(
      `base backup ${named.manifest.id} is consistent only from ${named.manifest.consistentAt}, after --target-time ${at}: recovery from it cannot stop earlier`,
      before.length
        ? `use a base backup taken before the target (the newest: ${before[0]!.manifest.id}, consistent from ${before[0]!.manifest.consistentAt}), or "latest" to let probe-ops choose it`
        : 'no base backup is older than the target; choose a later --target-time',
    )
  }
  const from = usable.map((b) => b.manifest.consistentAt!).sort()[0]!
  const to = (newestWal ?? new Date(usable[0]!.manifest.consistentAt!)).toISOString()
  if (at < from || at > to) {
    throw new UsageError(
      `--target-time ${at} is outside the recoverable window ${from} .. ${to}`,
      'choose a time in that window (base backups: probe-ops backup list; WAL: backup.walDir)',
    )
  }
  return { base: named ?? before[0]!, window: { from, to } }
}

// ----- Physical full restore -----

/** How far the WAL archive takes a base backup (wal/timeline.ts's window), and every window, for the refusal. */
export interface ArchiveReach {
  /** The base's own window; undefined when no repository could say. */
  window?: Pick<Window, 'to' | 'endsAtGap' | 'reachesStop'>
  windows: readonly Pick<Window, 'from' | 'to'>[]
}

/**
 * A --target-time past what the archived WAL takes the base to (a gap, or the end of the archive)
 * is the user's mistake, said before anything changes, with the windows a target may be in: a
 * recovery that runs out of WAL before its target stops with PostgreSQL's FATAL after the
 * download and unpack. The window's end is the archived time of its last segment, a bound no
 * record in it is later than: a target past it is never reachable.
 */
export function targetRefusal(baseId: string, target: Date, reach: ArchiveReach): UsageError | undefined {
  const { window } = reach
  const at = target.toISOString()
  // A chain broken before the base's stop segment: the base's own pg_wal may bridge it (-X fetch), so this cannot tell.
  if (!window?.reachesStop || Date.parse(at) <= Date.parse(window.to)) return undefined
  const why = window.endsAtGap ? `: WAL ${describeGap(window.endsAtGap)} is missing from the archive after that` : `: the newest WAL archived from it is older`
  const spans = mergedSpans(reach.windows)
    .map((span) => `${span.from} .. ${span.to}`)
    .join(', ')
  return new UsageError(
    `--target-time ${at} is past what the WAL archive recovers ${baseId} to (${window.to})${why}`,
    `the recoverable windows: ${spans}; choose a time in one, with a base backup of that window (probe-ops backup list), or take a base backup now (probe-ops backup base)`,
  )
}

/** Where replay stops, as the reports say it. */
export function replayEnd(target: Date | undefined): string {
  return target ? target.toISOString() : 'the end of the archived WAL'
}

/** The PostgreSQL major a base backup is of: its archive id's (15-1), else its server version's (15.10). */
export function baseMajor(manifest: Pick<BackupManifest, 'wal' | 'serverVersion'>): number | undefined {
  const given = manifest.wal?.archiveId ?? manifest.serverVersion
  const major = given === undefined ? undefined : /^(\d+)/.exec(given)?.[1]
  return major === undefined ? undefined : Number(major)
}

/** The major of the PostgreSQL programs, as `pg_ctl --version` says it ("pg_ctl (PostgreSQL) 15.10 (Debian…)"). */
export function programsMajor(versionOutput: string): number | undefined {
  const major = /\(PostgreSQL\) (\d+)/.exec(versionOutput)?.[1]
  return major === undefined ? undefined : Number(major)
}

/**
 * Whether a base backup can become this host's cluster: it must be of the programs' major (a data
 * directory does not move between majors: that is what a dump is for), and a --target-time must
 * not come before the base became consistent. The first reason it cannot, as the user's mistake.
 */
export function physicalRefusal(
  manifest: Pick<BackupManifest, 'id' | 'kind' | 'wal' | 'serverVersion' | 'consistentAt'>,
  programs: number | undefined,
  target: Date | undefined,
): UsageError | undefined {
  if (manifest.kind !== 'base')
    return new UsageError(`${manifest.id} is a ${manifest.kind} backup, not a base backup`, 'choose a base backup (probe-ops backup list), or latest-base')
  const major = baseMajor(manifest)
  if (major !== undefined && programs !== undefined && major !== programs)
    return new UsageError(`${manifest.id} is PostgreSQL ${major}; this server is ${programs}: restore a dump instead`, 'probe-ops restore latest --mode full')
  if (!manifest.consistentAt)
    return new UsageError(
      `base backup ${manifest.id} does not record when it became consistent`,
      'it was not finished by probe-ops backup base; take a new one',
    )
  if (target && target.toISOString() < manifest.consistentAt)
    return new UsageError(
      `base backup ${manifest.id} is consistent only from ${manifest.consistentAt}, after --target-time ${target.toISOString()}: recovery from it cannot stop earlier`,
      'choose an older base backup (probe-ops backup list), or a later --target-time',
    )
  return undefined
}

// ----- Partial restores -----

/** The manifest's name of each table given as `t` or `schema.t`; a table the backup does not have is refused. */
export function resolveTables(given: readonly string[], manifestTables: readonly { name: string }[] | undefined): string[] {
  const known = (manifestTables ?? []).map((t) => t.name)
  return given.map((name) => {
    const qualified = name.includes('.') ? name : `public.${name}`
    if (known.length > 0 && !known.includes(qualified)) throw new StepFailure(`the backup has no table ${name}`, `it has: ${known.join(', ')}`)
    return qualified
  })
}

// ----- What cleanup does after an interrupted restore -----

/** What the disk shows of an interrupted point-in-time switch. */
export interface SwitchFound {
  /** A directory at the live data directory's path. */
  live: boolean
  /** The old data directory moved aside. */
  aside: boolean
  /** The recovered data directory, not yet moved in. */
  recovered: boolean
  /** PostgreSQL runs. */
  running: boolean
}

/**
 * How `restore --cleanup` finishes or undoes an interrupted switch, from what is on disk:
 * - `put-back`: the live directory is gone and the old one aside: the old one goes back;
 * - `keep-recovered`: the recovered one is in place and PostgreSQL runs on it: never taken back;
 * - `start-recovered`: the recovered one is in place, PostgreSQL stopped: started on it (and put
 *   back if it cannot start);
 * - `start-own`: nothing was moved: PostgreSQL is started on its own directory;
 * - `unknown`: no way to tell how far it got (a directory made anew): left to the operator.
 */
export function switchDecision(found: SwitchFound): 'put-back' | 'keep-recovered' | 'start-recovered' | 'start-own' | 'unknown' {
  if (!found.live && found.aside) return 'put-back'
  if (found.live && found.aside && !found.recovered) return found.running ? 'keep-recovered' : 'start-recovered'
  if (found.live && !found.aside) return 'start-own'
  return 'unknown'
}

/** The renames that give the live name back to the database kept from before a restore. */
export interface Rollback {
  live: string
  /** The database kept from before, which takes the live name again. */
  incoming: string
  /** The restored copy, which goes back to its own name. */
  outgoing: string
}

/**
 * Whether the swap a killed restore noted must be rolled back: always when it was rolling back
 * already; after a finished swap only when the platform did not come up on the restored database
 * (`platformDown`); never before the names were swapped.
 */
export function rollbackNeeded(note: Pick<StoppedServicesNote, 'swap'>, platformDown = false): Rollback | undefined {
  const swap = note.swap
  if (!swap) return undefined
  if (swap.phase === 'rolling-back' || (swap.phase === 'swapped' && platformDown))
    return { live: swap.live, incoming: swap.preRestore, outgoing: swap.restored }
  return undefined
}

/**
 * The longest a swap can keep the platform down, from the bounds it waits on: each service
 * stopped, started and waited for, twice when the swap is rolled back, and a minute for the
 * database's own work.
 */
export function downtimeBoundMs(services: Readonly<Config>['services']): number {
  return 60_000 + 2 * services.reduce((sum, s) => sum + s.stopGraceSeconds * 1000 + s.readinessTimeoutMs + 30_000, 0)
}

/**
 * How the side cluster makes the unpacked data directory durable before it replays WAL (it
 * starts from a base backup, as after a crash): one syncfs of the filesystem instead of an fsync
 * of each of its thousands of files, seconds saved on every restore (docs/benchmarks.md, issue
 * 14). PostgreSQL 14 and later on Linux; elsewhere its default.
 */
export function syncAtStart(manifest: Pick<BackupManifest, 'wal' | 'serverVersion'>, platform: NodeJS.Platform = process.platform): Record<string, string> {
  const major = baseMajor(manifest)
  return platform === 'linux' && major !== undefined && major >= 14 ? { recovery_init_sync_method: 'syncfs' } : {}
}
