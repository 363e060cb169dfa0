import { describe, expect, it } from 'vitest'
import { targetRefusal } from '../../src/jobs/restore/planning.js'
import { describeWindows, mergedSpans } from '../../src/wal/window-text.js'

const gap = { archiveId: '15-1', timeline: 1, first: '000000010000000A00000041', last: '000000010000000A00000043', count: 3 }
const before = { from: '2026-11-18T01:00:00.000Z', to: '2026-11-20T14:02:10.000Z', reachesStop: true, endsAtGap: gap }
const after = { from: '2026-11-25T01:00:00.000Z', to: '2026-12-05T12:10:00.000Z', reachesStop: true }
const overlapping = { from: '2026-11-19T01:00:00.000Z', to: '2026-11-20T14:02:10.000Z', reachesStop: true, endsAtGap: gap }

describe('the recoverable windows as the reports say them', () => {
  it('joins overlapping windows into the stretches a recovery reaches, and names each gap', () => {
    expect(mergedSpans([after, overlapping, before])).toEqual([
      { from: before.from, to: before.to },
      { from: after.from, to: after.to },
    ])
    expect(describeWindows('offsite', { windows: [before, overlapping, after].map((w) => ({ ...w, base: 'b', archiveId: '15-1' })), gaps: [gap] })).toBe(
      'offsite: recoverable 2026-11-18T01:00Z .. 2026-11-20T14:02Z, 2026-11-25T01:00Z .. 2026-12-05T12:10Z; gap: 000000010000000A00000041 .. 000000010000000A00000043 (3 segments)',
    )
    expect(describeWindows('local', { windows: [], gaps: [] })).toBe('local: no base backup with its WAL recorded: no recoverable window')
  })
})

describe('a --target-time the archived WAL cannot reach', () => {
  const windows = [before, after]

  it('is refused past the gap the base’s chain stops at, naming the windows', () => {
    const refusal = targetRefusal('base-20261118T010000000Z', new Date('2026-11-22T00:00:00Z'), { window: before, windows })
    expect(refusal?.message).toBe(
      '--target-time 2026-11-22T00:00:00.000Z is past what the WAL archive recovers base-20261118T010000000Z to (2026-11-20T14:02:10.000Z): WAL 000000010000000A00000041 .. 000000010000000A00000043 (3 segments) is missing from the archive after that',
    )
    expect(refusal?.hint).toMatch(
      /^the recoverable windows: 2026-11-18T01:00:00.000Z \.\. 2026-11-20T14:02:10.000Z, 2026-11-25T01:00:00.000Z \.\. 2026-12-05T12:10:00.000Z; choose a time in one/,
    )
  })

  it('is refused past the newest segment archived', () => {
    expect(targetRefusal('base-b', new Date('2026-12-06T00:00:00Z'), { window: after, windows })?.message).toMatch(
      /: the newest WAL archived from it is older$/,
    )
  })

  it('is let through inside the window, when nothing says how far the base goes, and when its own chain is broken (its pg_wal may bridge it)', () => {
    expect(targetRefusal('base-a', new Date('2026-11-19T00:00:00Z'), { window: before, windows })).toBeUndefined()
    expect(targetRefusal('base-a', new Date('2026-11-22T00:00:00Z'), { windows })).toBeUndefined()
    expect(targetRefusal('base-a', new Date('2026-11-22T00:00:00Z'), { window: { ...before, reachesStop: false }, windows })).toBeUndefined()
  })
})
