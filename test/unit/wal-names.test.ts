import { describe, expect, it } from 'vitest'
import {
  formatLsn,
  historyFileName,
  nextSegment,
  parseHistoryFile,
  parseLsn,
  parseSegmentName,
  parseWalFileName,
  previousSegment,
  segmentName,
  segmentOfLsn,
  segmentStartLsn,
  timelineLog,
} from '../../src/wal/names.js'

describe('WAL names', () => {
  it('reads and writes segment names as PostgreSQL does (16 MiB segments: 256 per log)', () => {
    expect(segmentName({ timeline: 1, number: 3n })).toBe('000000010000000000000003')
    expect(segmentName({ timeline: 2, number: 256n + 0x68n })).toBe('000000020000000100000068')
    expect(parseSegmentName('000000020000000100000068')).toEqual({ timeline: 2, number: 256n + 0x68n })
    // The segment part of a 16 MiB cluster never passes FF.
    expect(parseSegmentName('000000010000000000000100')).toBeUndefined()
    expect(parseSegmentName('000000000000000000000001')).toBeUndefined()
    expect(parseSegmentName('00000001000000000000000a')).toBeUndefined()
    expect(segmentName({ timeline: 1, number: 0x200n }, 64 * 1024 * 1024)).toBe('000000010000000800000000')
    expect(() => segmentName({ timeline: 1, number: 1n }, 3 * 1024 * 1024)).toThrow(/power of two/)
  })

  it('goes from segment to segment across a log boundary', () => {
    const last = parseSegmentName('0000000100000000000000FF')!
    expect(segmentName(nextSegment(last))).toBe('000000010000000100000000')
    expect(segmentName(previousSegment(nextSegment(last))!)).toBe('0000000100000000000000FF')
    expect(previousSegment({ timeline: 1, number: 0n })).toBeUndefined()
  })

  it('maps LSNs to segments and back', () => {
    expect(parseLsn('0/68000028')).toBe(0x68000028n)
    expect(parseLsn('1/0')).toBe(0x1_0000_0000n)
    expect(formatLsn(0x1_6800_0028n)).toBe('1/68000028')
    expect(segmentName(segmentOfLsn(parseLsn('0/68000028'), 1))).toBe('000000010000000000000068')
    expect(segmentName(segmentOfLsn(parseLsn('1/FF000000'), 3))).toBe('0000000300000001000000FF')
    expect(formatLsn(segmentStartLsn(parseSegmentName('000000010000000100000002')!))).toBe('1/2000000')
    expect(() => parseLsn('68000028')).toThrow(/not an LSN/)
  })

  it('tells the kinds of archive file apart', () => {
    expect(parseWalFileName('00000002.history')).toEqual({ kind: 'history', name: '00000002.history', timeline: 2 })
    expect(parseWalFileName('000000010000000000000068.00000028.backup')).toMatchObject({ kind: 'backup', offset: 0x28 })
    expect(parseWalFileName('000000010000000000000068.partial')).toMatchObject({ kind: 'partial', segment: { timeline: 1, number: 0x68n } })
    expect(parseWalFileName('000000010000000000000068')).toMatchObject({ kind: 'segment' })
    expect(parseWalFileName('archive_status')).toBeUndefined()
    expect(historyFileName(10)).toBe('0000000A.history')
    expect(timelineLog('000000010000000000000068.partial')).toBe('0000000100000000')
  })

  it('reads a timeline history file', () => {
    const text = '1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-12-05 02:00:00+00\n'
    expect(parseHistoryFile(text)).toEqual([
      { parent: 1, switchLsn: 0x3000158n, reason: 'no recovery target specified' },
      { parent: 2, switchLsn: 0x5000000n, reason: 'before 2026-12-05 02:00:00+00' },
    ])
    expect(() => parseHistoryFile('garbage here\n')).toThrow(/line 1/)
  })
})
