import { Transform, pipeline, type Readable } from 'node:stream'
import zlib from 'node:zlib'
import { describeError } from '../errors.js'
import { SystemError } from './errors.js'
import { filterThroughProgram, relayErrors, type FilterExit } from './program-filter.js'
import { findExecutable, lastLine } from './programs.js'
import { ZstdFrameWalk, zstdIncompleteness } from './zstd-frames.js'

/**
 * Compression of backups and WAL. zstd for everything new: a 16 MB WAL segment in memory through
 * node:zlib (level 1: 38 ms, against 179 ms for gzip -1; design-14 §1.4), and large streams
 * (base backups, restores) through the `zstd` program, which is twice as fast as node's streaming
 * zstd and can use several cores. gzip is read for the backups made before (`.gz`).
 */

export type CompressionFormat = 'zstd' | 'gzip' | 'none'

/** node:zlib has zstd from Node 22.15 on. */
function nodeZstd(): void {
  if (typeof zlib.zstdCompressSync !== 'function') {
    throw new SystemError(
      'compression',
      'not-installed',
      `zstd compression needs Node.js 22.15 or newer, and this is ${process.version}: run probe-ops with a newer Node`,
    )
  }
}

function damaged(format: CompressionFormat, what: string | undefined, said: string, cause?: unknown): SystemError {
  return new SystemError('compression', 'failed', `${what ?? 'the data'} cannot be decompressed (${format}): it is damaged or truncated (${said})`, {
    data: { reason: 'damaged' },
    ...(cause === undefined ? {} : { cause }),
  })
}

/** zstd of a buffer, in memory (a WAL segment). Level 1: the speed the archiver needs. */
export function zstdCompressBuffer(data: Uint8Array, level = 1): Buffer {
  nodeZstd()
  return zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } })
}

/** A zstd frame decompressed in memory; `maxBytes` bounds what it may grow to (a 16 MB segment). */
export function zstdDecompressBuffer(data: Uint8Array, options: { maxBytes?: number; what?: string } = {}): Buffer {
  nodeZstd()
  // node:zlib returns what it decoded of a cut frame without a word (zstd-frames.ts).
  const problem = zstdIncompleteness(data)
  if (problem !== undefined) throw damaged('zstd', options.what, problem)
  try {
    return zlib.zstdDecompressSync(data, options.maxBytes === undefined ? {} : { maxOutputLength: options.maxBytes })
  } catch (error) {
    throw damaged('zstd', options.what, describeError(error), error)
  }
}

/** A gzip member decompressed in memory (legacy backups). */
export function gunzipBuffer(data: Uint8Array, options: { maxBytes?: number; what?: string } = {}): Buffer {
  try {
    return zlib.gunzipSync(data, options.maxBytes === undefined ? {} : { maxOutputLength: options.maxBytes })
  } catch (error) {
    throw damaged('gzip', options.what, describeError(error), error)
  }
}

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd]
const GZIP_MAGIC = [0x1f, 0x8b]

/** The format of data from its first bytes (a frame's magic number); `none` for anything else. */
export function formatOf(firstBytes: Uint8Array): CompressionFormat {
  const starts = (magic: number[]) => magic.every((byte, index) => firstBytes[index] === byte)
  if (starts(ZSTD_MAGIC)) return 'zstd'
  if (starts(GZIP_MAGIC)) return 'gzip'
  return 'none'
}

/** The format a file name says (`.zst`, `.gz`), before any `.age`. */
export function formatOfName(name: string): CompressionFormat {
  const plain = name.replace(/\.age$/, '')
  if (plain.endsWith('.zst')) return 'zstd'
  if (plain.endsWith('.gz')) return 'gzip'
  return 'none'
}

let zstdPath: Promise<string | undefined> | undefined

/** The `zstd` program, or undefined (then node:zlib's streams do it, slower). */
export function zstdProgram(): Promise<string | undefined> {
  zstdPath ??= findExecutable('zstd')
  return zstdPath
}

export interface StreamOptions {
  signal?: AbortSignal
  /** What is (de)compressed, for the error's message. */
  what?: string
  /** false: node:zlib even when the zstd program is installed. */
  program?: boolean
}

function programFailure(format: CompressionFormat, options: StreamOptions) {
  return (exit: FilterExit): SystemError => {
    if (exit.cancelled) return new SystemError('compression', 'cancelled', 'zstd was cancelled')
    const said =
      exit.startFailure ??
      lastLine(exit.stderr)
        ?.replace(/^(zstd: )?\/\*stdin\*\\ ?: /, '')
        .replace(/\s+/g, ' ') ??
      `zstd exited with ${exit.exitCode ?? exit.signal}`
    return damaged(format, options.what, said)
  }
}

/** zstd data passed through as it is, failing when it is not whole frames (see zstd-frames.ts). */
function wholeFrames(): Transform {
  const walk = new ZstdFrameWalk()
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      walk.push(chunk)
      done(walk.problem === undefined ? null : new Error(walk.problem), chunk)
    },
    flush(done) {
      const problem = walk.incompleteness()
      done(problem === undefined ? null : new Error(problem))
    },
  })
}

/** Through node:zlib's streams, their errors said as ours (the input's own and a cancellation stay as they are). */
function throughNode(input: Readable, transforms: Transform[], format: CompressionFormat, options: StreamOptions): Readable {
  let inputFailure: unknown
  input.once('error', (error) => (inputFailure = error))
  const last = transforms.at(-1)!
  // Any stage failing destroys every stage, the last with that error.
  pipeline([input, ...transforms], () => undefined)
  const abort = () => last.destroy(new SystemError('compression', 'cancelled', `${format} was cancelled`))
  if (options.signal?.aborted) abort()
  options.signal?.addEventListener('abort', abort, { once: true })
  last.once('close', () => options.signal?.removeEventListener('abort', abort))
  return relayErrors(last, (error) => {
    if (inputFailure instanceof Error) return inputFailure
    return error instanceof SystemError ? error : damaged(format, options.what, describeError(error), error)
  })
}

/**
 * `input` compressed with zstd at `level`, through the zstd program (`workers` threads) when it
 * is installed, else node:zlib (one thread).
 */
export async function zstdCompressStream(input: Readable, options: StreamOptions & { level?: number; workers?: number } = {}): Promise<Readable> {
  const level = options.level ?? 1
  const program = options.program === false ? undefined : await zstdProgram()
  if (program !== undefined) {
    return filterThroughProgram(program, ['-q', '-c', `-${level}`, `-T${options.workers ?? 1}`], input, {
      ...(options.signal ? { signal: options.signal } : {}),
      failure: programFailure('zstd', options),
    })
  }
  nodeZstd()
  return throughNode(input, [zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level } })], 'zstd', options)
}

/**
 * `input` decompressed: zstd through the program when installed (else node:zlib), gzip through
 * node:zlib, `none` as it is. A truncated or damaged input fails the stream.
 */
export async function decompressStream(input: Readable, format: CompressionFormat, options: StreamOptions = {}): Promise<Readable> {
  if (format === 'none') return input
  if (format === 'gzip') return throughNode(input, [zlib.createGunzip()], 'gzip', options)
  const program = options.program === false ? undefined : await zstdProgram()
  if (program !== undefined) {
    return filterThroughProgram(program, ['-q', '-d', '-c'], input, {
      ...(options.signal ? { signal: options.signal } : {}),
      failure: programFailure('zstd', options),
    })
  }
  nodeZstd()
  return throughNode(input, [wholeFrames(), zlib.createZstdDecompress()], 'zstd', options)
}
