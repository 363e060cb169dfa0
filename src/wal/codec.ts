import { Readable } from 'node:stream'
import type { WalCompression } from '../repositories/layout.js'
import type { AgeRunner } from '../systems/age.js'
import { gunzipBuffer, zstdCompressBuffer, zstdDecompressBuffer } from '../systems/compression.js'
import { SystemError } from '../systems/errors.js'

/**
 * A WAL file as stored: compressed in memory (zstd level 1 through node:zlib, 38 ms for a full
 * 16 MB segment; design-14 §1.4), then encrypted with age when recipients are configured; and
 * back. The age module and node:zlib's gzip are loaded only by the runs that use them: these run
 * once per segment, and start-up is most of their cost.
 */

export type WalCompressionSetting = 'zstd' | 'gzip' | 'none'

export interface Encoding {
  compress: WalCompressionSetting
  recipients?: readonly string[]
  runner?: AgeRunner
  signal?: AbortSignal
}

export function storedCompression(setting: WalCompressionSetting): WalCompression {
  return setting === 'zstd' ? 'zst' : setting === 'gzip' ? 'gz' : 'none'
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function compressed(plain: Buffer, setting: WalCompressionSetting): Promise<Buffer> {
  if (setting === 'zstd') return zstdCompressBuffer(plain, 1)
  if (setting === 'none') return plain
  const zlib = await import('node:zlib')
  return zlib.gzipSync(plain, { level: 1 })
}

/** The bytes to store for `plain`. */
export async function encodeWal(plain: Buffer, encoding: Encoding): Promise<Buffer> {
  const body = await compressed(plain, encoding.compress)
  if (!encoding.recipients?.length) return body
  const { encryptStream } = await import('../systems/age.js')
  return collect(
    await encryptStream(Readable.from([body]), {
      recipients: encoding.recipients,
      ...(encoding.runner ? { runner: encoding.runner } : {}),
      ...(encoding.signal ? { signal: encoding.signal } : {}),
    }),
  )
}

export interface Decoding {
  compression: WalCompression
  encrypted: boolean
  identityFile?: string
  runner?: AgeRunner
  signal?: AbortSignal
  /** What it is, for the messages. */
  what: string
  /** The most the plain file may hold (a segment is at most 1 GiB). */
  maxBytes: number
}

/** The plain file of stored bytes; SystemError('age' | 'compression') when they cannot be read back. */
export async function decodeWal(stored: Buffer, decoding: Decoding): Promise<Buffer> {
  let body = stored
  if (decoding.encrypted) {
    const { decryptStream } = await import('../systems/age.js')
    if (decoding.identityFile === undefined)
      throw new SystemError('age', 'bad-setting', `${decoding.what} is encrypted, and backup.encryption.identityFile is not set on this host`)
    body = await collect(
      await decryptStream(Readable.from([stored]), {
        identityFile: decoding.identityFile,
        what: decoding.what,
        ...(decoding.runner ? { runner: decoding.runner } : {}),
        ...(decoding.signal ? { signal: decoding.signal } : {}),
      }),
    )
  }
  const limits = { maxBytes: decoding.maxBytes, what: decoding.what }
  if (decoding.compression === 'zst') return zstdDecompressBuffer(body, limits)
  if (decoding.compression === 'gz') return gunzipBuffer(body, limits)
  return body
}
