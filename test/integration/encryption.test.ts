import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { execa } from 'execa'
import { beforeAll, describe, expect, it } from 'vitest'
import { decryptStream, encryptStream, identityRecipients, type AgeRunner } from '../../src/systems/age.js'
import { decompressStream, formatOf, gunzipBuffer, zstdCompressBuffer, zstdCompressStream, zstdDecompressBuffer } from '../../src/systems/compression.js'
import { SystemError } from '../../src/systems/errors.js'
import { tempDir } from '../helpers/temp.js'

/**
 * Encryption and compression against the real programs (issue 14, design-14 §1.3, §1.4): what
 * probe-ops encrypts, through the age program or the age-encryption library, the plain `age` CLI
 * decrypts, and the other way round; a wrong identity is one clear line; no secret key reaches
 * an error; large streams go through in bounded memory. zstd frames cross between the zstd
 * program and node:zlib both ways.
 */

const ROOT = resolve(import.meta.dirname, '../..')
const RUNNERS: AgeRunner[] = ['program', 'library']
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

interface Key {
  file: string
  recipient: string
  secret: string
}

async function newKey(dir: string, name: string): Promise<Key> {
  const file = join(dir, `${name}.txt`)
  await execa('age-keygen', ['-o', file])
  const text = readFileSync(file, 'utf8')
  return { file, recipient: /public key: (age1\S+)/.exec(text)![1]!, secret: /^AGE-SECRET-KEY-1\S+$/m.exec(text)![0] }
}

/** The error a promise of a stream's contents (or of the stream) fails with. */
async function failure(work: () => Promise<Readable>): Promise<SystemError> {
  try {
    await buffer(await work())
  } catch (error) {
    expect(error).toBeInstanceOf(SystemError)
    return error as SystemError
  }
  throw new Error('expected a failure')
}

/** The decrypted bytes of `data` through probe-ops. */
async function decrypted(data: Uint8Array, identityFile: string, runner: AgeRunner): Promise<Buffer> {
  return buffer(await decryptStream(Readable.from([data]), { identityFile, runner }))
}

