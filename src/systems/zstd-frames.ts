/**
 * Where zstd frames end (RFC 8878 §3.1), read from their headers alone. node:zlib's zstd
 * decompression (Node 22.23, sync and streaming alike) returns what it decoded so far when a frame
 * is cut short, with no error: a segment missing its last kilobyte would come back as a shorter
 * "segment". So the compressed bytes are walked beside the decoder, header to header (block sizes,
 * the optional checksum, skippable frames), and data that does not end where a frame ends is
 * refused. The zstd program needs none of this: it says "premature end" itself.
 */

const FRAME_MAGIC = 0xfd2fb528
/** 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC = 0x184d2a50

type Expecting = 'magic' | 'descriptor' | 'skippable-size' | 'block'

const EMPTY = Buffer.alloc(0)

export class ZstdFrameWalk {
  private expecting: Expecting = 'magic'
  /** Bytes of what is expected, read so far (a header may be split across chunks). */
  private pending: Buffer = EMPTY
  /** Bytes to pass over (a block's content, a header's rest) before what is expected. */
  private skip = 0
  private checksum = false
  private frames = 0
  /** Why the bytes are not zstd, once they are not. */
  problem: string | undefined

  /** Takes the next bytes of the data. */
  push(chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.length && this.problem === undefined) {
      if (this.skip > 0) {
        const passed = Math.min(this.skip, chunk.length - offset)
        this.skip -= passed
        offset += passed
        continue
      }
      const take = Math.min(this.needs() - this.pending.length, chunk.length - offset)
      this.pending = Buffer.concat([this.pending, chunk.subarray(offset, offset + take)])
      offset += take
      if (this.pending.length === this.needs()) {
        const header = this.pending
        this.pending = EMPTY
        this.read(header)
      }
    }
  }

  /** Whether the data so far ends exactly where a frame ends (and holds at least one). */
  get complete(): boolean {
    return this.problem === undefined && this.expecting === 'magic' && this.skip === 0 && this.pending.length === 0 && this.frames > 0
  }

  /** Why the data is not whole zstd: undefined when it is. */
  incompleteness(): string | undefined {
    if (this.problem !== undefined) return this.problem
    return this.complete ? undefined : 'it ends inside a frame'
  }

  private needs(): number {
    return this.expecting === 'descriptor' ? 1 : this.expecting === 'block' ? 3 : 4
  }

  private read(header: Buffer): void {
    switch (this.expecting) {
      case 'magic': {
        const magic = header.readUInt32LE(0)
        if (magic === FRAME_MAGIC) this.expecting = 'descriptor'
        else if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC) this.expecting = 'skippable-size'
        else this.problem = 'not a zstd frame (bad magic number)'
        return
      }
      case 'skippable-size':
        this.skip = header.readUInt32LE(0)
        this.expecting = 'magic'
        return
      case 'descriptor': {
        const descriptor = header[0]!
        if (descriptor & 0x08) {
          this.problem = 'not a zstd frame (reserved bit set)'
          return
        }
        const singleSegment = (descriptor >> 5) & 1
        const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!
        const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!
        this.checksum = ((descriptor >> 2) & 1) === 1
        this.skip = (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes
        this.expecting = 'block'
        return
      }
      case 'block': {
        const value = header[0]! | (header[1]! << 8) | (header[2]! << 16)
        const last = (value & 1) === 1
        const type = (value >> 1) & 3
        if (type === 3) {
          this.problem = 'not a zstd frame (reserved block type)'
          return
        }
        // An RLE block holds one byte, repeated `size` times when decoded.
        const content = type === 1 ? 1 : value >>> 3
        if (last) {
          this.skip = content + (this.checksum ? 4 : 0)
          this.expecting = 'magic'
          this.frames += 1
        } else this.skip = content
      }
    }
  }
}

/** Why `data` is not whole zstd frames, or undefined when it is. */
export function zstdIncompleteness(data: Uint8Array): string | undefined {
  const walk = new ZstdFrameWalk()
  walk.push(data)
  return walk.incompleteness()
}
