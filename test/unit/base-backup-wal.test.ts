import { describe, expect, it } from 'vitest'
import { baseWal, parseBaseBackupWal } from '../../src/backups/base.js'
import { manifestSchema } from '../../src/backups/manifest.js'

/** What pg_basebackup 15 --verbose writes on stderr around a base backup, and the manifest's `wal` made of it. */
const VERBOSE = `pg_basebackup: initiating base backup, waiting for checkpoint to complete
pg_basebackup: checkpoint completed
pg_basebackup: write-ahead log start point: 0/68000028 on timeline 1
pg_basebackup: write-ahead log end point: 0/68000100
pg_basebackup: syncing data to disk ...
pg_basebackup: base backup completed
`
const CLUSTER = { systemIdentifier: '7715790966965947287', serverVersion: '15.20', major: 15 }
const MIB16 = 16 * 1024 * 1024

describe('a base backup WAL range from pg_basebackup --verbose', () => {
  it('reads the start point with its timeline and the end point', () => {
    expect(parseBaseBackupWal(VERBOSE)).toEqual({ timeline: 1, startLsn: '0/68000028', stopLsn: '0/68000100' })
  })

  it('is undefined when either end is missing (an older client, a cut run)', () => {
    expect(parseBaseBackupWal(VERBOSE.replace(/.*end point.*\n/, ''))).toBeUndefined()
    expect(parseBaseBackupWal('')).toBeUndefined()
  })

  it('names the segments it spans; an end point on a segment boundary stops in the segment before', () => {
    const wal = baseWal({ timeline: 1, startLsn: '0/68000028', stopLsn: '0/68000100' }, CLUSTER, MIB16)
    expect(wal).toMatchObject({ archiveId: '15-1', timeline: 1, segmentBytes: MIB16, systemIdentifier: CLUSTER.systemIdentifier })
    expect([wal.start, wal.stop, wal.startLsn, wal.stopLsn]).toEqual(['000000010000000000000068', '000000010000000000000068', '0/68000028', '0/68000100'])
    expect(baseWal({ timeline: 2, startLsn: '1/FF000028', stopLsn: '2/0' }, CLUSTER, MIB16)).toMatchObject({
      start: '0000000200000001000000FF',
      stop: '0000000200000001000000FF',
    })
    // What the manifest schema takes.
    expect(manifestSchema.shape.wal.safeParse(wal).success).toBe(true)
  })
})