describe('age: probe-ops and the plain age CLI read each other', () => {
  let dir: string
  let first: Key
  let second: Key
  let stranger: Key
  // Not all one chunk size: 64 KiB is age's chunk, and the tail is a partial one.
  const plain = Buffer.concat([randomBytes(3 * 1024 * 1024 + 12345), Buffer.from('the end\n')])

  beforeAll(async () => {
    dir = tempDir('age')
    ;[first, second, stranger] = await Promise.all([newKey(dir, 'first'), newKey(dir, 'second'), newKey(dir, 'stranger')])
  })

  for (const runner of RUNNERS) {
    describe(`through the ${runner}`, () => {
      it('encrypts for two recipients: `age -d` with either identity gives the plaintext back', async () => {
        const encrypted = await buffer(await encryptStream(Readable.from([plain]), { recipients: [first.recipient, second.recipient], runner }))
        expect(encrypted.subarray(0, 21).toString()).toBe('age-encryption.org/v1')
        const file = join(dir, `by-${runner}.age`)
        writeFileSync(file, encrypted)
        for (const key of [first, second]) {
          const { stdout } = await execa('age', ['-d', '-i', key.file, file], { encoding: 'buffer', stripFinalNewline: false })
          expect(sha256(stdout)).toBe(sha256(plain))
        }
        expect(sha256(await decrypted(encrypted, second.file, runner))).toBe(sha256(plain))
      })

      it('decrypts what `age -r` encrypted', async () => {
        const file = join(dir, `for-${runner}.age`)
        const source = join(dir, 'plain.bin')
        writeFileSync(source, plain)
        await execa('age', ['-r', first.recipient, '-o', file, source])
        expect(sha256(await decrypted(readFileSync(file), first.file, runner))).toBe(sha256(plain))
      })

      it('refuses a wrong identity in one line that names the identity file and shows no key', async () => {
        const encrypted = readFileSync(join(dir, `by-${runner}.age`))
        const error = await failure(() => decryptStream(Readable.from([encrypted]), { identityFile: stranger.file, runner, what: 'base-1.tar.zst.age' }))
        expect(error.code).toBe('auth')
        expect(error.data).toEqual({ reason: 'wrong-identity' })
        expect(error.message).toBe(`no secret key in ${stranger.file} matches the recipients of base-1.tar.zst.age`)
        expect(error.message).not.toContain('AGE-SECRET-KEY')
      })

      it('fails a truncated or damaged file instead of ending it early', async () => {
        const encrypted = readFileSync(join(dir, `by-${runner}.age`))
        const truncated = encrypted.subarray(0, encrypted.length - 70_000)
        const damaged = Buffer.from(encrypted)
        damaged[damaged.length - 200_000]! ^= 0x01
        for (const bad of [truncated, damaged]) {
          const error = await failure(() => decryptStream(Readable.from([bad]), { identityFile: first.file, runner }))
          expect(error.data).toEqual({ reason: 'damaged' })
          expect(error.message.split('\n')).toHaveLength(1)
        }
      })
    })
  }

  it('never shows a secret key: not given as a recipient, not in a bad identity file, not in any error', async () => {
    const messages: string[] = []
    const caught = async (work: () => Promise<unknown>) => {
      try {
        await work()
        messages.push('(no error)')
      } catch (error) {
        messages.push((error as Error).message)
      }
    }
    await caught(() => encryptStream(Readable.from([plain]), { recipients: [first.recipient, stranger.secret] }))
    // A key with one character changed: its line is refused by number, never quoted.
    const mistyped = join(dir, 'mistyped.txt')
    // (The character replaced is the one compared: one key in 32 already has a Q there.)
    const broken = `${first.secret.slice(0, -3)}${first.secret.at(-3) === 'Q' ? 'P' : 'Q'}${first.secret.slice(-2)}`
    writeFileSync(mistyped, `# created: by hand\n${broken}\n`)
    for (const runner of RUNNERS) await caught(() => decryptStream(Readable.from([plain]), { identityFile: mistyped, runner }))
    // Not age data at all (the header age quotes is never shown).
    for (const runner of RUNNERS)
      await caught(async () => buffer(await decryptStream(Readable.from([Buffer.from(`${second.secret}\n`)]), { identityFile: first.file, runner })))
    expect(messages).toEqual([
      'age recipient 2 is a secret key, not a public key: give its public key (age-keygen -y <identity file>) and keep the secret key off this host',
      `line 2 of the age identity file ${mistyped} is not an age secret key (AGE-SECRET-KEY-1…, as age-keygen writes)`,
      `line 2 of the age identity file ${mistyped} is not an age secret key (AGE-SECRET-KEY-1…, as age-keygen writes)`,
      expect.stringMatching(/^the data cannot be decrypted: it is damaged or not age data/),
      expect.stringMatching(/^the data cannot be decrypted: it is damaged or not age data/),
    ])
    for (const key of [first, second, stranger]) expect(messages.join('\n')).not.toContain(key.secret.slice(16))
  })

  it('refuses a mistyped recipient, naming it, and a missing identity file', async () => {
    const mistyped = `${first.recipient.slice(0, -1)}${first.recipient.endsWith('q') ? 'p' : 'q'}`
    const bad = await failure(() => encryptStream(Readable.from([plain]), { recipients: [mistyped] }))
    expect(bad.code).toBe('bad-setting')
    expect(bad.message).toBe(`age recipient 1 "${mistyped}" has a wrong checksum: a character is mistyped; copy the key again`)
    const missing = await failure(() => decryptStream(Readable.from([plain]), { identityFile: join(dir, 'nothing.txt') }))
    expect(missing.code).toBe('not-found')
    expect(missing.message).toBe(`age identity file ${join(dir, 'nothing.txt')} does not exist`)
  })

  for (const runner of RUNNERS) {
    it(`stops an endless encryption through the ${runner} when its signal fires`, async () => {
      const endless = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024))
        },
      })
      const abort = new AbortController()
      const encrypted = await encryptStream(endless, { recipients: [first.recipient], runner, signal: abort.signal })
      const error = await failure(async () => {
        for await (const chunk of encrypted) {
          expect((chunk as Buffer).length).toBeGreaterThan(0)
          abort.abort()
        }
        return encrypted
      })
      expect(error.code).toBe('cancelled')
    })
  }

  it('tells which recipients an identity file opens', async () => {
    expect(await identityRecipients(second.file)).toEqual([second.recipient])
  })

  /** The child's JSON line: hashes in and out, peak RSS before and after the big run. */
  async function roundTripInChild(args: string[], env: Record<string, string> = {}) {
    const { stdout } = await execa(process.execPath, [join(ROOT, 'test/helpers/stream-roundtrip.mjs'), ...args], { env, extendEnv: true })
    return JSON.parse(stdout) as {
      sent: string
      received: string
      length: number
      peakRssBefore: number
      peakRssAfter: number
      agePath: string | null
      zstdPath: string | null
    }
  }

  // 128 MiB through and back: a run that held the data would grow by at least that much; a
  // streaming one grows by what its buffers and the garbage collector's slack take (about 40 MB
  // measured, whatever the size).
  const MEBIBYTES = 128
  const BOUND = 64 * 1024 * 1024

  for (const runner of RUNNERS) {
    it(`streams ${MEBIBYTES} MiB through the ${runner} and back in bounded memory`, { timeout: 240_000 }, async () => {
      const result = await roundTripInChild(['age', runner, String(MEBIBYTES), first.file, first.recipient])
      expect(result.length).toBe(MEBIBYTES * 1024 * 1024)
      expect(result.received).toBe(result.sent)
      expect(result.peakRssAfter - result.peakRssBefore).toBeLessThan(BOUND)
    })
  }

  it(`streams ${MEBIBYTES} MiB through zstd and back in bounded memory, through the program and through node:zlib`, { timeout: 240_000 }, async () => {
    const withPrograms = await roundTripInChild(['zstd', 'auto', String(MEBIBYTES)])
    expect(withPrograms.zstdPath).not.toBeNull()
    // No PATH: neither zstd nor age is found, so node:zlib's streams do it.
    const withoutPrograms = await roundTripInChild(['zstd', 'auto', String(MEBIBYTES)], { PATH: join(dir, 'no-programs') })
    expect(withoutPrograms.zstdPath).toBeNull()
    for (const result of [withPrograms, withoutPrograms]) {
      expect(result.received).toBe(result.sent)
      expect(result.peakRssAfter - result.peakRssBefore).toBeLessThan(BOUND)
    }
  })
})

