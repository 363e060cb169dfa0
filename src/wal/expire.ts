import { formatSize, plural } from '../lib/format.js'
import { parseWalFileName, type Segment } from './names.js'
import type { ArchivedWal, BaseWal } from './timeline.js'

/**
 * What prune removes from a repository's wal/ (design-14 §4.4, pgBackRest's and WAL-G's expire).
 * Pure planning: the caller lists the repository, passes the base backups the prune plan keeps
 * there, and deletes what this returns (or, with --dry-run, shows it).
 *
 * The oldest kept base, B, sets the floor: B's `wal.start`. Below it no kept base needs WAL, so
 * in B's archive every segment, `.backup` and `.partial` whose segment number is below the
 * floor's goes, on any timeline, with the legacy plain copies below it; archive generations older
 * than B's go whole. History files stay (a few bytes each, and recovery reads them to follow
 * timelines), except those of the generations that go. What is not a WAL name, or belongs to an
 * archive id this cannot read, is never removed. Safe beside a running `wal push`: pushes add
 * at the head, and the floor is at or behind the oldest committed base's start.
 */

export interface WalObject extends ArchivedWal {
  /** The object's key in the repository. */
  key: string
  bytes: number
}

export interface ExpiryInput {
  /** The repository's name, for the messages. */
  repository: string
  /** Every WAL object the repository holds. */
  listing: readonly WalObject[]
  /** The base backups the prune plan keeps in this repository (good ones, with `wal`). */
  keptBases: readonly Pick<BaseWal, 'id' | 'consistentAt' | 'wal'>[]
  /** The repository's `prune` setting: false leaves retention to the bucket's lifecycle rule. */
  prune: boolean
}

export interface WalExpiry {
  repository: string
  /** Where the kept WAL starts: the oldest kept base's first segment. */
  floor?: { archiveId: string; segment: string; base: string }
  /** What goes (in key order), whether or not it is deleted (see `deletes`). */
  remove: WalObject[]
  removeBytes: number
  /** The archive generations that go whole. */
  archivesRemoved: string[]
  /** Whether prune deletes `remove`: not with `prune: false`, and nothing without a base. */
  deletes: boolean
  /** Something a person should know (a `medium` finding): WAL that nothing can replay. */
  finding?: string
  /** Why nothing is deleted, when that is by setting. */
  note?: string
}

/** The generation of an archive id (15-2 → 2); undefined for what is not one. */
function generationOf(archiveId: string): number | undefined {
  const match = /^\d+-(\d+)$/.exec(archiveId)
  return match ? Number(match[1]) : undefined
}

function oldest<T extends Pick<BaseWal, 'consistentAt'>>(bases: readonly T[]): T | undefined {
  return bases.reduce<T | undefined>(
    (found, base) => (found === undefined || new Date(base.consistentAt) < new Date(found.consistentAt) ? base : found),
    undefined,
  )
}

/** Whether the object goes, given the floor in archive `archiveId` of generation `generation`. */
function expires(object: WalObject, archiveId: string, generation: number, floor: Segment, segmentBytes: number): boolean {
  const file = parseWalFileName(object.name, segmentBytes)
  if (file === undefined) return false
  if (object.archiveId !== undefined && object.archiveId !== archiveId) {
    const other = generationOf(object.archiveId)
    return other !== undefined && other < generation
  }
  return file.kind !== 'history' && file.segment.number < floor.number
}

export function planWalExpiry(input: ExpiryInput): WalExpiry {
  const base = oldest(input.keptBases)
  const note = input.prune ? {} : { note: `retention of ${input.repository} is left to its lifecycle rule (prune: false)` }
  if (base === undefined) {
    const bytes = input.listing.reduce((sum, object) => sum + object.bytes, 0)
    const finding =
      input.listing.length === 0
        ? {}
        : { finding: `${input.repository} holds ${formatSize(bytes)} of WAL and no base backup: nothing can replay it; take one (backup base)` }
    return { repository: input.repository, remove: [], removeBytes: 0, archivesRemoved: [], deletes: false, ...finding, ...note }
  }
  const { archiveId, start, segmentBytes } = base.wal
  const floor = parseWalFileName(start, segmentBytes)
  const generation = generationOf(archiveId)
  if (floor?.kind !== 'segment' || generation === undefined)
    throw new RangeError(`base ${base.id}: wal.start ${start} of archive ${archiveId} is not a segment of an archive`)
  const remove = input.listing
    .filter((object) => expires(object, archiveId, generation, floor.segment, segmentBytes))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const archivesRemoved = [
    ...new Set(remove.flatMap((object) => (object.archiveId !== undefined && object.archiveId !== archiveId ? [object.archiveId] : []))),
  ].sort()
  return {
    repository: input.repository,
    floor: { archiveId, segment: start, base: base.id },
    remove,
    removeBytes: remove.reduce((sum, object) => sum + object.bytes, 0),
    archivesRemoved,
    deletes: input.prune,
    ...note,
  }
}

/**
 * One line for the report: "would remove 1,234 WAL files (2.1 GiB) older than 0000…3F, where
 * base-20261118T010000000Z (the oldest base backup kept) starts". `verb`: "would remove" for
 * --dry-run and `prune: false`, "removed" once done.
 */
export function describeWalExpiry(expiry: WalExpiry, verb: string): string {
  return describeWalRemoval({ ...expiry, files: expiry.remove.length, bytes: expiry.removeBytes }, verb)
}

/** The same line from the counts alone (what a report keeps of an expiry). */
export function describeWalRemoval(
  expiry: Pick<WalExpiry, 'repository' | 'floor' | 'archivesRemoved' | 'finding'> & { files: number; bytes: number },
  verb: string,
): string {
  if (expiry.floor === undefined) return expiry.finding ?? `${expiry.repository}: no WAL and no base backup`
  const count = `${plural(expiry.files, 'WAL file')} (${formatSize(expiry.bytes)})`
  const archives =
    expiry.archivesRemoved.length === 0
      ? ''
      : `, with the whole of ${expiry.archivesRemoved.length === 1 ? 'archive' : 'archives'} ${expiry.archivesRemoved.join(', ')}`
  return `${expiry.repository}: ${verb} ${count} older than ${expiry.floor.segment}${archives}, where ${expiry.floor.base} (the oldest base backup kept) starts`
}
