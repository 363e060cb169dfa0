/**
 * The repository layer against a real S3-compatible server (s3rver on loopback) and a real local
 * directory: round trips, a multipart upload, a server cut mid-upload (nothing half-written is
 * ever listed as a backup), the cluster file, credentials kept out of every message, and
 * endpoints that refuse or never answer (one clear error, no hang).
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { s3RepositorySchema, type S3RepositoryConfig } from '../../src/config/repositories.js'
import { digestStream, sha256Of } from '../../src/repositories/checksums.js'
import { ensureRepositoryCluster, readRepositoryFile } from '../../src/repositories/cluster.js'
import { putEverywhere } from '../../src/repositories/fan-out.js'
import { manifestKey } from '../../src/repositories/layout.js'
import { LocalRepository } from '../../src/repositories/local.js'
import type { Repository, StoredObject } from '../../src/repositories/repository.js'
import { S3Repository } from '../../src/repositories/s3.js'
import { defaultHint } from '../../src/jobs/hints.js'
import { SystemError } from '../../src/systems/errors.js'
import { startHangingServer } from '../bed/hang.js'
import { freePort } from '../bed/ports.js'
import { makeTempDir, removeDir } from '../bed/process.js'
import { S3RVER_ACCESS_KEY_ID, startCuttingProxy, startS3, type S3Server } from '../bed/s3.js'

const MIB = 1024 * 1024
let s3: S3Server
let scratch: string
let credentialsFile: string

beforeAll(async () => {
  s3 = await startS3()
  scratch = await makeTempDir('repository-test-')
  credentialsFile = path.join(scratch, 's3-credentials')
  await writeFile(credentialsFile, `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = S3RVER\n`, { mode: 0o600 })
}, 60_000)

afterAll(async () => {
  await s3?.stop()
  if (scratch) await removeDir(scratch)
})

const signal = (): AbortSignal => AbortSignal.timeout(60_000)

function s3Repository(overrides: Partial<S3RepositoryConfig> & { prefix: string }, maxAttempts?: number): S3Repository {
  const config = s3RepositorySchema.parse({
    name: 'offsite',
    type: 's3',
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentialsFile,
    partSizeMiB: 5,
    timeoutSeconds: 10,
    ...overrides,
  })
  return new S3Repository(config, maxAttempts === undefined ? {} : { maxAttempts })
}

async function localRepository(name = 'local'): Promise<LocalRepository> {
  return new LocalRepository({ name, path: await mkdtemp(path.join(scratch, `${name}-`)) })
}

/** A stream of `bytes` bytes in 64 KiB chunks, as a producer (pg_dump, tar) writes it. */
function producer(content: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < content.length; offset += 64 * 1024) yield content.subarray(offset, offset + 64 * 1024)
    })(),
  )
}

async function listAll(repository: Repository, prefix = ''): Promise<StoredObject[]> {
  const found: StoredObject[] = []
  for await (const object of repository.list(prefix, { signal: signal() })) found.push(object)
  return found
}

async function roundTrip(repository: Repository, expectedReadBack: string): Promise<void> {
  const content = randomBytes(300_000)
  const written = await repository.put('database-probe-20261205T023000123Z.dump', producer(content), { signal: signal() })
  expect(written).toMatchObject({ bytes: content.length, sha256: sha256Of(content), readBack: expectedReadBack })
  const manifest = await repository.putBytes(manifestKey('database-probe-20261205T023000123Z'), Buffer.from('{"id":1}\n'), { signal: signal(), ifAbsent: true })
  expect(manifest.bytes).toBe(9)
  await repository.put('database-probe-20261205T030000000Z.dir/toc.dat', producer(Buffer.from('toc')), { signal: signal() })

  expect(await digestStream(await repository.get(written.key, { signal: signal() }))).toEqual({ bytes: content.length, sha256: sha256Of(content) })
  expect(await repository.head(written.key, { signal: signal() })).toMatchObject({ key: written.key, bytes: content.length })
  expect(await repository.head('nothing-here.dump', { signal: signal() })).toBeUndefined()
  expect((await listAll(repository)).map((o) => o.key)).toEqual([
    'database-probe-20261205T023000123Z.dump',
    'database-probe-20261205T023000123Z.manifest.json',
    'database-probe-20261205T030000000Z.dir/toc.dat',
  ])
  expect((await listAll(repository, 'database-probe-20261205T03')).map((o) => o.key)).toEqual(['database-probe-20261205T030000000Z.dir/toc.dat'])
  await expect(repository.get('nothing-here.dump', { signal: signal() })).rejects.toMatchObject({ code: 'not-found' })

  const removed = await repository.remove([written.key, 'database-probe-20261205T030000000Z.dir/toc.dat', '../escape'], { signal: signal() })
  expect(removed.removed).toEqual([written.key, 'database-probe-20261205T030000000Z.dir/toc.dat'])
  expect(removed.failed.map((f) => f.key)).toEqual(['../escape'])
  expect((await listAll(repository)).map((o) => o.key)).toEqual(['database-probe-20261205T023000123Z.manifest.json'])
}

