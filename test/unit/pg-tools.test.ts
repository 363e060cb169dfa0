import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig } from '../../src/config/load.js'
import { pgCtl, toolError, unpackBaseBackup } from '../../src/systems/pg-tools.js'
import { tempDir } from '../helpers/temp.js'

describe("a PostgreSQL tool's error line", () => {
  it('quotes the error, never the statement that pg_restore shows after it', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  role "app" does not exist',
      "Command was: CREATE SUBSCRIPTION s CONNECTION 'host=db password=hunter2'",
      '  PUBLICATION p;',
    ].join('\n')
    expect(toolError({ exitCode: 1, stderr })).toBe('pg_restore: error: could not execute query: ERROR:  role "app" does not exist')
    expect(toolError({ exitCode: 1, stderr })).not.toMatch(/hunter2/)
  })

  it('falls back to the last line, or says there was none', () => {
    expect(toolError({ exitCode: 1, stderr: 'pg_dump: something odd\npg_dump: the end' })).toBe('pg_dump: the end')
    expect(toolError({ exitCode: 1, stderr: '' })).toBe('no error output')
    expect(toolError({ exitCode: 1, stderr: 'Command was: DROP TABLE x;' }, 'exit 1')).toBe('exit 1')
  })
})

describe("a base backup's tar files", () => {
  /** A directory as pg_basebackup --format=tar --gzip leaves it: base.tar.gz, and pg_wal.tar.gz with the WAL. */
  function baseBackup(withWal: boolean): string {
    const root = tempDir('po-base')
    const source = join(root, 'source')
    mkdirSync(join(source, 'global'), { recursive: true })
    mkdirSync(join(source, 'pg_wal'))
    writeFileSync(join(source, 'PG_VERSION'), '15\n')
    writeFileSync(join(source, 'global', 'pg_control'), 'control')
    const backup = join(root, 'backup')
    mkdirSync(backup)
    execFileSync('tar', ['-czf', join(backup, 'base.tar.gz'), '-C', source, '.'])
    if (withWal) {
      const wal = join(root, 'wal')
      mkdirSync(wal)
      writeFileSync(join(wal, '000000010000000000000001'), 'segment')
      execFileSync('tar', ['-czf', join(backup, 'pg_wal.tar.gz'), '-C', wal, '.'])
    }
    return backup
  }

  it('unpack into a data directory, the WAL into its pg_wal', async () => {
    const into = join(tempDir('po-unpacked'), 'data')
    mkdirSync(into)
    await unpackBaseBackup(baseBackup(true), into)
    expect(readFileSync(join(into, 'PG_VERSION'), 'utf8')).toBe('15\n')
    expect(readdirSync(join(into, 'pg_wal'))).toEqual(['000000010000000000000001'])
  })

  it("are refused when base.tar.gz is missing, and a broken archive fails with tar's words", async () => {
    const empty = tempDir('po-base-empty')
    await expect(unpackBaseBackup(empty, tempDir('po-unpacked'))).rejects.toThrow(`${empty} has no base.tar.gz`)
    const broken = tempDir('po-base-broken')
    writeFileSync(join(broken, 'base.tar.gz'), 'not gzip')
    await expect(unpackBaseBackup(broken, tempDir('po-unpacked'))).rejects.toThrow(/^tar exited with 2/)
  })
})

describe('pg_ctl', () => {
  it('says it failed, with what it said, rather than throw: the caller undoes what it began', async () => {
    const config = resolveConfig(parseConfigText('backup:\n  binDir: /usr/lib/postgresql/15/bin\n', 'test.yaml'), 'test.yaml', {})
    const stopped = await pgCtl(config, ['-D', tempDir('po-no-cluster'), 'status'], { timeoutMs: 10_000 })
    expect(stopped.ok).toBe(false)
    // As root it refuses to run at all; as another user there is no cluster there.
    expect(stopped.output).toMatch(/^pg_ctl: (cannot be run as root|no server running|directory .* is not a database cluster directory)/)
    const missing = resolveConfig(parseConfigText('backup:\n  binDir: /nonexistent\n', 'test.yaml'), 'test.yaml', {})
    expect(await pgCtl(missing, ['status'], { timeoutMs: 10_000 })).toEqual({ ok: false, output: expect.stringMatching(/pg_ctl could not run/) })
  })
})
