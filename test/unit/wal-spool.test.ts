import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterEach, describe, expect, it } from 'vitest'
import { physicalDiskNeeds, physicalDiskRefusal } from '../../src/jobs/restore/planning.js'
import { abandonedSpools, afterAsked, classifyEntry, createSpool, fetchScript, restoreCommand, segmentsAhead, segmentsToStart } from '../../src/wal/spool.js'

const MiB = 1024 * 1024
const segment = (number: number, timeline = 1) => ({ timeline, number: BigInt(number) })

describe('the WAL spool: its prefetch line', () => {
  const limits = { prefetch: 4, concurrency: 2 }

  it('starts at most `concurrency` reads, and never more than `prefetch` ahead', () => {
    expect(segmentsToStart({ next: segment(3), stopped: false }, 0, 0, limits)).toEqual([segment(3), segment(4)])
    expect(segmentsToStart({ next: segment(3), stopped: false }, 3, 0, limits)).toEqual([segment(3)])
    expect(segmentsToStart({ next: segment(3), stopped: false }, 4, 0, limits)).toEqual([])
    expect(segmentsToStart({ next: segment(3), stopped: false }, 1, 2, limits)).toEqual([])
  })

  it('starts nothing before it knows where to start, or once stopped at a segment the archive did not give', () => {
    expect(segmentsToStart({ stopped: false }, 0, 0, limits)).toEqual([])
    expect(segmentsToStart({ next: segment(9), stopped: true }, 0, 0, limits)).toEqual([])
  })

  it('follows what PostgreSQL asks for: past the line or on another timeline it moves there, behind it nothing changes', () => {
    expect(afterAsked({ stopped: false }, segment(5))).toEqual({ next: segment(6), stopped: false })
    expect(afterAsked({ next: segment(8), stopped: false }, segment(5))).toEqual({ next: segment(8), stopped: false })
    expect(afterAsked({ next: segment(8), stopped: true }, segment(7))).toEqual({ next: segment(8), stopped: true })
    expect(afterAsked({ next: segment(8), stopped: true }, segment(8))).toEqual({ next: segment(9), stopped: false })
    expect(afterAsked({ next: segment(8), stopped: false }, segment(6, 2))).toEqual({ next: segment(7, 2), stopped: false })
  })

  it('counts as ahead only the ready segments past the newest taken, on its timeline', () => {
    const ready = ['000000010000000000000005', '000000010000000000000006', '000000020000000000000004', '00000002.history']
    expect(segmentsAhead(ready, undefined)).toBe(3)
    expect(segmentsAhead(ready, segment(4))).toBe(2)
    expect(segmentsAhead(ready, segment(5))).toBe(1)
    expect(segmentsAhead(ready, segment(3, 2))).toBe(1)
  })

  it('reads the names in the directory: answers, markers, and nothing of its own', () => {
    expect(classifyEntry('000000010000000000000003')).toEqual({ name: '000000010000000000000003', kind: 'file' })
    expect(classifyEntry('00000002.history.wanted')).toEqual({ name: '00000002.history', kind: 'wanted' })
    expect(classifyEntry('000000010000000000000003.missing')).toEqual({ name: '000000010000000000000003', kind: 'missing' })
    expect(classifyEntry('000000010000000000000003.partial.error')).toEqual({ name: '000000010000000000000003.partial', kind: 'error' })
    expect(classifyEntry('fetch.sh')).toBeUndefined()
    expect(classifyEntry('.000000010000000000000003.77.tmp')).toBeUndefined()
  })

  it("quotes the spool's path for sh in restore_command and in fetch.sh", () => {
    expect(restoreCommand("/srv/it's")).toBe(`'/srv/it'\\''s/fetch.sh' '%f' '%p'`)
    expect(fetchScript("/srv/it's")).toContain(`d='/srv/it'\\''s'; f=$1`)
  })
})

