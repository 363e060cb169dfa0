import { describe, expect, it } from 'vitest'
import {
  dataKeys,
  idOfManifestKey,
  isLegacyWalKey,
  isRepositoryKey,
  keyProblem,
  leftovers,
  manifestKey,
  parseWalKey,
  walKey,
  walNamePrefix,
} from '../../src/repositories/layout.js'

const sha = 'a'.repeat(64)

describe('repository keys', () => {
  it('keeps every key inside the repository and out of host state', () => {
    expect(isRepositoryKey('database-probe-20261205T023000123Z.dump')).toBe(true)
    expect(isRepositoryKey('database-probe-20261205T023000123Z.dir/toc.dat')).toBe(true)
    for (const bad of ['', '../etc/passwd', 'a/../b', '/abs', 'a//b', '.partial-1-x', 'a/.hidden', 'a\\b', 'a\0b', 'x'.repeat(901)])
      expect(keyProblem(bad), bad).toBeDefined()
  })

  it('names manifests and data', () => {
    expect(manifestKey('config-20261205T000000000Z')).toBe('config-20261205T000000000Z.manifest.json')
    expect(idOfManifestKey('config-20261205T000000000Z.manifest.json')).toBe('config-20261205T000000000Z')
    expect(idOfManifestKey('x.dir/a.manifest.json')).toBeUndefined()
    expect(idOfManifestKey('.manifest.json')).toBeUndefined()
    expect(dataKeys('d.dir', [{ name: 'toc.dat' }, { name: '3456.dat.gz' }])).toEqual(['d.dir/toc.dat', 'd.dir/3456.dat.gz'])
    expect(dataKeys('d.dump')).toEqual(['d.dump'])
  })

  it('writes and reads content-addressed WAL keys', () => {
    const key = { archiveId: '15-1', name: '000000010000000000000003', sha256: sha, compression: 'zst' as const, encrypted: true }
    expect(walKey(key)).toBe(`wal/15-1/0000000100000000/000000010000000000000003-${sha}.zst.age`)
    expect(parseWalKey(walKey(key))).toEqual(key)
    const history = { archiveId: '15-2', name: '00000002.history', sha256: sha, compression: 'none' as const, encrypted: false }
    expect(walKey(history)).toBe(`wal/15-2/history/00000002.history-${sha}`)
    expect(parseWalKey(walKey(history))).toEqual(history)
    const backup = { archiveId: '15-1', name: '000000010000000000000068.00000028.backup', sha256: sha, compression: 'gz' as const, encrypted: false }
    expect(parseWalKey(walKey(backup))).toEqual(backup)
    expect(walNamePrefix('15-1', '000000010000000000000068.partial')).toBe('wal/15-1/0000000100000000/000000010000000000000068.partial-')
    // A segment filed under another log's directory is not one of ours.
    expect(parseWalKey(`wal/15-1/0000000100000001/000000010000000000000003-${sha}.zst`)).toBeUndefined()
    expect(parseWalKey('wal/000000010000000000000003')).toBeUndefined()
    expect(isLegacyWalKey('wal/000000010000000000000003')).toBe(true)
    expect(() => walKey({ ...key, sha256: 'x' })).toThrow(/sha256/)
    expect(() => walNamePrefix('15', '000000010000000000000003')).toThrow(/archive id/)
  })

  it('finds data no manifest claims once it is older than the grace', () => {
    const now = new Date('2026-12-05T12:00:00Z')
    const old = new Date('2026-12-04T00:00:00Z')
    const objects = [
      { key: 'probe-ops-repository.json', bytes: 1, modifiedAt: old },
      { key: 'a.dump', bytes: 1, modifiedAt: old },
      { key: 'a.manifest.json', bytes: 1, modifiedAt: old },
      { key: 'b.dir/toc.dat', bytes: 1, modifiedAt: old },
      { key: 'cut.dump', bytes: 1, modifiedAt: old },
      { key: 'young.dump', bytes: 1, modifiedAt: new Date('2026-12-05T11:59:00Z') },
      { key: `wal/15-1/0000000100000000/000000010000000000000003-${sha}.zst`, bytes: 1, modifiedAt: old },
    ]
    expect(leftovers(objects, new Set(['a.dump', 'b.dir']), now, 24 * 3600_000).map((l) => l.key)).toEqual(['cut.dump'])
  })
})
