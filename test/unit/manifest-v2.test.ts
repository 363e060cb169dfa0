import { describe, expect, it } from 'vitest'
import { manifestSchema } from '../../src/backups/manifest.js'

const v1 = {
  manifestVersion: 1,
  id: 'base-20261205T030000Z',
  kind: 'base',
  reason: 'scheduled',
  format: 'tar.gz',
  data: 'base-20261205T030000Z.tar.gz',
  bytes: 10,
  sha256: 'a'.repeat(64),
  host: 'h',
  toolVersion: '0.1.0',
  startedAt: '2026-12-05T03:00:00.000Z',
  finishedAt: '2026-12-05T03:00:05.000Z',
  durationMs: 5000,
  verifications: [],
}

const v2 = {
  ...v1,
  manifestVersion: 2,
  format: 'tar.zst',
  data: 'base-20261205T030000Z.tar.zst.age',
  stored: { bytes: 12, sha256: 'b'.repeat(64), md5: 'c'.repeat(32) },
  encryption: { format: 'age', recipients: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'] },
  wal: {
    archiveId: '15-1',
    timeline: 1,
    start: '000000010000000000000068',
    stop: '000000010000000000000068',
    startLsn: '0/68000028',
    stopLsn: '0/68000100',
    segmentBytes: 16 * 1024 * 1024,
    systemIdentifier: '7444000000000000000',
  },
}

describe('manifest v2', () => {
  it('still reads a version 1 manifest, as backup.dir holds them', () => {
    expect(manifestSchema.parse(v1).manifestVersion).toBe(1)
  })

  it('reads the stored bytes, the recipients and a base backup’s WAL range', () => {
    const parsed = manifestSchema.parse(v2)
    expect(parsed.stored?.md5).toBe('c'.repeat(32))
    expect(parsed.wal?.start).toBe('000000010000000000000068')
  })

  it.each([
    ['a version it does not know', { manifestVersion: 3 }],
    ['a WAL start that is no segment name', { wal: { ...v2.wal, start: '../../etc/passwd' } }],
    ['an LSN that is not one', { wal: { ...v2.wal, stopLsn: '0-68' } }],
    ['a recipient that is no public key', { encryption: { format: 'age', recipients: ['AGE-SECRET-KEY-1X'] } }],
    ['a stored MD5 that is not hex', { stored: { ...v2.stored, md5: 'x' } }],
  ])('refuses %s', (_, change) => {
    expect(manifestSchema.safeParse({ ...v2, ...change }).success).toBe(false)
  })
})
