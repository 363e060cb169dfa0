import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { giveTree } from '../../src/systems/os-user.js'
import { tempDir } from '../helpers/temp.js'

describe('giving a directory probe-ops made to PostgreSQL’s user, as root', () => {
  it('changes the owner of a link itself, never of what it points to, and never descends through one', async () => {
    // chown and lchown as root: the test runs where probe-ops does.
    expect(process.getuid?.()).toBe(0)
    const outside = tempDir('po-give-outside')
    const victimFile = join(outside, 'root-only.conf')
    writeFileSync(victimFile, 'root only\n', { mode: 0o600 })
    const victimDir = join(outside, 'tablespace')
    mkdirSync(victimDir)
    writeFileSync(join(victimDir, 'inside'), 'root only\n')

    const tree = join(tempDir('po-give'), 'recovered')
    mkdirSync(tree, { mode: 0o700 })
    mkdirSync(join(tree, 'base', '1'), { recursive: true })
    writeFileSync(join(tree, 'base', '1', '1259'), 'a relation')
    mkdirSync(join(tree, 'pg_tblspc'))
    // A tablespace's link, and a link where a file should be.
    symlinkSync(victimDir, join(tree, 'pg_tblspc', '16384'))
    symlinkSync(victimFile, join(tree, 'postgresql.auto.conf'))
    chmodSync(tree, 0o700)

    const user = { uid: 4321, gid: 4322 }
    await giveTree(tree, user)

    for (const path of [tree, join(tree, 'base'), join(tree, 'base', '1', '1259'), join(tree, 'pg_tblspc', '16384'), join(tree, 'postgresql.auto.conf')]) {
      expect([lstatSync(path).uid, lstatSync(path).gid], path).toEqual([4321, 4322])
    }
    for (const path of [victimFile, victimDir, join(victimDir, 'inside')]) expect([statSync(path).uid, statSync(path).gid], path).toEqual([0, 0])
    expect(readFileSync(victimFile, 'utf8')).toBe('root only\n')
  })

  it('refuses a path that is not the directory it made (a link put in its place)', async () => {
    const dir = tempDir('po-give')
    symlinkSync(tempDir('po-give-elsewhere'), join(dir, 'recovered'))
    await expect(giveTree(join(dir, 'recovered'), { uid: 4321, gid: 4321 })).rejects.toThrow(/is no longer the directory probe-ops made/)
  })
})
