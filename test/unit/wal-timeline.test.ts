import { describe, expect, it } from 'vitest'
import { recoverableWindows, type ArchivedWal, type BaseWal, type TimelineHistory } from '../../src/wal/timeline.js'
import { parseLsn, segmentName } from '../../src/wal/names.js'

const MB16 = 16 * 1024 * 1024
const ARCHIVE = '15-1'

/** The segment's name: timeline, number (16 MB segments unless said). */
const seg = (timeline: number, number: number, segmentBytes = MB16) => segmentName({ timeline, number: BigInt(number) }, segmentBytes)

/** Archived at 01:00 plus `number` minutes, so each segment's time says which it is. */
const timeOf = (number: number) => new Date(Date.UTC(2026, 11, 5, 1, number))

function archived(timeline: number, numbers: number[], options: { archiveId?: string | null; segmentBytes?: number; suffix?: string } = {}): ArchivedWal[] {
  return numbers.map((number) => ({
    ...(options.archiveId === null ? {} : { archiveId: options.archiveId ?? ARCHIVE }),
    name: `${seg(timeline, number, options.segmentBytes)}${options.suffix ?? ''}`,
    archivedAt: timeOf(number),
  }))
}

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i)

function base(
  id: string,
  start: number,
  stop = start,
  options: { timeline?: number; stopLsn?: string; segmentBytes?: number; archiveId?: string } = {},
): BaseWal {
  const timeline = options.timeline ?? 1
  const segmentBytes = options.segmentBytes ?? MB16
  return {
    id,
    consistentAt: timeOf(stop).toISOString(),
    wal: {
      archiveId: options.archiveId ?? ARCHIVE,
      timeline,
      start: seg(timeline, start, segmentBytes),
      stop: seg(timeline, stop, segmentBytes),
      stopLsn: options.stopLsn ?? `0/${(stop * 0x1000000 + 0x100).toString(16).toUpperCase()}`,
      segmentBytes,
    },
  }
}

function history(timeline: number, lines: [number, string][], archiveId = ARCHIVE): TimelineHistory {
  return { archiveId, timeline, entries: lines.map(([parent, lsn]) => ({ parent, switchLsn: parseLsn(lsn), reason: 'no recovery target specified' })) }
}