describe('zstd: the program and node:zlib read each other', () => {
  // Compressible, like a WAL segment: text with some randomness.
  const plain = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `row ${i} ${(i * 7919) % 10007}\n`).join(''))

  it('round trips a buffer through node:zlib at levels 1 and 3', () => {
    for (const level of [1, 3]) {
      const compressed = zstdCompressBuffer(plain, level)
      expect(formatOf(compressed)).toBe('zstd')
      expect(compressed.length).toBeLessThan(plain.length / 2)
      expect(zstdDecompressBuffer(compressed).equals(plain)).toBe(true)
    }
  })

  it("decompresses node's frame with `zstd -d`, and the program's stream with node", async () => {
    const { stdout } = await execa('zstd', ['-d', '-c'], { input: zstdCompressBuffer(plain), encoding: 'buffer', stripFinalNewline: false })
    expect(Buffer.from(stdout).equals(plain)).toBe(true)
    const compressed = await buffer(await zstdCompressStream(Readable.from([plain]), { level: 1, workers: 2 }))
    expect(zstdDecompressBuffer(compressed).equals(plain)).toBe(true)
    expect((await buffer(await decompressStream(Readable.from([zstdCompressBuffer(plain)]), 'zstd'))).equals(plain)).toBe(true)
  })

  it('fails a truncated frame as damaged: through the program, node:zlib streaming, node:zlib in memory', async () => {
    const whole = zstdCompressBuffer(plain)
    // Cut inside a block, and cut by the last 3 bytes only (node:zlib itself says nothing of either).
    for (const truncated of [whole.subarray(0, 5000), whole.subarray(0, whole.length - 3)]) {
      for (const program of [true, false]) {
        const streamed = await failure(() => decompressStream(Readable.from([truncated]), 'zstd', { what: 'segment 3', program }))
        expect(streamed.data).toEqual({ reason: 'damaged' })
        expect(streamed.message).toMatch(/^segment 3 cannot be decompressed \(zstd\): it is damaged or truncated \(.+\)$/)
      }
      expect(() => zstdDecompressBuffer(truncated, { what: 'segment 3' })).toThrow(
        'segment 3 cannot be decompressed (zstd): it is damaged or truncated (it ends inside a frame)',
      )
    }
    expect((await buffer(await decompressStream(Readable.from([whole]), 'zstd', { program: false }))).equals(plain)).toBe(true)
  })

  it('reads gzip, the format of the backups made before', async () => {
    const { stdout } = await execa('gzip', ['-1', '-c'], { input: plain, encoding: 'buffer', stripFinalNewline: false })
    const gzipped = Buffer.from(stdout)
    expect(formatOf(gzipped)).toBe('gzip')
    expect(gunzipBuffer(gzipped).equals(plain)).toBe(true)
    expect((await buffer(await decompressStream(Readable.from([gzipped]), 'gzip'))).equals(plain)).toBe(true)
    const error = await failure(() => decompressStream(Readable.from([gzipped.subarray(0, 1000)]), 'gzip'))
    expect(error.data).toEqual({ reason: 'damaged' })
  })
})
