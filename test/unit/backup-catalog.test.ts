import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { findEntry, locationOf, type Catalog, type CatalogEntry } from '../../src/backups/catalog.js'
import { checkManifest } from '../../src/backups/manifest.js'
import { copyObjects, openCopy } from '../../src/backups/copy.js'
import type { BackupManifest } from '../../src/backups/store.js'
import type { Repository } from '../../src/repositories/repository.js'

/** A repository that holds objects in memory: the catalog's and openCopy's own logic, without a server. */
function memoryRepository(name: string, objects: Record<string, Buffer>, kind: 'local' | 's3' = 's3'): Repository {
  return {
    name,
    kind,
    where: kind === 's3' ? `s3://bucket/${name}/ at 127.0.0.1:9000` : `local /backups/${name}`,
    get: async (key) => {
      const body = objects[key]
      if (!body) throw new Error(`${key}: not found`)
      return Readable.from([body.subarray(0, 10), body.subarray(10)])
    },
    head: async () => undefined,
    list: async function* () {},
    listTop: async () => ({ objects: [], folders: [] }),
    put: async () => {
      throw new Error('read only')
    },
    putBytes: async () => {
      throw new Error('read only')
    },
    remove: async () => ({ removed: [], failed: [] }),
  }
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex')

function manifest(id: string, startedAt: string, data: Buffer, overrides: Partial<BackupManifest> = {}): BackupManifest {
  return {
    manifestVersion: 2,
    id,
    kind: 'database',
    reason: 'scheduled',
    format: 'custom',
    data: `${id}.dump`,
    bytes: data.length,
    sha256: sha256(data),
    database: 'network_probe',
    host: 'h',
    toolVersion: '0',
    startedAt,
    finishedAt: startedAt,
    durationMs: 1,
    verifications: [],
    ...overrides,
  }
}

async function drain(stream: Readable): Promise<void> {
  for await (const _chunk of stream);
}

describe('openCopy', () => {
  const data = Buffer.from('PGDMP a custom-format dump, as far as this test cares')
  const m = manifest('database-network_probe-20261205T030000000Z', '2026-12-05T03:00:00.000Z', data)

  it('streams the copy and resolves done with both checksums when it matches its manifest', async () => {
    const opened = await openCopy(memoryRepository('offsite', { [m.data]: data }), m, { signal: AbortSignal.timeout(5000) })
    await drain(opened.stream)
    await expect(opened.done).resolves.toEqual({ storedSha256: m.sha256, plainSha256: m.sha256, bytes: data.length })
  })

  it('rejects done, naming the repository, on a changed byte and on a truncated object', async () => {
    const changed = Buffer.from(data)
    changed[5]! ^= 1
    const corrupt = await openCopy(memoryRepository('offsite', { [m.data]: changed }), m, { signal: AbortSignal.timeout(5000) })
    await drain(corrupt.stream)
    await expect(corrupt.done).rejects.toThrow(/^offsite \(s3:\/\/bucket\/offsite\/ .*\): .*sha256 .* \(corrupted\)/)
    const cut = await openCopy(memoryRepository('offsite', { [m.data]: data.subarray(0, 20) }), m, { signal: AbortSignal.timeout(5000) })
    await drain(cut.stream)
    await expect(cut.done).rejects.toThrow(/20 bytes where the manifest says \d+ \(truncated or changed\)/)
  })

  it('refuses an encrypted copy without an identity, naming the setting', async () => {
    const encrypted = {
      ...m,
      stored: { bytes: 1, sha256: 'a'.repeat(64), md5: 'b'.repeat(32) },
      encryption: { format: 'age' as const, recipients: ['age1' + 'q'.repeat(58)] },
    }
    await expect(openCopy(memoryRepository('offsite', {}), encrypted, { signal: AbortSignal.timeout(5000) })).rejects.toThrow(/no identity to decrypt it/)
    await expect(openCopy(memoryRepository('offsite', {}), encrypted, { signal: AbortSignal.timeout(5000) })).rejects.toMatchObject({
      hint: expect.stringMatching(/backup\.encryption\.identityFile/),
    })
  })

  it('names one object per file of a directory-format dump', () => {
    const directory = { ...m, format: 'directory' as const, data: 'd.dir', files: [{ name: 'toc.dat', bytes: 3, sha256: 'c'.repeat(64) }] }
    expect(copyObjects(directory)).toEqual([{ key: 'd.dir/toc.dat', bytes: 3, sha256: 'c'.repeat(64), stored: undefined }])
  })
})

describe('findEntry', () => {
  const data = Buffer.from('x')
  const local = memoryRepository('local', {}, 'local')
  const offsite = memoryRepository('offsite', {})
  const entry = (id: string, at: string, verifications: BackupManifest['verifications'][] = [[]]): CatalogEntry => {
    const first = manifest(id, at, data)
    return {
      manifest: first,
      copies: verifications.map((v, index) => ({
        repository: index === 0 ? offsite : local,
        manifest: { ...first, verifications: v },
        location: `s3://bucket/offsite/${id}.dump`,
      })),
    }
  }
  const failed = [{ at: '2026-12-05T04:00:00.000Z', ok: false, method: 'checksum' as const, durationMs: 1, detail: 'corrupt' }]
  const catalog = (entries: CatalogEntry[], unreadable: Catalog['unreadable'] = []): Catalog => ({
    entries,
    leftovers: [],
    unreadable,
    recovered: [],
    unreachable: [],
    repositories: [offsite, local],
    incompleteUploads: [],
  })

  it('latest is the newest dump good in some copy: one failed in every copy is passed over', async () => {
    const newest = entry('database-network_probe-20261205T030000000Z', '2026-12-05T03:00:00.000Z', [failed, failed])
    const older = entry('database-network_probe-20261204T030000000Z', '2026-12-04T03:00:00.000Z', [failed, []])
    const found = await findEntry(catalog([newest, older]), '/nonexistent', 'latest', 'network_probe', 'database')
    expect(found.manifest.id).toBe('database-network_probe-20261204T030000000Z')
  })

  it('latest-base is the newest base backup, and is refused where a dump is needed', async () => {
    const base = entry('base-20261203T010000000Z', '2026-12-03T01:00:00.000Z')
    base.manifest = { ...base.manifest, kind: 'base', format: 'tar.zst' }
    const dump = entry('database-network_probe-20261205T030000000Z', '2026-12-05T03:00:00.000Z')
    expect((await findEntry(catalog([dump, base]), '/nonexistent', 'latest-base', 'network_probe')).manifest.id).toBe('base-20261203T010000000Z')
    await expect(findEntry(catalog([dump, base]), '/nonexistent', 'latest-base', 'network_probe', 'database')).rejects.toThrow(/names a base backup/)
  })

  it('an unknown name says where it looked; a refused manifest says why', async () => {
    const refused = catalog([], [{ repository: 'offsite', path: 's3://bucket/offsite/database-x.manifest.json', why: 'a damaged backup: its data is missing' }])
    await expect(findEntry(refused, '/nonexistent', 'database-x', 'network_probe')).rejects.toThrow(
      /backup "database-x" cannot be used: s3:\/\/bucket\/offsite\/database-x\.manifest\.json is a damaged backup/,
    )
    await expect(findEntry(catalog([]), '/nonexistent', 'nope', 'network_probe')).rejects.toThrow(
      /no backup "nope" in s3:\/\/bucket\/offsite\/ .*, local \/backups\/local/,
    )
  })

  it('says where each copy is', () => {
    expect(locationOf(offsite, 'a.dump')).toBe('s3://bucket/offsite/a.dump')
    expect(locationOf(local, 'a.dump')).toBe('/backups/local/a.dump')
  })
})

describe('checkManifest', () => {
  it('refuses text that is not a manifest, or one whose id is not its name, and keeps the names it stands for', () => {
    expect(checkManifest('{ not json', 'database-x')).toMatchObject({
      refused: expect.stringMatching(/^not a manifest probe-ops wrote/),
      claims: ['database-x'],
    })
    const m = manifest('database-y', '2026-12-05T03:00:00.000Z', Buffer.from('x'))
    expect(checkManifest(JSON.stringify(m), 'database-x')).toMatchObject({ refused: 'a foreign manifest: its id "database-y" is not its file name' })
    expect(checkManifest(JSON.stringify(m), 'database-y')).toMatchObject({ manifest: { id: 'database-y' } })
  })
})
