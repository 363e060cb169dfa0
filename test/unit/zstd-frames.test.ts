import { randomBytes } from 'node:crypto'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { ZstdFrameWalk, zstdIncompleteness } from '../../src/systems/zstd-frames.js'

/** zstd frames are whole or not, whatever node:zlib's decoder says of a cut one. */

const compressible = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `row ${i} ${(i * 7919) % 10007}\n`).join(''))
// Random bytes: stored as raw blocks. A run of one byte: an RLE block.
const mixed = Buffer.concat([compressible, randomBytes(300_000), Buffer.alloc(200_000, 7)])

function compress(data: Buffer, checksum = false): Buffer {
  return zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1, [zlib.constants.ZSTD_c_checksumFlag]: checksum ? 1 : 0 } })
}

/** A frame as a stream writes it: no content size in the header, several blocks. */
function streamed(data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = []
  const encoder = zlib.createZstdCompress()
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk))
  for (let offset = 0; offset < data.length; offset += 100_000) encoder.write(data.subarray(offset, offset + 100_000))
  encoder.end()
  return new Promise((resolve) => encoder.on('end', () => resolve(Buffer.concat(chunks))))
}

function skippable(content: Buffer): Buffer {
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184d2a53, 0)
  header.writeUInt32LE(content.length, 4)
  return Buffer.concat([header, content])
}

describe('zstd frame walk', () => {
  it('finds whole frames complete: one shot, with a checksum, streamed, several frames, skippable frames', async () => {
    const frames = [compress(compressible), compress(mixed), compress(mixed, true), await streamed(mixed)]
    for (const frame of frames) expect(zstdIncompleteness(frame)).toBeUndefined()
    expect(zstdIncompleteness(Buffer.concat([frames[0]!, skippable(Buffer.from('note')), frames[2]!]))).toBeUndefined()
    expect(zstdIncompleteness(compress(Buffer.alloc(0)))).toBeUndefined()
  })

  it('finds every cut of a frame incomplete', () => {
    const frame = compress(mixed, true)
    // Every cut near the ends and block boundaries, and a stride through the middle.
    const cuts = new Set([...Array.from({ length: 40 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => frame.length - 1 - i)])
    for (let cut = 0; cut < frame.length; cut += 997) cuts.add(cut)
    for (const cut of cuts) expect(zstdIncompleteness(frame.subarray(0, cut)), `cut at ${cut}`).toBeDefined()
  })

  it('reads the same fed one byte at a time', () => {
    const frame = compress(Buffer.concat([compressible.subarray(0, 50_000), randomBytes(150_000), Buffer.alloc(150_000, 7)]), true)
    const walk = new ZstdFrameWalk()
    const completeBefore: number[] = []
    for (let offset = 0; offset < frame.length; offset++) {
      if (walk.complete) completeBefore.push(offset)
      walk.push(frame.subarray(offset, offset + 1))
    }
    expect(completeBefore).toEqual([])
    expect(walk.complete).toBe(true)
  })

  it('refuses what is not zstd, and trailing bytes after a frame', () => {
    expect(zstdIncompleteness(zlib.gzipSync(compressible))).toBe('not a zstd frame (bad magic number)')
    expect(zstdIncompleteness(Buffer.concat([compress(compressible), Buffer.from('x')]))).toBe('it ends inside a frame')
    expect(zstdIncompleteness(Buffer.concat([compress(compressible), Buffer.from('xxxx')]))).toBe('not a zstd frame (bad magic number)')
    expect(zstdIncompleteness(Buffer.alloc(0))).toBe('it ends inside a frame')
  })
})