describe('fetch.sh, as PostgreSQL runs it', () => {
  let dir: string
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** fetch.sh of a fresh spool run for `name` in a data directory, with `answer` waiting in the spool. */
  async function run(name: string, answer?: { suffix: string; content: string }) {
    dir = mkdtempSync(join(tmpdir(), 'po-spool-'))
    const spool = join(dir, 'spool')
    const data = join(dir, 'data')
    mkdirSync(spool)
    mkdirSync(join(data, 'pg_wal'), { recursive: true })
    writeFileSync(join(spool, 'fetch.sh'), fetchScript(spool))
    chmodSync(join(spool, 'fetch.sh'), 0o700)
    if (answer) writeFileSync(join(spool, `${name}${answer.suffix}`), answer.content)
    const result = await execa(join(spool, 'fetch.sh'), [name, 'pg_wal/RECOVERYXLOG'], { cwd: data, reject: false })
    return { exitCode: result.exitCode, stderr: result.stderr, spool, data }
  }

  it('copies a ready file to %p and removes it from the spool (exit 0)', async () => {
    const result = await run('000000010000000000000003', { suffix: '', content: 'wal' })
    expect(result.exitCode).toBe(0)
    expect(readFileSync(join(result.data, 'pg_wal', 'RECOVERYXLOG'), 'utf8')).toBe('wal')
    expect(existsSync(join(result.spool, '000000010000000000000003'))).toBe(false)
    expect(existsSync(join(result.data, 'pg_wal', 'RECOVERYXLOG.probe-ops'))).toBe(false)
  })

  it('says "not in the archive" (exit 1) on a .missing answer, and takes the answer away', async () => {
    const result = await run('00000003.history', { suffix: '.missing', content: '' })
    expect(result.exitCode).toBe(1)
    expect(existsSync(join(result.spool, '00000003.history.missing'))).toBe(false)
  })

  it('stops recovery (exit 128) on an .error answer, with its line on stderr', async () => {
    const result = await run('000000010000000000000004', { suffix: '.error', content: 'probe-ops restore: a hole in the WAL\n' })
    expect(result.exitCode).toBe(128)
    expect(result.stderr).toBe('probe-ops restore: a hole in the WAL')
  })

  it('refuses a name that is not a file name in the spool (exit 128), and leaves no marker', async () => {
    for (const name of ['../../etc/passwd', '', '.wanted', 'a b']) {
      const result = await run(name)
      expect(result.exitCode, name).toBe(128)
      expect(result.stderr).toMatch(/^probe-ops restore: bad WAL name/)
      expect(readdirSync(result.spool)).toEqual(['fetch.sh'])
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('spools left behind', () => {
  it("are the spools whose run has ended: a live run's is left alone, a link or another's directory is never one", async () => {
    const parent = mkdtempSync(join(tmpdir(), 'po-spools-'))
    try {
      await createSpool(join(parent, '.restore-spool-20261205T200000Z'), undefined)
      mkdirSync(join(parent, '.restore-spool-20261205T190000Z'))
      writeFileSync(join(parent, '.restore-spool-20261205T190000Z', '.owner'), '999999999 1\n')
      mkdirSync(join(parent, '.restore-spool-20261205T180000Z'))
      symlinkSync('/etc', join(parent, '.restore-spool-20261205T170000Z'))
      // Under the name, but with files and no owner file of root's: not proven a spool, left alone.
      mkdirSync(join(parent, '.restore-spool-20261205T160000Z'))
      writeFileSync(join(parent, '.restore-spool-20261205T160000Z', 'notes.txt'), 'someone else\n')
      expect((await abandonedSpools([parent, parent])).sort()).toEqual([
        join(parent, '.restore-spool-20261205T180000Z'),
        join(parent, '.restore-spool-20261205T190000Z'),
      ])
    } finally {
      rmSync(parent, { recursive: true, force: true })
    }
  })
})

describe('the room a physical restore needs', () => {
  const manifest = { bytes: 100 * MiB, databaseBytes: 1000 * MiB, wal: undefined }

  it("counts the databases' recorded size and 20 %, and the spool's segments; without a recorded size, 4 × the compressed base", () => {
    expect(physicalDiskNeeds(manifest, 8)).toEqual({ dataBytes: 1200 * MiB, estimated: false, spoolBytes: 9 * 16 * MiB })
    expect(physicalDiskNeeds({ ...manifest, databaseBytes: undefined }, 8)).toMatchObject({ dataBytes: 480 * MiB, estimated: true })
  })

  it('refuses in one line what does not fit with restore.reserveBytes kept, saying how much and what to do', () => {
    const needs = physicalDiskNeeds(manifest, 8)
    expect(physicalDiskRefusal('base-1', needs, { path: '/var/lib/postgresql/15', freeBytes: 2000 * MiB }, 0)).toBeUndefined()
    const refusal = physicalDiskRefusal('base-1', needs, { path: '/var/lib/postgresql/15', freeBytes: 2000 * MiB }, 1024 * MiB)
    expect(refusal?.message).toMatch(/^base-1 needs about 1\.3 GiB on \/var\/lib\/postgresql\/15 \(.*\), which has 2\.0 GiB free and must keep 1\.0 GiB$/)
    expect(refusal?.message).not.toContain('\n')
    expect(refusal?.hint).toMatch(/nothing was changed/)
  })
})
