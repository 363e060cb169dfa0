import { parseLsn, parseWalFileName, segmentName, type HistoryEntry, type Segment } from './names.js'

/**
 * How far the WAL archive of a repository can take each base backup, and where it has holes
 * (design-14 §4.5). Pure: the caller lists the repository and reads the history files.
 *
 * A base's chain runs from its `wal.start` forward, segment by segment, on the path recovery
 * follows with recovery_target_timeline = latest: the newest timeline whose history passes
 * through the base's timeline after the base was consistent. When timeline N ends at LSN X,
 * the next one starts at the segment holding X (PostgreSQL copies the part before X into it), so
 * N is needed up to the segment before; the `.partial` N leaves is never needed. The chain stops
 * at the first missing segment. The window ends at that last segment's *archived* time: every
 * record in it is older, so the end is conservative.
 */

export interface ArchivedWal {
  /** The archive generation (15-1); undefined for a legacy plain copy (wal/<name>), which counts in every archive. */
  archiveId?: string
  /** The file's name as PostgreSQL gave it. */
  name: string
  /** When it was archived (the object's modification time). */
  archivedAt: Date
  bytes?: number
}

export interface TimelineHistory {
  archiveId: string
  /** The timeline whose history file this is. */
  timeline: number
  /** Its lines, parsed: each timeline before it and where it ended. */
  entries: HistoryEntry[]
}

export interface BaseWal {
  /** The base backup's id. */
  id: string
  /** When the base is consistent (the end of the backup): the earliest target it can recover to. */
  consistentAt: string
  wal: { archiveId: string; timeline: number; start: string; stop: string; stopLsn: string; segmentBytes: number }
}

export interface Gap {
  archiveId: string
  timeline: number
  first: string
  last: string
  count: number
}

export interface Window {
  base: string
  archiveId: string
  /** The base's consistentAt. */
  from: string
  /** The archived time of the last contiguous segment (never before `from`). */
  to: string
  /** The last contiguous segment; undefined when not even the base's first is archived. */
  lastSegment?: string
  /** False when the chain breaks before the base's stop segment: the archive alone cannot make it consistent (to = from). */
  reachesStop: boolean
  /** The gap the chain stops at, when segments are archived past it. */
  endsAtGap?: Gap
}

export interface Recoverable {
  windows: Window[]
  gaps: Gap[]
  /** The most recently archived segment of any archive. */
  newest?: { segment: string; archivedAt: string }
}

/** A stretch of one timeline the path goes through: segments from..to (to undefined: onwards). */
interface Leg {
  timeline: number
  from: bigint
  to?: bigint
}

/** The segments of one archive: timeline → segment number → archived time. */
type Present = Map<number, Map<bigint, Date>>

function presentIn(listing: readonly ArchivedWal[], archiveId: string, segmentBytes: number): Present {
  const present: Present = new Map()
  for (const entry of listing) {
    if (entry.archiveId !== undefined && entry.archiveId !== archiveId) continue
    const file = parseWalFileName(entry.name, segmentBytes)
    if (file?.kind !== 'segment') continue
    const timeline = present.get(file.segment.timeline) ?? new Map<bigint, Date>()
    present.set(file.segment.timeline, timeline)
    const known = timeline.get(file.segment.number)
    if (known === undefined || entry.archivedAt < known) timeline.set(file.segment.number, entry.archivedAt)
  }
  return present
}

function segmentOf(base: BaseWal, which: 'start' | 'stop'): Segment {
  const file = parseWalFileName(base.wal[which], base.wal.segmentBytes)
  if (file?.kind !== 'segment') throw new RangeError(`base ${base.id}: wal.${which} ${base.wal[which]} is not a segment name`)
  return file.segment
}

/** The timelines recovery goes through from the base, as legs (recovery_target_timeline = latest). */
function pathOf(base: BaseWal, histories: readonly TimelineHistory[]): Leg[] {
  const start = segmentOf(base, 'start')
  const stopLsn = parseLsn(base.wal.stopLsn)
  let target = base.wal.timeline
  let switches: HistoryEntry[] = []
  for (const history of histories) {
    if (history.archiveId !== base.wal.archiveId || history.timeline <= target) continue
    const at = history.entries.findIndex((entry) => entry.parent === base.wal.timeline)
    // A timeline that branched off before the base was consistent is not one this base can follow.
    if (at === -1 || history.entries[at]!.switchLsn < stopLsn) continue
    target = history.timeline
    switches = history.entries.slice(at)
  }
  const legs: Leg[] = []
  let from = start.number
  for (const entry of switches) {
    const switchSegment = entry.switchLsn / BigInt(base.wal.segmentBytes)
    legs.push({ timeline: entry.parent, from, to: switchSegment - 1n })
    from = switchSegment
  }
  legs.push({ timeline: target, from })
  return legs
}

interface Reached {
  last?: Segment & { archivedAt: Date }
  /** The first segment the chain lacks. */
  missing: Segment
}

