import { setImmediate as nextTurn } from 'node:timers/promises'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { sha256Of } from '../../src/repositories/checksums.js'
import { putEverywhere } from '../../src/repositories/fan-out.js'
import type { Repository, Written } from '../../src/repositories/repository.js'

const CHUNK = 64 * 1024

/** A repository in memory: `put` reads the stream as a back end does, slow or failing as told. */
function memory(
  name: string,
  behaviour: { failAfterBytes?: number; slow?: boolean; onChunk?: (bytes: number) => void } = {},
): Repository & { stored: Buffer[] } {
  const stored: Buffer[] = []
  return {
    name,
    kind: 'local',
    where: `memory ${name}`,
    stored,
    async put(key, source): Promise<Written> {
      let bytes = 0
      if (behaviour.failAfterBytes === 0) throw new Error(`${name} refused the upload`)
      for await (const chunk of source) {
        stored.push(chunk as Buffer)
        bytes += (chunk as Buffer).length
        behaviour.onChunk?.(bytes)
        if (behaviour.failAfterBytes !== undefined && bytes >= behaviour.failAfterBytes) {
          source.destroy()
          throw new Error(`${name} failed mid-upload`)
        }
        if (behaviour.slow) await nextTurn()
      }
      const all = Buffer.concat(stored)
      return { key, bytes: all.length, sha256: sha256Of(all), readBack: 'reread' }
    },
    putBytes: () => Promise.reject(new Error('unused')),
    get: () => Promise.reject(new Error('unused')),
    head: () => Promise.resolve(undefined),
    list: async function* () {},
    listTop: async () => ({ objects: [], folders: [] }),
    remove: () => Promise.resolve({ removed: [], failed: [] }),
  }
}

/** A producer of `chunks` chunks that counts what was taken from it. */
function producer(chunks: number, options: { failAt?: number } = {}): Readable & { produced: () => number } {
  let produced = 0
  const stream = Readable.from(
    (function* () {
      for (let index = 0; index < chunks; index++) {
        if (options.failAt === index) throw new Error('pg_dump exited with 1')
        produced += CHUNK
        yield Buffer.alloc(CHUNK, index % 251)
      }
    })(),
  )
  return Object.assign(stream, { produced: () => produced })
}

const options = () => ({ signal: AbortSignal.timeout(30_000) })

describe('putEverywhere', () => {
  it('gives every repository every byte', async () => {
    const a = memory('local')
    const b = memory('offsite')
    const result = await putEverywhere([a, b], 'k.dump', producer(40), options())
    expect(result.get('local')).toMatchObject({ ok: true, written: { bytes: 40 * CHUNK } })
    expect(result.get('offsite')).toEqual(result.get('local'))
  })

  it('drops a repository that fails, at once or midway, without holding the others', async () => {
    const local = memory('local')
    const refused = memory('refused', { failAfterBytes: 0 })
    const midway = memory('midway', { failAfterBytes: 10 * CHUNK })
    const result = await putEverywhere([local, refused, midway], 'k.dump', producer(80), options())
    expect(result.get('local')).toMatchObject({ ok: true, written: { bytes: 80 * CHUNK } })
    expect(result.get('refused')).toMatchObject({ ok: false, error: new Error('refused refused the upload') })
    expect(result.get('midway')).toMatchObject({ ok: false, error: new Error('midway failed mid-upload') })
  })

  it('reads the source at the pace of the slowest repository', async () => {
    const source = producer(200)
    let ahead = 0
    const slow = memory('slow', { slow: true, onChunk: (bytes) => (ahead = Math.max(ahead, source.produced() - bytes)) })
    const result = await putEverywhere([memory('fast'), slow], 'k.dump', source, options())
    expect(result.get('slow')?.ok).toBe(true)
    // At most a branch's buffer (1 MiB) and a few chunks in flight: never the whole 12.5 MiB.
    expect(ahead).toBeLessThanOrEqual(1024 * 1024 + 4 * CHUNK)
  })

  it('stops the producer when every repository has failed', async () => {
    const source = producer(10_000)
    const result = await putEverywhere([memory('a', { failAfterBytes: 5 * CHUNK }), memory('b', { failAfterBytes: 0 })], 'k.dump', source, options())
    expect([...result.values()].every((settlement) => !settlement.ok)).toBe(true)
    expect(source.produced()).toBeLessThan(100 * CHUNK)
    expect(source.destroyed).toBe(true)
  })

  it('fails every copy when the source fails: a part of a dump is no backup', async () => {
    const result = await putEverywhere([memory('a'), memory('b')], 'k.dump', producer(50, { failAt: 20 }), options())
    for (const name of ['a', 'b']) expect(result.get(name)).toMatchObject({ ok: false, error: new Error('pg_dump exited with 1') })
  })
})
