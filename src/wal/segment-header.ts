import type { Segment } from './names.js'

/**
 * The long page header at the start of every WAL segment (XLogLongPageHeaderData in
 * xlog_internal.h), read so that `wal push` can tell a file is the segment its name says, of the
 * cluster its repository belongs to (design-14 §1.4, §4.1). Pure. Little-endian, as PostgreSQL
 * writes it on the machines probe-ops runs on.
 *
 *   0  uint16 xlp_magic   per major version
 *   2  uint16 xlp_info    XLP_LONG_HEADER (0x0002) on a segment's first page
 *   4  uint32 xlp_tli
 *   8  uint64 xlp_pageaddr  the LSN the segment starts at
 *  24  uint64 xlp_sysid   the cluster's system identifier
 *  32  uint32 xlp_seg_size
 *  36  uint32 xlp_xlog_blcksz
 */

const XLP_LONG_HEADER = 0x0002
/** The header's length: a file shorter than this is no segment. */
export const LONG_HEADER_BYTES = 40

/** XLOG_PAGE_MAGIC of each major version (it changes whenever the WAL format does). */
const MAGIC_OF_MAJOR: Record<number, number> = { 0xd098: 11, 0xd101: 12, 0xd106: 13, 0xd10d: 14, 0xd110: 15, 0xd113: 16, 0xd116: 17 }

export interface SegmentHeader {
  magic: number
  /** The major version the magic number belongs to; undefined for one this code does not know. */
  major?: number
  timeline: number
  pageAddress: bigint
  systemIdentifier: string
  segmentBytes: number
  blockBytes: number
}

/** The header of a segment's first page; undefined when the bytes do not start with one. */
export function readSegmentHeader(bytes: Uint8Array): SegmentHeader | undefined {
  if (bytes.length < LONG_HEADER_BYTES) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, LONG_HEADER_BYTES)
  if ((view.getUint16(2, true) & XLP_LONG_HEADER) === 0) return undefined
  const magic = view.getUint16(0, true)
  const major = MAGIC_OF_MAJOR[magic]
  return {
    magic,
    ...(major === undefined ? {} : { major }),
    timeline: view.getUint32(4, true),
    pageAddress: view.getBigUint64(8, true),
    systemIdentifier: view.getBigUint64(24, true).toString(),
    segmentBytes: view.getUint32(32, true),
    blockBytes: view.getUint32(36, true),
  }
}

/**
 * Why a file of `fileBytes` bytes with this header is not `segment` (the one its name says), or
 * undefined when it is. The system identifier is compared by the caller, which knows the repository's.
 */
export function headerMismatch(header: SegmentHeader | undefined, segment: Segment, fileBytes: number): string | undefined {
  if (!header) return 'it does not start with a WAL segment header'
  if (header.segmentBytes !== fileBytes) return `its header says a segment of ${header.segmentBytes} bytes, and the file holds ${fileBytes}`
  // The first segment of a new timeline begins with the old timeline's pages, copied at the switch.
  if (header.timeline === 0 || header.timeline > segment.timeline)
    return `its header says timeline ${header.timeline}, and its name timeline ${segment.timeline}`
  const number = header.pageAddress / BigInt(header.segmentBytes)
  if (header.pageAddress % BigInt(header.segmentBytes) !== 0n || number !== segment.number)
    return `its header says it starts at segment ${number}, and its name says segment ${segment.number}`
  return undefined
}