/** The chain along the legs, up to the first missing segment (the loop stops there: at most one step per archived segment). */
function walk(present: Present, legs: readonly Leg[]): Reached {
  let last: Reached['last']
  for (const leg of legs) {
    const have = present.get(leg.timeline)
    for (let number = leg.from; leg.to === undefined || number <= leg.to; number++) {
      const archivedAt = have?.get(number)
      if (archivedAt === undefined) return { ...(last ? { last } : {}), missing: { timeline: leg.timeline, number } }
      last = { timeline: leg.timeline, number, archivedAt }
    }
  }
  // Unreachable: the last leg has no end, and the archive no end of segments.
  throw new Error('the WAL chain has no end')
}

/** The missing runs along the legs, up to the last archived segment on them. */
function gapsAlong(present: Present, legs: readonly Leg[], archiveId: string, segmentBytes: number): Gap[] {
  const onLegs = legs.map((leg) =>
    [...(present.get(leg.timeline)?.keys() ?? [])]
      .filter((number) => number >= leg.from && (leg.to === undefined || number <= leg.to))
      .sort((a, b) => (a < b ? -1 : 1)),
  )
  const lastLeg = onLegs.findLastIndex((numbers) => numbers.length > 0)
  const gaps: Gap[] = []
  const gap = (timeline: number, first: bigint, last: bigint) =>
    gaps.push({
      archiveId,
      timeline,
      first: segmentName({ timeline, number: first }, segmentBytes),
      last: segmentName({ timeline, number: last }, segmentBytes),
      count: Number(last - first + 1n),
    })
  for (let index = 0; index <= lastLeg; index++) {
    const leg = legs[index]!
    let expected = leg.from
    for (const number of onLegs[index]!) {
      if (number > expected) gap(leg.timeline, expected, number - 1n)
      expected = number + 1n
    }
    if (index < lastLeg && leg.to !== undefined && expected <= leg.to) gap(leg.timeline, expected, leg.to)
  }
  return gaps
}

function holds(gap: Gap, segment: Segment, segmentBytes: number): boolean {
  const name = segmentName(segment, segmentBytes)
  return gap.timeline === segment.timeline && gap.first <= name && name <= gap.last
}

function compareSegments(a: Segment, b: Segment): number {
  if (a.number !== b.number) return a.number < b.number ? -1 : 1
  return a.timeline - b.timeline
}

const later = (a: string, b: string) => (new Date(a) < new Date(b) ? b : a)

/** The recoverable window of each base and the gaps of each archive that has a base. */
export function recoverableWindows(listing: readonly ArchivedWal[], histories: readonly TimelineHistory[], bases: readonly BaseWal[]): Recoverable {
  const windows: Window[] = []
  const gaps: Gap[] = []
  const byArchive = new Map<string, BaseWal[]>()
  for (const base of bases) byArchive.set(base.wal.archiveId, [...(byArchive.get(base.wal.archiveId) ?? []), base])
  for (const [archiveId, archiveBases] of byArchive) {
    const segmentBytes = archiveBases[0]!.wal.segmentBytes
    const present = presentIn(listing, archiveId, segmentBytes)
    // The oldest base's path: the gaps between its start and the newest archived segment.
    const ordered = [...archiveBases].sort((a, b) => compareSegments(segmentOf(a, 'start'), segmentOf(b, 'start')))
    const archiveGaps = gapsAlong(present, pathOf(ordered[0]!, histories), archiveId, segmentBytes)
    for (const base of ordered) {
      const legs = pathOf(base, histories)
      const reached = walk(present, legs)
      const reachesStop = reached.last !== undefined && reached.last.number >= segmentOf(base, 'stop').number
      let endsAtGap = archiveGaps.find((gap) => holds(gap, reached.missing, segmentBytes))
      if (endsAtGap === undefined) {
        // A base whose path leaves the oldest one's: its own gaps.
        endsAtGap = gapsAlong(present, legs, archiveId, segmentBytes).find((gap) => holds(gap, reached.missing, segmentBytes))
        if (endsAtGap) archiveGaps.push(endsAtGap)
      }
      windows.push({
        base: base.id,
        archiveId,
        from: base.consistentAt,
        to: reachesStop ? later(base.consistentAt, reached.last!.archivedAt.toISOString()) : base.consistentAt,
        ...(reached.last ? { lastSegment: segmentName(reached.last, segmentBytes) } : {}),
        reachesStop,
        ...(endsAtGap ? { endsAtGap } : {}),
      })
    }
    gaps.push(...archiveGaps)
  }
  windows.sort((a, b) => (new Date(a.from) < new Date(b.from) ? -1 : 1))
  return { windows, gaps, ...newestOf(listing) }
}

const SEGMENT_NAME = /^[0-9A-F]{24}$/

function newestOf(listing: readonly ArchivedWal[]): Pick<Recoverable, 'newest'> {
  let newest: ArchivedWal | undefined
  for (const entry of listing) {
    if (!SEGMENT_NAME.test(entry.name)) continue
    if (newest === undefined || entry.archivedAt > newest.archivedAt) newest = entry
  }
  return newest ? { newest: { segment: newest.name, archivedAt: newest.archivedAt.toISOString() } } : {}
}
