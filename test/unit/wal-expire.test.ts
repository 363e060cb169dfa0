import { describe, expect, it } from 'vitest'
import { describeWalExpiry, planWalExpiry, type WalObject } from '../../src/wal/expire.js'
import { segmentName } from '../../src/wal/names.js'

const MB16 = 16 * 1024 * 1024
const seg = (timeline: number, number: number) => segmentName({ timeline, number: BigInt(number) }, MB16)

/** A WAL object as the repository lists it; `archiveId` null: a legacy plain copy in wal/. */
function object(name: string, archiveId: string | null = '15-1', bytes = 4_000_000): WalObject {
  const key = archiveId === null ? `wal/${name}` : `wal/${archiveId}/${name.endsWith('.history') ? 'history' : name.slice(0, 16)}/${name}-${'a'.repeat(64)}.zst`
  return { ...(archiveId === null ? {} : { archiveId }), name, key, bytes, archivedAt: new Date('2026-12-05T01:00:00Z') }
}

function base(id: string, start: string, consistentAt: string, archiveId = '15-1') {
  return { id, consistentAt, wal: { archiveId, timeline: Number.parseInt(start.slice(0, 8), 16), start, stop: start, stopLsn: '0/0', segmentBytes: MB16 } }
}

const names = (objects: WalObject[]) => objects.map((o) => o.key)

describe('WAL expiry', () => {
  const listing = [
    object(seg(1, 3)),
    object(seg(1, 4)),
    object(`${seg(1, 4)}.00000028.backup`, '15-1', 300),
    object(seg(1, 5)),
    object(`${seg(1, 5)}.partial`),
    object(seg(2, 5)),
    object('00000002.history', '15-1', 42),
    object(seg(2, 6)),
    object(`${seg(2, 6)}.00000028.backup`, '15-1', 300),
    object(seg(2, 7)),
  ]

  it('removes what is below the oldest kept base’s start, on every timeline, and keeps history files', () => {
    const expiry = planWalExpiry({
      repository: 'offsite',
      listing,
      keptBases: [base('base-new', seg(2, 7), '2026-12-05T03:00:00Z'), base('base-old', seg(2, 6), '2026-12-05T02:00:00Z')],
      prune: true,
    })
    expect(expiry.floor).toEqual({ archiveId: '15-1', segment: seg(2, 6), base: 'base-old' })
    expect(names(expiry.remove)).toEqual(
      names([
        object(seg(1, 3)),
        object(seg(1, 4)),
        object(`${seg(1, 4)}.00000028.backup`),
        object(seg(1, 5)),
        object(`${seg(1, 5)}.partial`),
        object(seg(2, 5)),
      ]).sort(),
    )
    expect(expiry.removeBytes).toBe(5 * 4_000_000 + 300)
    expect(expiry.deletes).toBe(true)
    expect(expiry.archivesRemoved).toEqual([])
    // The floor's own segment and its .backup file stay.
    expect(expiry.remove.map((o) => o.name)).not.toContain(seg(2, 6))
    expect(expiry.remove.map((o) => o.name)).not.toContain(`${seg(2, 6)}.00000028.backup`)
    expect(describeWalExpiry(expiry, 'would remove')).toBe(
      `offsite: would remove 6 WAL files (19.1 MiB) older than ${seg(2, 6)}, where base-old (the oldest base backup kept) starts`,
    )
  })

  it('removes older archive generations whole, history included, and keeps newer ones', () => {
    const expiry = planWalExpiry({
      repository: 'local',
      listing: [
        object(seg(1, 90), '15-1'),
        object('00000002.history', '15-1', 42),
        object(seg(1, 2), '16-2'),
        object(seg(1, 3), '16-2'),
        object(seg(1, 1), '16-3'),
      ],
      keptBases: [base('base-a', seg(1, 3), '2026-12-05T02:00:00Z', '16-2')],
      prune: true,
    })
    expect(expiry.remove.map((o) => `${o.archiveId}/${o.name}`).sort()).toEqual(['15-1/00000002.history', `15-1/${seg(1, 90)}`, `16-2/${seg(1, 2)}`].sort())
    expect(expiry.archivesRemoved).toEqual(['15-1'])
    expect(describeWalExpiry(expiry, 'removed')).toBe(
      `local: removed 3 WAL files (7.6 MiB) older than ${seg(1, 3)}, with the whole of archive 15-1, where base-a (the oldest base backup kept) starts`,
    )
  })

  it('removes legacy plain copies below the floor, never what is not a WAL name or of an unreadable archive id', () => {
    const expiry = planWalExpiry({
      repository: 'local',
      listing: [object(seg(1, 2), null), object(seg(1, 9), null), object('00000001.history', null), object('README', null), object(seg(1, 1), 'old')],
      keptBases: [base('base-a', seg(1, 5), '2026-12-05T02:00:00Z')],
      prune: true,
    })
    expect(names(expiry.remove)).toEqual([`wal/${seg(1, 2)}`])
  })

  it('plans but deletes nothing when the repository leaves retention to its lifecycle rule', () => {
    const expiry = planWalExpiry({ repository: 'offsite', listing, keptBases: [base('base-old', seg(2, 6), '2026-12-05T02:00:00Z')], prune: false })
    expect(expiry.deletes).toBe(false)
    expect(expiry.remove).toHaveLength(6)
    expect(expiry.note).toBe('retention of offsite is left to its lifecycle rule (prune: false)')
  })

  it('deletes nothing without a base backup, and says the WAL cannot be replayed', () => {
    const expiry = planWalExpiry({ repository: 'offsite', listing, keptBases: [], prune: true })
    expect(expiry).toMatchObject({ remove: [], deletes: false })
    expect(expiry.finding).toBe('offsite holds 26.7 MiB of WAL and no base backup: nothing can replay it; take one (backup base)')
    expect(describeWalExpiry(expiry, 'would remove')).toBe(expiry.finding)
    expect(planWalExpiry({ repository: 'offsite', listing: [], keptBases: [], prune: true }).finding).toBeUndefined()
  })

  it('refuses a base whose start is not a segment', () => {
    expect(() => planWalExpiry({ repository: 'offsite', listing, keptBases: [base('base-a', 'nonsense', '2026-12-05T02:00:00Z')], prune: true })).toThrow(
      'base base-a: wal.start nonsense of archive 15-1 is not a segment of an archive',
    )
  })
})
