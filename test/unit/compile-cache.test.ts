import { chmodSync, mkdirSync, statSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
// @ts-expect-error: bin/ is plain JavaScript, run before anything is compiled
import { compileCacheDir } from '../../bin/compile-cache.js'
import { tempDir } from '../helpers/temp.js'

const uid = process.geteuid!()

describe('the compile cache directory', () => {
  it('is made private (0700) under the user own home', () => {
    const home = tempDir('po-cc')
    chmodSync(home, 0o700)
    const dir = compileCacheDir({ uid, home })
    expect(dir).toBe(join(home, '.cache', 'probe-ops', 'compile-cache'))
    for (const level of ['.cache', '.cache/probe-ops', '.cache/probe-ops/compile-cache']) expect(statSync(join(home, level)).mode & 0o777).toBe(0o700)
    expect(compileCacheDir({ uid, home })).toBe(dir)
  })

  it('is refused when a level is a symlink, writable by others, or owned by someone else', () => {
    const home = tempDir('po-cc')
    chmodSync(home, 0o700)
    mkdirSync(join(home, '.cache'), { mode: 0o700 })
    const elsewhere = tempDir('po-cc-elsewhere')
    symlinkSync(elsewhere, join(home, '.cache', 'probe-ops'))
    expect(compileCacheDir({ uid, home })).toBeUndefined()

    const open = tempDir('po-cc')
    chmodSync(open, 0o700)
    mkdirSync(join(open, '.cache', 'probe-ops'), { recursive: true, mode: 0o700 })
    chmodSync(join(open, '.cache', 'probe-ops'), 0o777)
    expect(compileCacheDir({ uid, home: open })).toBeUndefined()

    expect(compileCacheDir({ uid: uid + 4242, home: tempDir('po-cc') })).toBeUndefined()
  })

  it('ignores XDG_CACHE_HOME for root, whose environment sudo may have kept from a user', () => {
    const home = tempDir('po-cc')
    chmodSync(home, 0o700)
    const xdg = join(tempDir('po-cc-xdg'), 'cache')
    expect(compileCacheDir({ uid: 0, home, xdgCacheHome: xdg })).toBe(uid === 0 ? join(home, '.cache', 'probe-ops', 'compile-cache') : undefined)
  })

  it('gives up at once where nothing can be made, as under /proc', () => {
    expect(compileCacheDir({ uid, home: '/proc/probe-ops-no-such' })).toBeUndefined()
  })
})
