import type { Readable } from 'node:stream'
import { SystemError } from '../systems/errors.js'

/**
 * A place backups and WAL are kept: a local directory or an S3 prefix, with the same keys
 * (./layout.ts). Errors are SystemError('files', …) or SystemError('s3', …): the step that knows
 * the context adds the hint. Every operation takes the step's signal and is bounded by it.
 */

export interface StoredObject {
  key: string
  bytes: number
  modifiedAt: Date
  etag?: string
}

export interface Written {
  key: string
  bytes: number
  sha256: string
  /** How the stored bytes were checked: local re-read, the server's ETag + size, or a full GET re-hash. */
  readBack: 'reread' | 'etag' | 'full'
}

export interface PutOptions {
  signal: AbortSignal
  /** Expected size when known (pg_database_size × ratio): picks the part size so 10,000 parts suffice. */
  sizeHint?: number
  /** Test failpoint names: 'upload-started', 'upload-part-sent' (see src/lib/failpoint.ts). */
  failpoints?: boolean
}

export interface Removed {
  removed: string[]
  failed: { key: string; error: string }[]
}

export interface TopLevel {
  objects: StoredObject[]
  /** Keys of folders, each ending with "/", in key order. */
  folders: string[]
}

export interface AbandonedUpload {
  key: string
  uploadId: string
  initiated: Date
}

export interface Repository {
  readonly name: string
  readonly kind: 'local' | 's3'
  /** "local /var/backups/network-probe", "s3://probe-backups/probe-01/ at minio.example:9000". */
  readonly where: string
  /**
   * Streams `source` to `key` and checks what is stored: size, and sha256 (local re-read) or ETag
   * (S3: md5 of the whole, or md5 of the part md5s + "-N"; else a full GET re-hash). Never leaves a
   * partial file under `key` (local: temporary name + rename); on S3 a failed upload is aborted,
   * and whatever a server kept anyway is never listed as a backup (it has no manifest).
   */
  put(key: string, source: Readable, options: PutOptions): Promise<Written>
  /** Small objects (manifests, WAL segments, the repository file): one PUT with Content-MD5. */
  putBytes(key: string, body: Buffer, options: { signal: AbortSignal; ifAbsent?: boolean }): Promise<Written>
  /** The object's bytes; not there: SystemError with code 'not-found'. */
  get(key: string, options: { signal: AbortSignal }): Promise<Readable>
  head(key: string, options: { signal: AbortSignal }): Promise<StoredObject | undefined>
  /** Every key under `prefix`, in key order (S3: paged, 1000 per request). */
  list(prefix: string, options: { signal: AbortSignal }): AsyncIterable<StoredObject>
  /**
   * One level under `prefix` ('' or ending with "/"): its objects, and its folders ("wal/",
   * "<id>.dir/") unread (S3: a LIST with delimiter "/"). What a backup listing reads, so that it
   * never pages through a WAL archive of 100,000 segments.
   */
  listTop(prefix: string, options: { signal: AbortSignal }): Promise<TopLevel>
  /** Batches of at most 1000 (S3 DeleteObjects); reports per key; a local repository checks containment first. */
  remove(keys: readonly string[], options: { signal: AbortSignal }): Promise<Removed>
  /** Incomplete uploads older than `olderThan` (S3 ListMultipartUploads; 'unsupported' where the server has none). */
  abandonedUploads?(olderThan: Date, options: { signal: AbortSignal }): Promise<{ uploads: AbandonedUpload[] } | 'unsupported'>
  /** Ends an incomplete upload and frees its parts (S3 AbortMultipartUpload). */
  abortUpload?(upload: AbandonedUpload, options: { signal: AbortSignal }): Promise<void>
}

/** The whole content of a small object (a manifest, the repository file), at most `maxBytes`. */
export async function readSmall(repository: Repository, key: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const stream = await repository.get(key, { signal })
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of stream) {
    bytes += (chunk as Buffer).length
    if (bytes > maxBytes) {
      stream.destroy()
      throw new RangeError(`${key} in ${repository.where} holds more than ${maxBytes} bytes, more than such a file ever does`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * Not there as an object: a missing key. A missing bucket (S3's NoSuchBucket) or credentials file
 * is the repository's own failure, never "no such file yet".
 */
export function isMissingObject(error: unknown): boolean {
  return error instanceof SystemError && error.code === 'not-found' && error.data?.missing === undefined
}

/** An error's line without the "offsite (s3://…) " or "offsite: " it starts with, for a caller that names the repository itself. */
export function withoutSubject(repository: Pick<Repository, 'name' | 'where'>, message: string): string {
  for (const start of [`${repository.name} (${repository.where}): `, `${repository.name} (${repository.where}) `, `${repository.name}: `])
    if (message.startsWith(start)) return message.slice(start.length)
  return message
}