describe('a local repository', () => {
  it('puts, reads back, lists, gets and removes', async () => {
    const local = await localRepository()
    await roundTrip(local, 'reread')
    // The emptied directory of a directory-format dump goes with its last file.
    expect(await readdir(local.where.slice('local '.length))).toEqual(['database-probe-20261205T023000123Z.manifest.json'])
  })

  it('never writes through a link, never replaces a backup, never lists host state', async () => {
    const local = await localRepository()
    const root = local.where.slice('local '.length)
    const elsewhere = await mkdtemp(path.join(scratch, 'elsewhere-'))
    await symlink(elsewhere, path.join(root, 'base-20261205T010000000Z.base'))
    await expect(local.put('base-20261205T010000000Z.base/base.tar.gz', producer(Buffer.from('x')), { signal: signal() })).rejects.toThrow(/symbolic link/)
    expect(await readdir(elsewhere)).toEqual([])
    await expect(local.remove(['base-20261205T010000000Z.base/base.tar.gz'], { signal: signal() })).resolves.toMatchObject({
      removed: [],
      failed: [{ key: 'base-20261205T010000000Z.base/base.tar.gz' }],
    })

    await local.put('config-20261205T000000000Z.tar.gz', producer(Buffer.from('first')), { signal: signal() })
    await expect(local.put('config-20261205T000000000Z.tar.gz', producer(Buffer.from('second')), { signal: signal() })).rejects.toThrow(/already exists/)
    expect((await digestStream(await local.get('config-20261205T000000000Z.tar.gz', { signal: signal() }))).bytes).toBe(5)

    await mkdir(path.join(root, 'pitr-20261205T010000Z'))
    await writeFile(path.join(root, 'pitr-20261205T010000Z', 'PG_VERSION'), '15\n')
    await writeFile(path.join(root, '.pitr-switch.json'), '{}')
    // Nothing half-written is left: only the backup, no temporary.
    expect((await readdir(root)).filter((name) => name.startsWith('.partial-'))).toEqual([])
    expect((await listAll(local)).map((o) => o.key)).toEqual(['config-20261205T000000000Z.tar.gz'])
  })
})

describe('an S3 repository (s3rver)', () => {
  it('puts, reads back by ETag, lists, gets and removes', async () => {
    await roundTrip(s3Repository({ prefix: 'round-trip/' }), 'etag')
  })

  it('streams a multipart upload and checks it by size and ETag, or by a full re-hash when asked', async () => {
    const content = randomBytes(12 * MIB + 123)
    const repository = s3Repository({ prefix: 'multipart/' })
    const written = await repository.put('base-20261205T010000000Z.base.tar.zst', producer(content), { signal: signal(), sizeHint: content.length })
    expect(written).toMatchObject({ bytes: content.length, sha256: sha256Of(content), readBack: 'etag' })
    expect(await digestStream(await repository.get(written.key, { signal: signal() }))).toEqual({ bytes: content.length, sha256: sha256Of(content) })

    const full = s3Repository({ prefix: 'multipart-full/', readBack: 'full' })
    const again = await full.put('base-20261205T020000000Z.base.tar.zst', producer(content), { signal: signal() })
    expect(again.readBack).toBe('full')
    expect(await full.abandonedUploads(new Date(), { signal: signal() })).toBe('unsupported')
  })

  it.each([
    { upload: 'a single PUT', bytes: 3 * MIB, cutAfterBytes: 1_000_000 },
    { upload: 'a multipart upload', bytes: 12 * MIB, cutAfterBytes: 7 * MIB },
  ])('a server cut in the middle of $upload leaves nothing listed as a backup there, and the local copy stands', async ({ bytes, cutAfterBytes }) => {
    const prefix = `cut-${bytes}/`
    const proxy = await startCuttingProxy(s3, { cutAfterBytes })
    try {
      const local = await localRepository()
      const offsite = s3Repository({ prefix, endpoint: proxy.endpoint })
      const content = randomBytes(bytes)
      const id = 'database-probe-20261205T023000123Z'
      const copies = await putEverywhere([local, offsite], `${id}.dump`, producer(content), { signal: signal() })
      // The commit rule: a manifest only where the data was stored and read back.
      for (const repository of [local, offsite])
        if (copies.get(repository.name)?.ok) await repository.putBytes(manifestKey(id), Buffer.from('{}\n'), { signal: signal(), ifAbsent: true })

      expect(proxy.cut).toBe(true)
      expect(copies.get('local')).toMatchObject({ ok: true, written: { bytes, readBack: 'reread' } })
      const failed = copies.get('offsite')
      expect(failed?.ok).toBe(false)
      expect((failed as { error: unknown }).error).toBeInstanceOf(SystemError)
      expect((failed as { error: SystemError }).error.system).toBe('s3')

      const there = await listAll(s3Repository({ prefix }))
      expect(there.filter((o) => o.key.endsWith('.manifest.json'))).toEqual([])
      // What s3rver may have kept under the final key is a truncated leftover, never the whole.
      for (const object of there) expect(object.bytes).toBeLessThan(bytes)
      expect((await listAll(local)).map((o) => o.key)).toEqual([`${id}.dump`, manifestKey(id)])
    } finally {
      await proxy.close()
    }
  })
})

