import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { S3Client } from '@aws-sdk/client-s3'
import type { S3RepositoryConfig } from '../config/repositories.js'
import { describeError } from '../errors.js'
import { failpoint } from '../lib/failpoint.js'
import { SystemError } from '../systems/errors.js'
import { createS3Client, httpStatusOf, loadClientS3, loadLibStorage, s3Error, s3Label, s3Where, type S3ClientOptions, type S3Subject } from '../systems/s3.js'
import { Digests, contentMd5, digestStream, etagMatches, sha256Of, type StreamDigests } from './checksums.js'
import { keyProblem, isRepositoryKey } from './layout.js'
import type { AbandonedUpload, PutOptions, Removed, Repository, StoredObject, TopLevel, Written } from './repository.js'

const MIB = 1024 * 1024
/** S3's limit on the parts of one upload; lib-storage refuses more. */
const MAX_PARTS = 10_000
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000

/**
 * A repository under an S3 prefix. Data streams through lib-storage's multipart Upload (never held
 * whole in memory, never staged on disk) and is checked after: the size and ETag from a HEAD, or
 * a GET and re-hash when the ETag proves nothing (SSE-KMS, gateways) or `readBack: full` asks.
 * A failed upload is aborted; whatever a server kept anyway (s3rver keeps a cut PUT's body under
 * the final key) has no manifest, so it is never listed as a backup.
 */
export class S3Repository implements Repository {
  readonly kind = 's3' as const
  readonly name: string
  readonly where: string
  readonly #config: S3RepositoryConfig
  readonly #options: S3ClientOptions
  readonly #subject: S3Subject
  #s3: S3Client | undefined

  /** `setting`: its entry in the configuration, "backup.repositories[1]", which hints name. */
  constructor(config: S3RepositoryConfig, options: S3ClientOptions & { setting?: string } = {}) {
    this.name = config.name
    this.#config = config
    this.#options = options
    this.where = s3Where(config, config.prefix)
    this.#subject = { name: config.name, where: this.where, connection: config, setting: options.setting ?? `backup.repositories[${config.name}]` }
  }

