/**
 * A child process of encryption.test.ts: streams MIB mebibytes of generated, incompressible data
 * through the built dist/systems/age.js (encrypt, then decrypt) or dist/systems/compression.js
 * (compress, then decompress), hashing what goes in and what comes out, and prints one JSON line:
 * both hashes, the peak RSS before the big run (after a small warm-up one that loads everything)
 * and after it. In a process of its own so that the peak RSS is this work's alone.
 *
 *   node stream-roundtrip.mjs <age|zstd> <runner: program|library|auto> <MiB> [identity file] [recipient]
 */
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Readable } from 'node:stream'

const [kind, runner, mebibytes, identityFile, recipient] = process.argv.slice(2)
const dist = join(import.meta.dirname, '../../dist/systems')
const age = await import(join(dist, 'age.js'))
const compression = await import(join(dist, 'compression.js'))

/** Generated as it is read, never held: random chunks, hashed on the way out. */
function source(bytes, hash) {
  let left = bytes
  return new Readable({
    read() {
      if (left === 0) return this.push(null)
      const chunk = randomBytes(Math.min(64 * 1024, left))
      left -= chunk.length
      hash.update(chunk)
      this.push(chunk)
    },
  })
}

async function roundTrip(bytes) {
  const sent = createHash('sha256')
  const received = createHash('sha256')
  let out
  if (kind === 'age') {
    const encrypted = await age.encryptStream(source(bytes, sent), { recipients: [recipient], runner })
    out = await age.decryptStream(encrypted, { identityFile, runner })
  } else {
    const compressed = await compression.zstdCompressStream(source(bytes, sent), { level: 1 })
    out = await compression.decompressStream(compressed, 'zstd')
  }
  let length = 0
  for await (const chunk of out) {
    received.update(chunk)
    length += chunk.length
  }
  return { sent: sent.digest('hex'), received: received.digest('hex'), length }
}

const rssBytes = () => process.resourceUsage().maxRSS * 1024
await roundTrip(1024 * 1024)
const before = rssBytes()
const result = await roundTrip(Number(mebibytes) * 1024 * 1024)
const agePath = await age.ageProgram('auto')
const zstdPath = await compression.zstdProgram()
process.stdout.write(
  `${JSON.stringify({ ...result, peakRssBefore: before, peakRssAfter: rssBytes(), agePath: agePath ?? null, zstdPath: zstdPath ?? null })}\n`,
)