describe('listing one level', () => {
  it.each(['local', 's3'])('names the folders (wal/, a directory dump) without reading them (%s)', async (kind) => {
    const repository = kind === 'local' ? await localRepository() : s3Repository({ prefix: 'top/' })
    // A legacy plain WAL copy, one level down: s3rver names no common prefix for keys deeper than that (S3 does).
    for (const key of ['a.dump', 'a.manifest.json', 'b.dir/toc.dat', 'b.dir/1.dat', 'wal/000000010000000000000001'])
      await repository.putBytes(key, Buffer.from(key), { signal: signal() })
    const top = await repository.listTop('', { signal: signal() })
    expect(top.objects.map((o) => [o.key, o.bytes])).toEqual([
      ['a.dump', 6],
      ['a.manifest.json', 15],
    ])
    expect(top.folders).toEqual(['b.dir/', 'wal/'])
    expect((await repository.listTop('b.dir/', { signal: signal() })).objects.map((o) => o.key)).toEqual(['b.dir/1.dat', 'b.dir/toc.dat'])
  })

  it('a local repository with its wal/ elsewhere (walPath) names it too', async () => {
    const root = await mkdtemp(path.join(scratch, 'walpath-'))
    const repository = new LocalRepository({ name: 'local', path: path.join(root, 'backups'), walPath: path.join(root, 'wal') })
    await repository.putBytes('a.dump', Buffer.from('a'), { signal: signal() })
    expect((await repository.listTop('', { signal: signal() })).folders).toEqual([])
    await repository.putBytes('wal/15-1/0000000100000000/segment-1.zst', Buffer.from('w'), { signal: signal() })
    expect(await repository.listTop('', { signal: signal() })).toMatchObject({ objects: [{ key: 'a.dump' }], folders: ['wal/'] })
  })
})

describe('the cluster a repository belongs to', () => {
  it.each(['local', 's3'])('is recorded by the first writer and refuses another cluster (%s)', async (kind) => {
    const repository = kind === 'local' ? await localRepository() : s3Repository({ prefix: 'cluster/' })
    const ours = { systemIdentifier: '7715790966965947287', serverVersion: '15.20', major: 15 }
    const context = { host: 'probe-01', signal: signal() }
    expect(await ensureRepositoryCluster(repository, ours, context)).toMatchObject({ archiveId: '15-1', systemIdentifier: ours.systemIdentifier })
    expect(await ensureRepositoryCluster(repository, ours, context)).toMatchObject({ archiveId: '15-1' })
    await expect(ensureRepositoryCluster(repository, { ...ours, systemIdentifier: '7716000000000000001' }, context)).rejects.toThrow(
      /belongs to cluster 7715790966965947287 \(archive 15-1\); this server is 7716000000000000001/,
    )
  })
})

/** An S3 failure said in exactly `line`: one line, the repository named, none of the SDK's own words. */
function expectOneLine(error: unknown, code: string, line: string): void {
  expect(error).toBeInstanceOf(SystemError)
  expect(error).toMatchObject({ system: 's3', code })
  expect((error as Error).message).toBe(line)
}

