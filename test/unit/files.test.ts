import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeDirectories, makeDirectoriesSync } from '../../src/lib/files.js'
import { tempDir } from '../helpers/temp.js'

describe('makeDirectories', () => {
  for (const [name, make] of [
    ['async', makeDirectories],
    ['sync', async (path: string, mode?: number) => makeDirectoriesSync(path, mode)],
  ] as const) {
    describe(name, () => {
      it('makes every missing level with the mode, and accepts one that exists', async () => {
        const root = tempDir('po-mkdir')
        const deep = join(root, 'a', 'b', 'c')
        await make(deep, 0o700)
        for (const level of [join(root, 'a'), join(root, 'a', 'b'), deep]) expect(statSync(level).mode & 0o777).toBe(0o700)
        await make(deep, 0o700)
        mkdirSync(join(root, 'd'), { mode: 0o755 })
        await make(join(root, 'd'), 0o700)
        expect(statSync(join(root, 'd')).mode & 0o777).toBe(0o755)
      })

      it('says a file is in the way', async () => {
        const root = tempDir('po-mkdir')
        writeFileSync(join(root, 'file'), '')
        await expect(make(join(root, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' })
        await expect(make(join(root, 'file'))).rejects.toMatchObject({ code: 'ENOTDIR' })
      })

      it('fails at once under /proc, where a recursive mkdir never returns', async () => {
        await expect(make('/proc/probe-ops-no-such/dir')).rejects.toMatchObject({ code: 'ENOENT' })
      })
    })
  }
})