  /** Built on first use: the SDK is loaded only by runs that talk to S3. */
  get #client(): S3Client {
    this.#s3 ??= createS3Client(this.#config, this.#subject, this.#options)
    return this.#s3
  }

  #objectKey(key: string): string {
    const problem = keyProblem(key)
    if (problem) throw new SystemError('s3', 'failed', `${this.name}: not a repository key: ${problem}`, { target: this.where })
    return `${this.#config.prefix}${key}`
  }

  /** One request, bounded by the step's signal (and by the client's request timeout). */
  async #send<T>(what: string, signal: AbortSignal, command: (sdk: ReturnType<typeof loadClientS3>) => unknown): Promise<T> {
    const client = this.#client
    try {
      return (await client.send(command(loadClientS3()) as never, { abortSignal: signal })) as T
    } catch (error) {
      throw s3Error(error, what, this.#subject, signal)
    }
  }

  #partSize(sizeHint: number | undefined): number {
    return Math.max(this.#config.partSizeMiB * MIB, Math.ceil(((sizeHint ?? 0) * 1.5) / MAX_PARTS))
  }

  async put(key: string, source: Readable, options: PutOptions): Promise<Written> {
    const objectKey = this.#objectKey(key)
    const client = this.#client
    const { Upload } = loadLibStorage()
    const partSize = this.#partSize(options.sizeHint)
    const digests = new Digests(partSize)
    if (options.failpoints) await failpoint('upload-started')
    const feeding = pipeline(source, digests)
    // Rejected with the upload's own error when the upload stops reading: that one is reported.
    feeding.catch(() => undefined)
    const upload = new Upload({
      client,
      params: { Bucket: this.#config.bucket, Key: objectKey, Body: digests, ...(this.#config.storageClass ? { StorageClass: this.#config.storageClass } : {}) },
      partSize,
      queueSize: this.#config.queueSize,
      leavePartsOnError: false,
    })
    if (options.failpoints) upload.on('httpUploadProgress', () => void failpoint('upload-part-sent'))
    const stop = (): void => void upload.abort().catch(() => undefined)
    options.signal.addEventListener('abort', stop, { once: true })
    try {
      await Promise.all([upload.done(), feeding])
    } catch (error) {
      await upload.abort().catch(() => undefined)
      source.destroy()
      digests.destroy()
      throw s3Error(error, `the upload of ${key}`, this.#subject, options.signal)
    } finally {
      options.signal.removeEventListener('abort', stop)
    }
    const written = digests.result()
    const readBack = await this.#readBack(key, written, options.signal)
    return { key, bytes: written.bytes, sha256: written.sha256, readBack }
  }

  async putBytes(key: string, body: Buffer, options: { signal: AbortSignal; ifAbsent?: boolean }): Promise<Written> {
    const Key = this.#objectKey(key)
    const md5 = contentMd5(body)
    await this.#send(`PUT ${key}`, options.signal, (sdk) => {
      // If-None-Match is honoured by AWS and recent MinIO; s3rver ignores it (keys are unique anyway).
      const conditional = options.ifAbsent ? { IfNoneMatch: '*' } : {}
      return new sdk.PutObjectCommand({ Bucket: this.#config.bucket, Key, Body: body, ContentMD5: md5, ContentLength: body.length, ...conditional })
    })
    const digests = { bytes: body.length, md5: Buffer.from(md5, 'base64').toString('hex'), partMd5s: [], sha256: sha256Of(body) }
    return { key, bytes: body.length, sha256: digests.sha256, readBack: await this.#readBack(key, digests, options.signal) }
  }

  /** Checks what the server stored against what was sent; a copy that differs is removed and refused. */
  async #readBack(key: string, sent: StreamDigests, signal: AbortSignal): Promise<Written['readBack']> {
    let found: { bytes: number; sha256?: string } | undefined
    let method: Written['readBack'] = 'full'
    if (this.#config.readBack === 'etag') {
      const head = await this.head(key, { signal })
      if (head && head.bytes === sent.bytes && etagMatches(head.etag, sent)) return 'etag'
      if (!head || head.bytes !== sent.bytes) {
        found = head
        method = 'etag'
      }
    }
    if (method === 'full') found = await digestStream(await this.get(key, { signal }))
    if (found && found.bytes === sent.bytes && found.sha256 === sent.sha256) return 'full'
    await this.remove([key], { signal }).catch(() => undefined)
    const what = found ? `${found.bytes} bytes${found.sha256 ? ` with sha256 ${found.sha256.slice(0, 12)}…` : ''}` : 'nothing'
    throw new SystemError(
      's3',
      'bad-answer',
      `${s3Label(this.#subject)}: ${key} was uploaded (${sent.bytes} bytes, sha256 ${sent.sha256.slice(0, 12)}…) but the server holds ${what}`,
      {
        target: this.where,
      },
    )
  }

  async get(key: string, options: { signal: AbortSignal }): Promise<Readable> {
    const Key = this.#objectKey(key)
    const answer = await this.#send<{ Body?: unknown }>(`GET ${key}`, options.signal, (sdk) => new sdk.GetObjectCommand({ Bucket: this.#config.bucket, Key }))
    if (!answer.Body) throw new SystemError('s3', 'bad-answer', `${s3Label(this.#subject)}: GET ${key}: an answer without a body`, { target: this.where })
    return answer.Body as Readable
  }

  async head(key: string, options: { signal: AbortSignal }): Promise<StoredObject | undefined> {
    const Key = this.#objectKey(key)
    try {
      const answer = await this.#send<{ ContentLength?: number; LastModified?: Date; ETag?: string }>(
        `HEAD ${key}`,
        options.signal,
        (sdk) => new sdk.HeadObjectCommand({ Bucket: this.#config.bucket, Key }),
      )
      return { key, bytes: answer.ContentLength ?? 0, modifiedAt: answer.LastModified ?? new Date(0), ...(answer.ETag ? { etag: answer.ETag } : {}) }
    } catch (error) {
      // A HEAD's 404 has no body, so no error name: a missing bucket looks the same, and is found by list.
      if (error instanceof SystemError && error.code === 'not-found' && httpStatusOf(error.cause) === 404) return undefined
      throw error
    }
  }

  async *list(prefix: string, options: { signal: AbortSignal }): AsyncIterable<StoredObject> {
    for await (const page of this.#pages(prefix, false, options.signal)) yield* page.objects
  }

  async listTop(prefix: string, options: { signal: AbortSignal }): Promise<TopLevel> {
    const top: TopLevel = { objects: [], folders: [] }
    for await (const page of this.#pages(prefix, true, options.signal)) {
      top.objects.push(...page.objects)
      top.folders.push(...page.folders)
    }
    return top
  }

  /** ListObjectsV2 under `prefix`, page by page; with `delimited`, one level only (folders as CommonPrefixes). */
  async *#pages(prefix: string, delimited: boolean, signal: AbortSignal): AsyncIterable<TopLevel> {
    const base = this.#config.prefix
    let token: string | undefined
    do {
      type Page = {
        Contents?: { Key?: string; Size?: number; LastModified?: Date; ETag?: string }[]
        CommonPrefixes?: { Prefix?: string }[]
        IsTruncated?: boolean
        NextContinuationToken?: string
      }
      const continuation = token
      const page = await this.#send<Page>(
        `LIST ${prefix || '(all)'}`,
        signal,
        (sdk) =>
          new sdk.ListObjectsV2Command({
            Bucket: this.#config.bucket,
            Prefix: `${base}${prefix}`,
            ...(delimited ? { Delimiter: '/' } : {}),
            ...(continuation ? { ContinuationToken: continuation } : {}),
          }),
      )
      const objects: StoredObject[] = []
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(base.length)
        // Someone else's object under the prefix (a dotfile, an odd name) is not a repository key.
        if (key === undefined || !object.Key!.startsWith(base) || !isRepositoryKey(key)) continue
        objects.push({ key, bytes: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0), ...(object.ETag ? { etag: object.ETag } : {}) })
      }
      const folders = (page.CommonPrefixes ?? [])
        .map((common) => common.Prefix?.slice(base.length))
        .filter((folder): folder is string => folder !== undefined && isRepositoryKey(folder.slice(0, -1)))
      yield { objects, folders }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async remove(keys: readonly string[], options: { signal: AbortSignal }): Promise<Removed> {
    const result: Removed = { removed: [], failed: [] }
    const valid: string[] = []
    for (const key of keys) {
      const problem = keyProblem(key)
      if (problem) result.failed.push({ key, error: `not a repository key: ${problem}` })
      else valid.push(key)
    }
    const base = this.#config.prefix
    for (let start = 0; start < valid.length; start += DELETE_BATCH) {
      const batch = valid.slice(start, start + DELETE_BATCH)
      try {
        type Answer = { Deleted?: { Key?: string }[]; Errors?: { Key?: string; Code?: string; Message?: string }[] }
        const answer = await this.#send<Answer>(
          `DELETE ${batch.length} key(s)`,
          options.signal,
          (sdk) =>
            new sdk.DeleteObjectsCommand({ Bucket: this.#config.bucket, Delete: { Objects: batch.map((key) => ({ Key: `${base}${key}` })), Quiet: false } }),
        )
        const failed = new Map((answer.Errors ?? []).map((error) => [error.Key?.slice(base.length), `${error.Code ?? 'Error'}: ${error.Message ?? ''}`.trim()]))
        for (const key of batch) {
          const reason = failed.get(key)
          if (reason === undefined) result.removed.push(key)
          else result.failed.push({ key, error: reason })
        }
      } catch (error) {
        for (const key of batch) result.failed.push({ key, error: describeError(error) })
      }
    }
    return result
  }

  async abandonedUploads(olderThan: Date, options: { signal: AbortSignal }): Promise<{ uploads: AbandonedUpload[] } | 'unsupported'> {
    const base = this.#config.prefix
    const uploads: AbandonedUpload[] = []
    let marker: { KeyMarker?: string; UploadIdMarker?: string } = {}
    for (;;) {
      type Page = {
        Uploads?: { Key?: string; UploadId?: string; Initiated?: Date }[]
        IsTruncated?: boolean
        NextKeyMarker?: string
        NextUploadIdMarker?: string
      }
      let page: Page
      try {
        const markers = marker
        page = await this.#send<Page>(
          'LIST multipart uploads',
          options.signal,
          (sdk) => new sdk.ListMultipartUploadsCommand({ Bucket: this.#config.bucket, Prefix: base, ...markers }),
        )
      } catch (error) {
        // s3rver (and some gateways) answer NotImplemented: the clean-up of incomplete uploads is theirs.
        const cause = error instanceof SystemError ? error.cause : error
        if ((cause instanceof Error && cause.name === 'NotImplemented') || httpStatusOf(cause) === 501) return 'unsupported'
        throw error
      }
      for (const upload of page.Uploads ?? [])
        if (upload.Key?.startsWith(base) && upload.UploadId && upload.Initiated && upload.Initiated < olderThan)
          uploads.push({ key: upload.Key.slice(base.length), uploadId: upload.UploadId, initiated: upload.Initiated })
      if (!page.IsTruncated) return { uploads }
      marker = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker }
    }
  }

  async abortUpload(upload: AbandonedUpload, options: { signal: AbortSignal }): Promise<void> {
    const Key = this.#objectKey(upload.key)
    await this.#send(
      `ABORT the upload of ${upload.key}`,
      options.signal,
      (sdk) => new sdk.AbortMultipartUploadCommand({ Bucket: this.#config.bucket, Key, UploadId: upload.uploadId }),
    )
  }
}