describe('credentials and endpoints', () => {
  const secret = 'Sup3r-Secret-Value-0987654321'

  it('wrong or missing credentials are one clear auth error that never quotes a secret', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY }
    try {
      process.env.AWS_ACCESS_KEY_ID = 'AKIAWRONGKEY0000'
      process.env.AWS_SECRET_ACCESS_KEY = secret
      const wrong = s3Repository({ prefix: 'auth/', credentialsFile: undefined })
      const error = await wrong.putBytes('x.manifest.json', Buffer.from('{}'), { signal: signal() }).catch((e: unknown) => e)
      expectOneLine(error, 'auth', `offsite (s3://${s3.bucket}/auth/ at 127.0.0.1:${s3.port}) refused the credentials (InvalidAccessKeyId, HTTP 403)`)
      expect(defaultHint(error)).toMatch(/^check the credentials of backup\.repositories\[offsite\]/)
      expect(inspect(error, { depth: 8 })).not.toContain(secret)

      delete process.env.AWS_ACCESS_KEY_ID
      delete process.env.AWS_SECRET_ACCESS_KEY
      const none = s3Repository({ prefix: 'auth/', credentialsFile: undefined })
      await expect(none.head('x', { signal: signal() })).rejects.toMatchObject({
        code: 'auth',
        message: expect.stringMatching(/^offsite \(s3:\/\/.*\): no credentials in the environment/),
      })

      const exposed = path.join(scratch, 'exposed-credentials')
      await writeFile(exposed, `[default]\naws_access_key_id = S3RVER\naws_secret_access_key = ${secret}\n`)
      await chmod(exposed, 0o644)
      const error2 = await s3Repository({ prefix: 'auth/', credentialsFile: exposed })
        .head('x', { signal: signal() })
        .catch((e: unknown) => e)
      expect(error2).toMatchObject({ code: 'bad-setting', message: expect.stringMatching(/readable by others/) })
      expect(inspect(error2, { depth: 8 })).not.toContain(secret)
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID
      else process.env.AWS_ACCESS_KEY_ID = saved.id
      if (saved.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY
      else process.env.AWS_SECRET_ACCESS_KEY = saved.key
    }
  })

  it('a missing bucket is named by the very first request, never taken for a repository without its file', async () => {
    const repository = s3Repository({ prefix: 'x/', bucket: 'no-such-bucket' })
    const line = `offsite: bucket no-such-bucket does not exist at 127.0.0.1:${s3.port}`
    for (const attempt of [
      () => readRepositoryFile(repository, signal()),
      () => ensureRepositoryCluster(repository, { systemIdentifier: '1', serverVersion: '15.20', major: 15 }, { host: 'probe-01', signal: signal() }),
      () => listAll(repository),
    ]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      )
      expectOneLine(error, 'not-found', line)
      expect(defaultHint(error)).toBe('create it or fix backup.repositories[offsite].bucket')
    }
  })

  it('an endpoint nothing listens on is refused at once, in one line that says what to check', async () => {
    const port = await freePort()
    const error = await s3Repository({ prefix: 'x/', endpoint: `http://127.0.0.1:${port}` })
      .put('a.dump', producer(randomBytes(1000)), { signal: signal() })
      .catch((e: unknown) => e)
    expectOneLine(
      error,
      'refused',
      `offsite (s3://${s3.bucket}/x/ at 127.0.0.1:${port}): nothing accepts connections at 127.0.0.1:${port} (connection refused)`,
    )
    expect(defaultHint(error)).toMatch(/backup\.repositories\[offsite\]\.endpoint/)
  })

  it('a host name that does not resolve is dns', async () => {
    const error = await listAll(s3Repository({ prefix: 'x/', endpoint: 'http://no-such-host.invalid:9000' }, 1)).catch((e: unknown) => e)
    expectOneLine(error, 'dns', `offsite (s3://${s3.bucket}/x/ at no-such-host.invalid:9000): the host name no-such-host.invalid does not resolve`)
  })

  it('an endpoint that takes the connection and never answers fails within the request timeout, printing nothing', async () => {
    const hanging = await startHangingServer()
    const warn = vi.spyOn(console, 'warn')
    const log = vi.spyOn(console, 'log')
    try {
      const repository = s3Repository({ prefix: 'x/', endpoint: hanging.url, timeoutSeconds: 1 }, 1)
      const line = `offsite (s3://${s3.bucket}/x/ at 127.0.0.1:${hanging.port}) did not answer within 1 s`
      expectOneLine(await repository.head('a.dump', { signal: signal() }).catch((e: unknown) => e), 'no-answer', line)
      const error = await repository.put('a.dump', producer(randomBytes(1000)), { signal: signal() }).catch((e: unknown) => e)
      expectOneLine(error, 'no-answer', line)
      expect(defaultHint(error)).toMatch(/raise backup\.repositories\[offsite\]\.timeoutSeconds/)
      expect(warn).not.toHaveBeenCalled()
      expect(log).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
      log.mockRestore()
      await hanging.close()
    }
  }, 30_000)
})
