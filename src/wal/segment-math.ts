/**
 * PRIVATE, TEMPORARY: the few WAL name helpers timeline.ts and expire.ts need, with the same
 * names and signatures as src/wal/names.ts (written on another branch at the same time). When
 * both have landed, this file goes and its importers import '../wal/names.js' instead.
 *
 * A segment is TTTTTTTTLLLLLLLLSSSSSSSS in upper-case hex (timeline, the high 32 bits of the LSN,
 * the segment within them); a history file TTTTTTTT.history; a backup history file
 * <segment>.<offset>.backup; the unfinished last segment of a timeline <segment>.partial.
 */

export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024

const LOG_BYTES = 0x1_0000_0000n
const HEX8 = '[0-9A-F]{8}'
const SEGMENT = new RegExp(`^(${HEX8})(${HEX8})(${HEX8})$`)
const HISTORY = new RegExp(`^(${HEX8})\\.history$`)
const BACKUP_HISTORY = new RegExp(`^(${HEX8}${HEX8}${HEX8})\\.(${HEX8})\\.backup$`)
const PARTIAL = new RegExp(`^(${HEX8}${HEX8}${HEX8})\\.partial$`)

export interface Segment {
  timeline: number
  /** Segment number counted from LSN 0 (PostgreSQL's XLogSegNo). */
  number: bigint
}

export type WalFile =
  | { kind: 'segment'; name: string; segment: Segment }
  | { kind: 'history'; name: string; timeline: number }
  | { kind: 'backup'; name: string; segment: Segment; offset: number }
  | { kind: 'partial'; name: string; segment: Segment }

function hex8(value: number | bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0')
}

function segmentsPerLog(segmentBytes: number): bigint {
  return LOG_BYTES / BigInt(segmentBytes)
}

export function segmentName(segment: Segment, segmentBytes = DEFAULT_SEGMENT_BYTES): string {
  const perLog = segmentsPerLog(segmentBytes)
  return `${hex8(segment.timeline)}${hex8(segment.number / perLog)}${hex8(segment.number % perLog)}`
}

export function parseSegmentName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): Segment | undefined {
  const match = SEGMENT.exec(name)
  if (!match) return undefined
  const timeline = Number.parseInt(match[1]!, 16)
  const perLog = segmentsPerLog(segmentBytes)
  const within = BigInt(`0x${match[3]!}`)
  if (timeline === 0 || within >= perLog) return undefined
  return { timeline, number: BigInt(`0x${match[2]!}`) * perLog + within }
}

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

export interface HistoryEntry {
  /** The timeline that ended. */
  parent: number
  /** Where it ended: the next timeline branched off here. */
  switchLsn: bigint
  reason: string
}

/** The segment that holds the byte at `lsn`. */
export function segmentOfLsn(lsn: bigint, timeline: number, segmentBytes = DEFAULT_SEGMENT_BYTES): Segment {
  return { timeline, number: lsn / BigInt(segmentBytes) }
}

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** An LSN as PostgreSQL writes it (0/3000028), as a number of bytes. */
export function parseLsn(text: string): bigint {
  const match = LSN.exec(text.trim())
  if (!match) throw new RangeError(`"${text}" is not an LSN (like 0/3000028)`)
  return BigInt(`0x${match[1]!}`) * LOG_BYTES + BigInt(`0x${match[2]!}`)
}
