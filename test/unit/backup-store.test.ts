import { spawnSync } from 'node:child_process'
import { lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { findBackup, listBackups, removeBackup } from '../../src/backups/store.js'
import { processStart } from '../../src/lib/process.js'
import { tempDir } from '../helpers/temp.js'

describe('backup directory leftovers', () => {
  it('leaves alone what another run is writing right now, and reports what a dead one left', async () => {
    const dir = join(tempDir('store'), 'backups')
    mkdirSync(dir, { mode: 0o700 })
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
    writeFileSync(join(dir, `.partial-${dead}-database-a.dump`), 'x')
    writeFileSync(join(dir, `.partial-${process.pid}.${processStart(process.pid)}-database-b.dump`), 'x')
    // The same pid, but another process's start: a reused pid (pid 1 in every container run).
    writeFileSync(join(dir, `.partial-${process.pid}.1-database-e.dump`), 'x')
    writeFileSync(join(dir, 'database-c.dump'), 'x')
    const old = new Date(Date.now() - 3_600_000)
    utimesSync(join(dir, 'database-c.dump'), old, old)
    writeFileSync(join(dir, 'database-d.dump'), 'x')
    const { leftovers } = await listBackups(dir)
    expect(leftovers.map((l) => [l.path.split('/').at(-1), l.why]).sort()).toEqual(
      [
        [`.partial-${dead}-database-a.dump`, 'a backup that never finished (probe-ops was stopped while writing it)'],
        [`.partial-${process.pid}.1-database-e.dump`, 'a backup that never finished (probe-ops was stopped while writing it)'],
        ['database-c.dump', 'data without a manifest'],
      ].sort(),
    )
  })
})

/** A manifest as probe-ops writes one, for data `data` (which the test creates or not). */
function manifest(id: string, data: string, startedAt = '2026-11-25T03:00:00.000Z'): Record<string, unknown> {
  return {
    manifestVersion: 1,
    id,
    kind: 'database',
    reason: 'manual',
    format: 'custom',
    data,
    bytes: 1,
    sha256: 'a'.repeat(64),
    database: 'network_probe',
    host: 'h',
    toolVersion: '1.0.0',
    startedAt,
    finishedAt: startedAt,
    durationMs: 1,
    verifications: [],
  }
}

function writeManifestFile(dir: string, id: string, body: unknown): void {
  writeFileSync(join(dir, `${id}.manifest.json`), typeof body === 'string' ? body : JSON.stringify(body))
}

describe('fault injection: forged and malformed manifests', () => {
  function backupDir(): { dir: string; victim: string } {
    const root = tempDir('store-forged')
    const dir = join(root, 'backups')
    mkdirSync(dir, { mode: 0o700 })
    const victim = join(root, 'victimdir')
    mkdirSync(victim)
    writeFileSync(join(victim, 'precious'), 'keep me')
    writeManifestFile(dir, 'database-good', manifest('database-good', 'database-good.dump'))
    writeFileSync(join(dir, 'database-good.dump'), 'x')
    return { dir, victim }
  }

  it('refuses a manifest whose data is a path out of the backup directory, relative or absolute', async () => {
    const { dir, victim } = backupDir()
    writeManifestFile(dir, 'database-relative', manifest('database-relative', '../victimdir'))
    writeManifestFile(dir, 'database-absolute', manifest('database-absolute', victim))
    const { backups, unreadable, leftovers } = await listBackups(dir)
    expect(backups.map((b) => b.manifest.id)).toEqual(['database-good'])
    expect(unreadable.map((u) => [basename(u.path), u.why]).sort()).toEqual([
      ['database-absolute.manifest.json', expect.stringMatching(/^not a valid manifest: data: must be a plain name inside the backup directory/)],
      ['database-relative.manifest.json', expect.stringMatching(/^not a valid manifest: data: must be a plain name inside the backup directory/)],
    ])
    expect(leftovers).toEqual([])
  })

  it('refuses a manifest whose data is a link out of the backup directory, and never removes the link', async () => {
    const { dir, victim } = backupDir()
    symlinkSync(victim, join(dir, 'database-linked.dump'))
    writeManifestFile(dir, 'database-linked', manifest('database-linked', 'database-linked.dump'))
    // A link with no manifest at all is not a leftover to remove either.
    symlinkSync(victim, join(dir, 'stray'))
    const old = new Date(Date.now() - 3_600_000)
    lutimesSync(join(dir, 'stray'), old, old)
    const { backups, unreadable, leftovers } = await listBackups(dir)
    expect(backups.map((b) => b.manifest.id)).toEqual(['database-good'])
    expect(unreadable.map((u) => [basename(u.path), u.why]).sort()).toEqual([
      [
        'database-linked.manifest.json',
        `a foreign manifest: its data ${join(dir, 'database-linked.dump')} is a symbolic link (to ${victim}), not data inside the backup directory`,
      ],
      ['stray', 'a symbolic link probe-ops did not make: left alone'],
    ])
    expect(leftovers).toEqual([])
    // Removing a backup checks again, just before: a link put in place of its data is not followed.
    const good = backups[0]!
    rmSync(good.path)
    symlinkSync(victim, good.path)
    await expect(removeBackup(dir, good)).rejects.toThrow(/database-good was not removed: its data .* is a symbolic link/)
    expect(readdirSync(victim)).toEqual(['precious'])
  })

  it('refuses a manifest that names itself otherwise, or is a link itself', async () => {
    const { dir, victim } = backupDir()
    writeManifestFile(dir, 'database-renamed', manifest('../../elsewhere', 'database-renamed.dump'))
    writeFileSync(join(victim, 'outside.manifest.json'), JSON.stringify(manifest('database-outside', 'database-good.dump')))
    symlinkSync(join(victim, 'outside.manifest.json'), join(dir, 'database-outside.manifest.json'))
    const { backups, unreadable } = await listBackups(dir)
    expect(backups.map((b) => b.manifest.id)).toEqual(['database-good'])
    expect(unreadable.map((u) => [basename(u.path), u.why]).sort()).toEqual([
      ['database-outside.manifest.json', expect.stringMatching(/^not a manifest probe-ops wrote: .* is a symbolic link$/)],
      ['database-renamed.manifest.json', expect.stringMatching(/^not a valid manifest: id: must be a plain name/)],
    ])
  })

  it('reports a malformed manifest as one problem, skips it, and keeps its data from being called a leftover', async () => {
    const { dir } = backupDir()
    const { startedAt: _, ...noStart } = manifest('database-nostart', 'database-nostart.dump')
    writeManifestFile(dir, 'database-nostart', noStart)
    writeManifestFile(dir, 'database-types', { ...manifest('database-types', 'database-types.dump'), bytes: 'many', verifications: {} })
    writeManifestFile(dir, 'database-garbage', '{"manifestVersion": 1, "id": ')
    for (const name of ['database-nostart.dump', 'database-types.dump', 'database-garbage.dump']) {
      writeFileSync(join(dir, name), 'x')
      const old = new Date(Date.now() - 3_600_000)
      utimesSync(join(dir, name), old, old)
    }
    const { backups, unreadable, leftovers } = await listBackups(dir)
    expect(backups.map((b) => b.manifest.id)).toEqual(['database-good'])
    expect(Object.fromEntries(unreadable.map((u) => [basename(u.path), u.why]))).toEqual({
      'database-nostart.manifest.json': 'not a valid manifest: startedAt: Required',
      'database-types.manifest.json': 'not a valid manifest: bytes: Expected number, received string; verifications: Expected array, received object',
      'database-garbage.manifest.json': expect.stringMatching(/^not a manifest probe-ops wrote: .*JSON/),
    })
    expect(leftovers).toEqual([])
    await expect(findBackup(dir, 'database-nostart', 'network_probe')).rejects.toThrow(
      /backup "database-nostart" cannot be used: .*database-nostart\.manifest\.json is not a valid manifest: startedAt: Required/,
    )
    const latest = await findBackup(dir, 'latest', 'network_probe')
    expect(latest.backup.manifest.id).toBe('database-good')
    expect(latest.unreadable).toHaveLength(3)
  })
})
