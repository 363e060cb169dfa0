import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Digests, contentMd5, etagMatches, expectedEtags } from '../../src/repositories/checksums.js'

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex')

async function digestsOf(data: Buffer, partSize: number, chunk: number) {
  const digests = new Digests(partSize)
  const chunks = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk))
  await pipeline(Readable.from(chunks), digests, new Writable({ write: (_c, _e, callback) => callback() }))
  return digests.result()
}

describe('checksums on the way to a repository', () => {
  it('cuts part md5s at exact multiples of the part size, whatever the chunks', async () => {
    const data = randomBytes(2500)
    const digests = await digestsOf(data, 1000, 333)
    expect(digests.bytes).toBe(2500)
    expect(digests.md5).toBe(md5(data))
    expect(digests.sha256).toBe(createHash('sha256').update(data).digest('hex'))
    expect(digests.partMd5s).toEqual([md5(data.subarray(0, 1000)), md5(data.subarray(1000, 2000)), md5(data.subarray(2000))])
  })

  it('accepts the ETag of a single PUT, of AWS multipart, and of s3rver multipart (md5 of the whole)', async () => {
    const data = randomBytes(2000)
    const digests = await digestsOf(data, 1000, 1000)
    const parts = Buffer.concat([createHash('md5').update(data.subarray(0, 1000)).digest(), createHash('md5').update(data.subarray(1000)).digest()])
    const multipart = `${md5(parts)}-2`
    expect(expectedEtags(digests)).toEqual([md5(data), multipart])
    expect(etagMatches(`"${multipart}"`, digests)).toBe(true)
    expect(etagMatches(`"${md5(data).toUpperCase()}"`, digests)).toBe(true)
    expect(etagMatches(`"${md5(parts)}-3"`, digests)).toBe(false)
    expect(etagMatches(undefined, digests)).toBe(false)
    expect(etagMatches('"0123456789abcdef0123456789abcdef"', digests)).toBe(false)
  })

  it('writes Content-MD5 as base64', () => {
    expect(contentMd5(Buffer.from('hello'))).toBe('XUFAKrxLKna5cZ2REBfFkg==')
  })
})