describe('recoverable windows', () => {
  it('runs an unbroken chain to its last segment, archived time as the end', () => {
    const result = recoverableWindows(archived(1, range(3, 10)), [], [base('base-a', 3, 4)])
    expect(result.gaps).toEqual([])
    expect(result.windows).toEqual([
      { base: 'base-a', archiveId: ARCHIVE, from: timeOf(4).toISOString(), to: timeOf(10).toISOString(), lastSegment: seg(1, 10), reachesStop: true },
    ])
    expect(result.newest).toEqual({ segment: seg(1, 10), archivedAt: timeOf(10).toISOString() })
  })

  it('stops a chain at a gap, names the gap, and starts the next base past it', () => {
    const result = recoverableWindows(archived(1, [...range(3, 5), ...range(8, 10)]), [], [base('base-b', 8), base('base-a', 3)])
    const gap = { archiveId: ARCHIVE, timeline: 1, first: seg(1, 6), last: seg(1, 7), count: 2 }
    expect(result.gaps).toEqual([gap])
    expect(result.windows.map((w) => [w.base, w.lastSegment, w.to, w.endsAtGap])).toEqual([
      ['base-a', seg(1, 5), timeOf(5).toISOString(), gap],
      ['base-b', seg(1, 10), timeOf(10).toISOString(), undefined],
    ])
  })

  it('follows a timeline switch in the middle of a segment, ignoring the old timeline’s .partial', () => {
    // Timeline 1 ends inside segment 7: timeline 2's segment 7 holds its start, and 1's is a .partial.
    const listing = [...archived(1, range(3, 6)), ...archived(1, [7], { suffix: '.partial' }), ...archived(2, range(7, 9))]
    const result = recoverableWindows(listing, [history(2, [[1, '0/7000100']])], [base('base-a', 3)])
    expect(result.gaps).toEqual([])
    expect(result.windows[0]).toMatchObject({ lastSegment: seg(2, 9), reachesStop: true, to: timeOf(9).toISOString() })
  })

  it('follows a switch at a segment boundary: the old timeline up to the segment before', () => {
    const listing = [...archived(1, range(3, 7)), ...archived(2, range(8, 9))]
    const result = recoverableWindows(listing, [history(2, [[1, '0/8000000']])], [base('base-a', 3)])
    expect(result.windows[0]).toMatchObject({ lastSegment: seg(2, 9) })
    // Without timeline 1's segment 7, the chain stops there, and that is a gap (timeline 2 goes on).
    const without = recoverableWindows(
      listing.filter((entry) => entry.name !== seg(1, 7)),
      [history(2, [[1, '0/8000000']])],
      [base('base-a', 3)],
    )
    const gap = { archiveId: ARCHIVE, timeline: 1, first: seg(1, 7), last: seg(1, 7), count: 1 }
    expect(without.gaps).toEqual([gap])
    expect(without.windows[0]).toMatchObject({ lastSegment: seg(1, 6), endsAtGap: gap })
  })

  it('follows the newest timeline through two switches', () => {
    const listing = [...archived(1, range(3, 4)), ...archived(2, range(5, 7)), ...archived(3, range(8, 12)), ...archived(2, range(8, 9))]
    const histories = [
      history(2, [[1, '0/5000000']]),
      history(3, [
        [1, '0/5000000'],
        [2, '0/8000000'],
      ]),
    ]
    const result = recoverableWindows(listing, histories, [base('base-a', 3)])
    expect(result.windows[0]).toMatchObject({ lastSegment: seg(3, 12) })
    expect(result.gaps).toEqual([])
  })

  it('does not follow a timeline that branched before the base was consistent', () => {
    const listing = [...archived(1, range(3, 6)), ...archived(2, range(2, 9))]
    const result = recoverableWindows(listing, [history(2, [[1, '0/2000000']])], [base('base-a', 3, 4)])
    expect(result.windows[0]).toMatchObject({ lastSegment: seg(1, 6) })
    // Nor one of another archive.
    const other = recoverableWindows([...archived(1, range(3, 6)), ...archived(2, range(7, 9))], [history(2, [[1, '0/7000000']], '15-2')], [base('base-a', 3)])
    expect(other.windows[0]).toMatchObject({ lastSegment: seg(1, 6) })
  })

  it('says when the archive cannot even make a base consistent', () => {
    const result = recoverableWindows(archived(1, [3, 4]), [], [base('base-a', 3, 5)])
    expect(result.windows[0]).toEqual({
      base: 'base-a',
      archiveId: ARCHIVE,
      from: timeOf(5).toISOString(),
      to: timeOf(5).toISOString(),
      lastSegment: seg(1, 4),
      reachesStop: false,
    })
    const nothing = recoverableWindows([], [], [base('base-a', 3)])
    expect(nothing.windows[0]).toMatchObject({ reachesStop: false, to: timeOf(3).toISOString() })
    expect(nothing.windows[0]!.lastSegment).toBeUndefined()
    expect(nothing.newest).toBeUndefined()
  })

  it('crosses a log boundary with 64 MB segments (64 a log)', () => {
    const MB64 = 64 * 1024 * 1024
    const listing = archived(1, range(60, 70), { segmentBytes: MB64 })
    expect(seg(1, 64, MB64)).toBe('000000010000000100000000')
    const result = recoverableWindows(listing, [], [base('base-a', 60, 60, { segmentBytes: MB64, stopLsn: '0/F0000100' })])
    expect(result.windows[0]).toMatchObject({ lastSegment: '000000010000000100000006', reachesStop: true })
  })

  it('counts legacy plain copies in any archive, and another archive’s segments in none', () => {
    const listing = [...archived(1, range(3, 5), { archiveId: null }), ...archived(1, range(6, 7)), ...archived(1, range(8, 9), { archiveId: '15-2' })]
    const result = recoverableWindows(listing, [], [base('base-a', 3)])
    expect(result.windows[0]).toMatchObject({ lastSegment: seg(1, 7) })
    expect(result.gaps).toEqual([])
  })

  it('reports gaps per archive, from its oldest base, and not the missing head', () => {
    const listing = [...archived(1, [3, 5, 9]), ...archived(1, [20, 23], { archiveId: '16-2' })]
    const result = recoverableWindows(listing, [], [base('base-a', 3), base('base-z', 20, 20, { archiveId: '16-2' })])
    expect(result.gaps).toEqual([
      { archiveId: ARCHIVE, timeline: 1, first: seg(1, 4), last: seg(1, 4), count: 1 },
      { archiveId: ARCHIVE, timeline: 1, first: seg(1, 6), last: seg(1, 8), count: 3 },
      { archiveId: '16-2', timeline: 1, first: seg(1, 21), last: seg(1, 22), count: 2 },
    ])
    expect(result.newest).toEqual({ segment: seg(1, 23), archivedAt: timeOf(23).toISOString() })
  })

  it('takes the earliest archived time when a segment is listed twice (two copies)', () => {
    const listing = [...archived(1, range(3, 4)), { archiveId: ARCHIVE, name: seg(1, 4), archivedAt: timeOf(50) }]
    expect(recoverableWindows(listing, [], [base('base-a', 3)]).windows[0]!.to).toBe(timeOf(4).toISOString())
  })

  it('refuses a base whose start is not a segment name', () => {
    const bad = { ...base('base-a', 3), wal: { ...base('base-a', 3).wal, start: 'nonsense' } }
    expect(() => recoverableWindows([], [], [bad])).toThrow('base base-a: wal.start nonsense is not a segment name')
  })
})
