import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileReadError, openRegularFile, readRegularFile, readRegularFileSync } from '../../src/lib/regular-file.js'
import { tempDir } from '../helpers/temp.js'

async function failure(read: () => unknown): Promise<FileReadError> {
  try {
    await read()
  } catch (error) {
    expect(error).toBeInstanceOf(FileReadError)
    return error as FileReadError
  }
  throw new Error('expected a FileReadError')
}

describe('bounded reads of the files settings and arguments name', () => {
  const dir = tempDir('regular-file')
  const fifo = join(dir, 'a.fifo')
  execFileSync('mkfifo', [fifo])

  it('reads a regular file whole, also through a symlink', async () => {
    writeFileSync(join(dir, 'a.txt'), 'hello\n')
    symlinkSync(join(dir, 'a.txt'), join(dir, 'link.txt'))
    expect(readRegularFileSync(join(dir, 'link.txt'), 100, 'test file').toString()).toBe('hello\n')
    expect((await readRegularFile(join(dir, 'a.txt'), 6, 'test file')).toString()).toBe('hello\n')
  })

  for (const [name, read] of [
    ['sync', (path: string, max: number) => readRegularFileSync(path, max, 'test file')],
    ['async', (path: string, max: number) => readRegularFile(path, max, 'test file')],
  ] as const) {
    it(`refuses what is no regular file without opening it to block (${name})`, async () => {
      // A FIFO nobody writes to: an open() for reading would wait forever.
      expect(await failure(() => read(fifo, 100))).toMatchObject({ code: 'not-a-file', message: `${fifo} is a FIFO (named pipe), not a regular file` })
      expect(await failure(() => read('/dev/zero', 100))).toMatchObject({ code: 'not-a-file', message: '/dev/zero is a character device, not a regular file' })
      expect(await failure(() => read(dir, 100))).toMatchObject({ code: 'not-a-file', message: `${dir} is a directory, not a regular file` })
      expect(await failure(() => read(join(dir, 'missing'), 100))).toMatchObject({ code: 'missing', message: `${join(dir, 'missing')} does not exist` })
    })

    it(`stops one byte past the limit, whatever the size (${name})`, async () => {
      const big = join(dir, `big-${name}`)
      writeFileSync(big, '')
      truncateSync(big, 3 * 1024 * 1024 * 1024)
      expect(await failure(() => read(big, 1024 * 1024))).toMatchObject({ code: 'too-large', message: `${big} is larger than 1 MiB, more than any test file` })
      writeFileSync(join(dir, `exact-${name}`), 'x'.repeat(1000))
      expect((await read(join(dir, `exact-${name}`), 1000)).length).toBe(1000)
      expect((await failure(() => read(join(dir, `exact-${name}`), 999))).code).toBe('too-large')
    })
  }

  it('opens a log for a partial read, never a FIFO', async () => {
    mkdirSync(join(dir, 'logs'))
    writeFileSync(join(dir, 'logs', 'x.log'), 'line\n')
    const { handle, size } = await openRegularFile(join(dir, 'logs', 'x.log'))
    await handle.close()
    expect(size).toBe(5)
    expect((await failure(() => openRegularFile(fifo))).code).toBe('not-a-file')
  })
})
