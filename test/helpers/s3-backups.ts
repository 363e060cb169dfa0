/**
 * Backups in an S3 repository before `backup database` writes them there itself: a real backup
 * that `probe-ops backup database` took into a local directory, copied into the bucket through the
 * Repository API with a v2 manifest (and, when asked, encrypted with the plain `age` program, its
 * `stored` checksums and `encryption` recipients in the manifest). E1's storeBackup replaces this:
 * once backups go to every repository, tests take them with the CLI alone.
 */
import { createHash } from 'node:crypto'
import { createReadStream, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import { join } from 'node:path'
import { execa } from 'execa'
import type { BackupManifest } from '../../src/backups/manifest.js'
import { s3RepositorySchema, type S3RepositoryConfig } from '../../src/config/repositories.js'
import { manifestKey } from '../../src/repositories/layout.js'
import { S3Repository } from '../../src/repositories/s3.js'
import { S3RVER_ACCESS_KEY_ID, type S3Server } from '../bed/s3.js'
import { tempDir } from './temp.js'

/** The secret in the test's credentials file: s3rver takes any, and no output may ever show it. */
export const TEST_S3_SECRET = 'test-secret-never-printed-5f1c'

/** An AWS shared-credentials file for s3rver, private as the configuration requires. */
export async function writeCredentialsFile(dir: string): Promise<string> {
  const path = join(dir, 's3-credentials')
  await writeFile(path, `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = ${TEST_S3_SECRET}\n`, { mode: 0o600 })
  return path
}

/** The configuration entry of an S3 repository on the test server (or on a front in its place). */
export function s3RepositoryEntry(s3: S3Server, credentialsFile: string, overrides: Partial<S3RepositoryConfig> & { prefix: string }): Record<string, unknown> {
  return { name: 'offsite', type: 's3', bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, credentialsFile, timeoutSeconds: 5, ...overrides }
}

export function openS3Repository(entry: Record<string, unknown>): S3Repository {
  return new S3Repository(s3RepositorySchema.parse(entry))
}

/** An age key pair made by age-keygen: the identity file, and its public key. */
export async function ageKeyPair(dir: string, name: string): Promise<{ identityFile: string; recipient: string }> {
  const identityFile = join(dir, `${name}.key`)
  await execa('age-keygen', ['-o', identityFile])
  const { stdout } = await execa('age-keygen', ['-y', identityFile])
  return { identityFile, recipient: stdout.trim() }
}

function digests(path: string): { bytes: number; sha256: string; md5: string } {
  const content = readFileSync(path)
  return {
    bytes: content.length,
    sha256: createHash('sha256').update(content).digest('hex'),
    md5: createHash('md5').update(content).digest('hex'),
  }
}

/** `YYYYMMDDTHHMMSSmmmZ`, as backup ids end. */
function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.(\d+)Z$/, '$1Z')
}

/**
 * Copies the local backup `id` (a custom-format dump or a tar, in `backupDir`) into `repository`
 * with a v2 manifest. `recipients`: encrypted with `age -r` first. `startedAt`: another id for the
 * copy, as if taken then (prune's tests need old backups).
 */
export async function copyToS3(
  backupDir: string,
  id: string,
  repository: S3Repository,
  options: { recipients?: string[]; startedAt?: Date } = {},
): Promise<BackupManifest> {
  const local = JSON.parse(readFileSync(join(backupDir, `${id}.manifest.json`), 'utf8')) as BackupManifest
  let manifest: BackupManifest = { ...local, manifestVersion: 2, verifications: [] }
  if (options.startedAt) {
    const newId = id.replace(/\d{8}T\d{9}Z$/, stamp(options.startedAt))
    manifest = {
      ...manifest,
      id: newId,
      data: local.data.replace(id, newId),
      startedAt: options.startedAt.toISOString(),
      finishedAt: options.startedAt.toISOString(),
    }
  }
  let dataPath = join(backupDir, local.data)
  if (options.recipients?.length) {
    const encrypted = join(tempDir('age-out'), local.data)
    await execa('age', [...options.recipients.flatMap((r) => ['-r', r]), '-o', encrypted, dataPath])
    dataPath = encrypted
    manifest = { ...manifest, stored: digests(encrypted), encryption: { format: 'age', recipients: options.recipients } }
  }
  const signal = AbortSignal.timeout(60_000)
  await repository.put(manifest.data, createReadStream(dataPath), { signal })
  await repository.putBytes(manifestKey(manifest.id), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { signal, ifAbsent: true })
  return manifest
}

/** An HTTP front of the test server: what passes through it, and (when asked) a bucket policy refusing deletes. */
export interface S3Front {
  endpoint: string
  /** Every request, in order: method and URL (path and query). */
  requests: { method: string; url: URL }[]
  close(): Promise<void>
}

/** A front that refuses every delete with 403 AccessDenied, as a bucket policy without s3:DeleteObject does. */
export function startDeleteRefusingFront(target: Pick<S3Server, 'port'>): Promise<S3Front> {
  return startFront(target, { refuseDeletes: true })
}

/** A front that passes every request to the server, and records it. */
export async function startFront(target: Pick<S3Server, 'port'>, options: { refuseDeletes?: boolean } = {}): Promise<S3Front> {
  const requests: S3Front['requests'] = []
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://front')
    requests.push({ method: request.method ?? 'GET', url })
    if (options.refuseDeletes && (request.method === 'DELETE' || (request.method === 'POST' && url.searchParams.has('delete')))) {
      request.resume()
      response.writeHead(403, { 'content-type': 'application/xml' })
      response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>')
      return
    }
    const upstream = http.request({ host: '127.0.0.1', port: target.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => response.destroy())
    request.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()))
  const { port } = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
