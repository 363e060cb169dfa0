/**
 * One cold run of bench/wal-segment.ts: what `wal push` does to a segment before it sends it,
 * through the built modules of the CLI copy under test. Prints one JSON line: the phases in ms
 * and the sizes, for the bench to check and tabulate.
 *
 *   node segment-pieces.mjs <dist dir> <segment file> <none|zstd|program|library> [recipient]
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'

const started = performance.now()
const [dist, segmentFile, variant, recipient] = process.argv.slice(2)
const phases = {}
let mark = started
const phase = (name) => {
  const now = performance.now()
  phases[name] = now - mark
  mark = now
}

const result = { variant }
if (variant !== 'none') {
  const { zstdCompressBuffer } = await import(join(dist, 'systems/compression.js'))
  const age = variant === 'zstd' ? undefined : await import(join(dist, 'systems/age.js'))
  phase('load')
  const segment = readFileSync(segmentFile)
  phase('read')
  result.sha256 = createHash('sha256').update(segment).digest('hex')
  phase('sha256')
  const compressed = zstdCompressBuffer(segment, 1)
  phase('zstd')
  result.plainBytes = segment.length
  result.compressedBytes = compressed.length
  if (age) {
    const encrypted = await buffer(await age.encryptStream(Readable.from([compressed]), { recipients: [recipient], runner: variant }))
    phase('encrypt')
    result.storedBytes = encrypted.length
    result.ageHeader = encrypted.subarray(0, 21).toString()
  }
}
result.phases = phases
result.inProcessMs = performance.now() - started
process.stdout.write(`${JSON.stringify(result)}\n`)
