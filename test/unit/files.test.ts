import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UnsafeTargetError, appendLines, checkNamedTarget, makeDirectories, makeDirectoriesSync, writeFileAtomic, writeNamedFile } from '../../src/lib/files.js'
import { makeFifo, openFifoReader } from '../helpers/fifo.js'
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

describe('fault injection: what sits where probe-ops writes a file', () => {
  const writers = [
    ["writeFileAtomic (probe-ops' own files)", writeFileAtomic],
    ['writeNamedFile (--report-file)', writeNamedFile],
  ] as const

  for (const [name, write] of writers) {
    describe(name, () => {
      it('creates a new path, and replaces a regular file whole', async () => {
        const dir = tempDir('po-write')
        const path = join(dir, 'sub', 'report.json')
        await write(path, 'first\n', 0o640)
        expect(readFileSync(path, 'utf8')).toBe('first\n')
        expect(statSync(path).mode & 0o777).toBe(0o640)
        const before = statSync(path).ino
        await write(path, 'second\n', 0o640)
        expect(readFileSync(path, 'utf8')).toBe('second\n')
        // Replaced by a rename (a reader sees the old file or the new one), not rewritten in place.
        expect(statSync(path).ino).not.toBe(before)
        expect(readdirSync(dirname(path))).toEqual(['report.json'])
      })

      it('refuses a symbolic link, and neither the link nor what it points to changes', async () => {
        const dir = tempDir('po-write')
        const victim = join(dir, 'victim')
        writeFileSync(victim, 'keep me\n')
        const link = join(dir, 'report.json')
        symlinkSync(victim, link)
        await expect(write(link, 'report\n')).rejects.toThrow(/report\.json is a symbolic link: probe-ops does not write through links/)
        expect(lstatSync(link).isSymbolicLink()).toBe(true)
        expect(readFileSync(victim, 'utf8')).toBe('keep me\n')
        // A dangling link too: the rename would have put a file in its place.
        const dangling = join(dir, 'dangling.json')
        symlinkSync(join(dir, 'nowhere'), dangling)
        await expect(write(dangling, 'report\n')).rejects.toBeInstanceOf(UnsafeTargetError)
        expect(lstatSync(dangling).isSymbolicLink()).toBe(true)
        expect(existsSync(join(dir, 'nowhere'))).toBe(false)
      })

      it('refuses a directory and leaves what is in it', async () => {
        const dir = tempDir('po-write')
        const target = join(dir, 'report.json')
        mkdirSync(target)
        writeFileSync(join(target, 'inside'), 'x')
        await expect(write(target, 'report\n')).rejects.toThrow(/report\.json is a directory/)
        expect(readdirSync(target)).toEqual(['inside'])
      })
    })
  }

  it('writes a report through a character device the user named: /dev/null stays a device', async () => {
    await writeNamedFile('/dev/null', 'report\n')
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true)
    await checkNamedTarget('/dev/null')
  })

  it('writes through a FIFO with a reader, all of a report larger than a pipe holds', async () => {
    const fifo = join(tempDir('po-fifo'), 'report.fifo')
    makeFifo(fifo)
    const reader = openFifoReader(fifo)
    const report = `${'x'.repeat(200_000)}\n`
    await writeNamedFile(fifo, report)
    expect(await reader.read(report.length)).toBe(report)
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it('fails at once, saying so, on a FIFO with no reader (it would wait forever)', async () => {
    const fifo = join(tempDir('po-fifo'), 'report.fifo')
    makeFifo(fifo)
    await expect(writeNamedFile(fifo, 'report\n')).rejects.toThrow(/report\.fifo is a FIFO with no reader/)
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it("refuses a device or FIFO inside probe-ops' own directories: it is not a file probe-ops wrote", async () => {
    const fifo = join(tempDir('po-fifo'), 'probe_ops_job.prom')
    makeFifo(fifo)
    await expect(writeFileAtomic(fifo, 'metrics\n')).rejects.toThrow(/probe_ops_job\.prom is a FIFO, not a file probe-ops wrote/)
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it('checks a named target up front: a link or a directory is refused, a device, FIFO, file or new path is fine', async () => {
    const dir = tempDir('po-check')
    const fifo = join(dir, 'fifo')
    makeFifo(fifo)
    writeFileSync(join(dir, 'file'), '')
    symlinkSync(join(dir, 'file'), join(dir, 'link'))
    for (const ok of ['/dev/null', fifo, join(dir, 'file'), join(dir, 'new', 'report.json')]) await checkNamedTarget(ok)
    await expect(checkNamedTarget(join(dir, 'link'))).rejects.toThrow(/is a symbolic link/)
    await expect(checkNamedTarget(dir)).rejects.toThrow(/is a directory/)
  })

  describe('the maintenance log (appendLines)', () => {
    it('creates a new log and appends to a regular one', async () => {
      const path = join(tempDir('po-append'), 'logs', 'maintenance.log')
      await appendLines(path, ['one'])
      await appendLines(path, ['two', 'three'])
      expect(readFileSync(path, 'utf8')).toBe('one\ntwo\nthree\n')
    })

    it('never follows a symbolic link, nor appends to a device, a FIFO or a directory', async () => {
      const dir = tempDir('po-append')
      const victim = join(dir, 'victim')
      writeFileSync(victim, 'keep me\n')
      symlinkSync(victim, join(dir, 'link.log'))
      await expect(appendLines(join(dir, 'link.log'), ['line'])).rejects.toThrow(/link\.log is a symbolic link/)
      expect(readFileSync(victim, 'utf8')).toBe('keep me\n')
      await expect(appendLines('/dev/null', ['line'])).rejects.toThrow(/\/dev\/null is a character device, not a file probe-ops wrote/)
      const fifo = join(dir, 'fifo.log')
      makeFifo(fifo)
      // Without a reader (an open for writing would wait for one) and with one.
      await expect(appendLines(fifo, ['line'])).rejects.toThrow(/fifo\.log is a FIFO/)
      const reader = openFifoReader(fifo)
      await expect(appendLines(fifo, ['line'])).rejects.toThrow(/fifo\.log is a FIFO/)
      // Nothing was written into it: the reader gets only what the test writes itself.
      await writeNamedFile(fifo, 'end\n')
      expect(await reader.read(4)).toBe('end\n')
      mkdirSync(join(dir, 'dir.log'))
      await expect(appendLines(join(dir, 'dir.log'), ['line'])).rejects.toThrow(/dir\.log is a directory/)
    })
  })
})
