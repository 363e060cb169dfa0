import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/**
 * The checksums of a stream on its way into a repository: sha256 (what manifests record), the
 * md5 of the whole (a single PUT's ETag, and s3rver's for any object) and one md5 per part of
 * `partSize` bytes (an S3 multipart ETag is md5 of the part md5s + "-N"; lib-storage cuts parts at
 * exact multiples of its part size).
 */
export class Digests extends Transform {
  readonly #sha256 = createHash('sha256')
  readonly #md5 = createHash('md5')
  readonly #partSize: number | undefined
  #part: Hash | undefined
  #partBytes = 0
  readonly #parts: Buffer[] = []
  bytes = 0

  constructor(partSize?: number) {
    super()
    this.#partSize = partSize
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#sha256.update(chunk)
    this.#md5.update(chunk)
    this.bytes += chunk.length
    if (this.#partSize !== undefined) this.#partDigests(chunk, this.#partSize)
    callback(null, chunk)
  }

  #partDigests(chunk: Buffer, partSize: number): void {
    for (let offset = 0; offset < chunk.length;) {
      const take = Math.min(partSize - this.#partBytes, chunk.length - offset)
      this.#part ??= createHash('md5')
      this.#part.update(chunk.subarray(offset, offset + take))
      this.#partBytes += take
      offset += take
      if (this.#partBytes === partSize) this.#closePart()
    }
  }

  #closePart(): void {
    if (this.#part) this.#parts.push(this.#part.digest())
    this.#part = undefined
    this.#partBytes = 0
  }

  /** Read once, after the stream ended. */
  result(): StreamDigests {
    if (this.#partBytes > 0) this.#closePart()
    return { bytes: this.bytes, sha256: this.#sha256.digest('hex'), md5: this.#md5.digest('hex'), partMd5s: this.#parts.map((p) => p.toString('hex')) }
  }
}

export interface StreamDigests {
  bytes: number
  sha256: string
  md5: string
  /** One per part when a part size was given; empty otherwise. */
  partMd5s: string[]
}

/** The ETags an S3 server may give an object with these digests: md5 of the whole, or the multipart form. */
export function expectedEtags(digests: Pick<StreamDigests, 'md5' | 'partMd5s'>): string[] {
  const etags = [digests.md5]
  if (digests.partMd5s.length > 0) {
    const combined = createHash('md5')
    for (const part of digests.partMd5s) combined.update(Buffer.from(part, 'hex'))
    etags.push(`${combined.digest('hex')}-${digests.partMd5s.length}`)
  }
  return etags
}

/** Whether a server's ETag (quoted or not, any case) proves the stored bytes are these. */
export function etagMatches(etag: string | undefined, digests: Pick<StreamDigests, 'md5' | 'partMd5s'>): boolean {
  if (etag === undefined) return false
  const bare = etag.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase()
  return expectedEtags(digests).includes(bare)
}

/** A Content-MD5 header's value: base64 of the binary md5. */
export function contentMd5(body: Uint8Array): string {
  return createHash('md5').update(body).digest('base64')
}

export function sha256Of(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex')
}

/** The sha256 and size of a whole stream, for a read-back. */
export async function digestStream(stream: AsyncIterable<unknown>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of stream) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return { bytes, sha256: hash.digest('hex') }
}
