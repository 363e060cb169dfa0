/**
 * PostgreSQL's WAL file names and positions, as the server writes them (xlog_internal.h): a
 * segment is TTTTTTTTLLLLLLLLSSSSSSSS in upper-case hex (timeline, "log" = the high 32 bits of the
 * LSN, segment within that log), a history file is TTTTTTTT.history, a backup history file is
 * <segment>.<offset>.backup and an unfinished last segment of a timeline is <segment>.partial.
 * Pure: no I/O, so that wal push, wal fetch and the window computation share one reading.
 */

/** PostgreSQL's default --wal-segsize; a cluster may use another power of two from 1 MiB to 1 GiB. */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024

const LOG_BYTES = 0x1_0000_0000n
const HEX8 = '[0-9A-F]{8}'
const SEGMENT = new RegExp(`^(${HEX8})(${HEX8})(${HEX8})$`)
const HISTORY = new RegExp(`^(${HEX8})\\.history$`)
const BACKUP_HISTORY = new RegExp(`^(${HEX8}${HEX8}${HEX8})\\.(${HEX8})\\.backup$`)
const PARTIAL = new RegExp(`^(${HEX8}${HEX8}${HEX8})\\.partial$`)
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

export interface Segment {
  timeline: number
  /** Segment number counted from LSN 0 (PostgreSQL's XLogSegNo). */
  number: bigint
}

/** What a file in pg_wal or the archive is, by its name; undefined for anything else. */
export type WalFile =
  | { kind: 'segment'; name: string; segment: Segment }
  | { kind: 'history'; name: string; timeline: number }
  | { kind: 'backup'; name: string; segment: Segment; offset: number }
  | { kind: 'partial'; name: string; segment: Segment }

function hex8(value: number | bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0')
}

function checkSegmentBytes(segmentBytes: number): bigint {
  const valid = Number.isInteger(segmentBytes) && segmentBytes >= 1024 * 1024 && segmentBytes <= 1024 * 1024 * 1024
  if (!valid || (segmentBytes & (segmentBytes - 1)) !== 0)
    throw new RangeError(`a WAL segment size must be a power of two from 1 MiB to 1 GiB, not ${segmentBytes}`)
  return BigInt(segmentBytes)
}

function segmentsPerLog(segmentBytes: number): bigint {
  return LOG_BYTES / checkSegmentBytes(segmentBytes)
}

function checkTimeline(timeline: number): number {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffff_ffff)
    throw new RangeError(`a timeline is a number from 1 to 4294967295, not ${timeline}`)
  return timeline
}

/** The name of a segment: 000000010000000000000003. */
export function segmentName(segment: Segment, segmentBytes = DEFAULT_SEGMENT_BYTES): string {
  const perLog = segmentsPerLog(segmentBytes)
  if (segment.number < 0n || segment.number >= perLog * LOG_BYTES) throw new RangeError(`segment number ${segment.number} is out of range`)
  return `${hex8(checkTimeline(segment.timeline))}${hex8(segment.number / perLog)}${hex8(segment.number % perLog)}`
}

/** A segment's name read back; undefined when it is not one (or not one at this segment size). */
export function parseSegmentName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): Segment | undefined {
  const match = SEGMENT.exec(name)
  if (!match) return undefined
  const timeline = Number.parseInt(match[1]!, 16)
  const perLog = segmentsPerLog(segmentBytes)
  const within = BigInt(`0x${match[3]!}`)
  if (timeline === 0 || within >= perLog) return undefined
  return { timeline, number: BigInt(`0x${match[2]!}`) * perLog + within }
}

export function isSegmentName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): boolean {
  return parseSegmentName(name, segmentBytes) !== undefined
}

/** Any file name the archive holds, by kind. */
export function parseWalFileName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): WalFile | undefined {
  const segment = parseSegmentName(name, segmentBytes)
  if (segment) return { kind: 'segment', name, segment }
  const history = HISTORY.exec(name)
  if (history) {
    const timeline = Number.parseInt(history[1]!, 16)
    return timeline === 0 ? undefined : { kind: 'history', name, timeline }
  }
  const backup = BACKUP_HISTORY.exec(name)
  if (backup) {
    const of = parseSegmentName(backup[1]!, segmentBytes)
    return of && { kind: 'backup', name, segment: of, offset: Number.parseInt(backup[2]!, 16) }
  }
  const partial = PARTIAL.exec(name)
  if (partial) {
    const of = parseSegmentName(partial[1]!, segmentBytes)
    return of && { kind: 'partial', name, segment: of }
  }
  return undefined
}

/** The history file a timeline switch writes: 00000002.history. */
export function historyFileName(timeline: number): string {
  return `${hex8(checkTimeline(timeline))}.history`
}

/** The first 16 characters of a segment's name (timeline and log): the archive's directory for it. */
export function timelineLog(name: string): string {
  if (!SEGMENT.test(name.slice(0, 24))) throw new RangeError(`${name} is not a WAL segment name`)
  return name.slice(0, 16)
}

/** The segment after this one, on the same timeline. */
export function nextSegment(segment: Segment): Segment {
  return { timeline: segment.timeline, number: segment.number + 1n }
}

/** The segment before this one, on the same timeline; undefined before the first. */
export function previousSegment(segment: Segment): Segment | undefined {
  return segment.number === 0n ? undefined : { timeline: segment.timeline, number: segment.number - 1n }
}

/** An LSN as PostgreSQL writes it (0/3000028), as a number of bytes. */
export function parseLsn(text: string): bigint {
  const match = LSN.exec(text.trim())
  if (!match) throw new RangeError(`"${text}" is not an LSN (like 0/3000028)`)
  return BigInt(`0x${match[1]!}`) * LOG_BYTES + BigInt(`0x${match[2]!}`)
}

/** An LSN as PostgreSQL writes it: upper-case hex, no leading zeros. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn >= LOG_BYTES * LOG_BYTES) throw new RangeError(`LSN ${lsn} is out of range`)
  return `${(lsn / LOG_BYTES).toString(16).toUpperCase()}/${(lsn % LOG_BYTES).toString(16).toUpperCase()}`
}

/** The segment that holds the byte at `lsn` (pg_walfile_name without the end-of-segment rule). */
export function segmentOfLsn(lsn: bigint, timeline: number, segmentBytes = DEFAULT_SEGMENT_BYTES): Segment {
  return { timeline: checkTimeline(timeline), number: lsn / checkSegmentBytes(segmentBytes) }
}

/** The LSN a segment starts at. */
export function segmentStartLsn(segment: Segment, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return segment.number * checkSegmentBytes(segmentBytes)
}

export interface HistoryEntry {
  /** The timeline that ended. */
  parent: number
  /** Where it ended: the next timeline branched off here. */
  switchLsn: bigint
  reason: string
}

/**
 * The lines of a timeline history file ("1\t0/3000158\tno recovery target specified"); comments
 * and blank lines are skipped; a malformed line is an error (the file is then not PostgreSQL's).
 */
export function parseHistoryFile(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = []
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s+(.*))?$/.exec(line)
    if (!match) throw new RangeError(`line ${index + 1} of the history file is not "timeline<TAB>LSN<TAB>reason": ${line.slice(0, 80)}`)
    entries.push({ parent: checkTimeline(Number(match[1])), switchLsn: parseLsn(match[2]!), reason: match[3] ?? '' })
  }
  return entries
}
