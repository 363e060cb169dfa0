import { spawnSync } from 'node:child_process'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { listBackups } from '../../src/backups/store.js'
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
    expect(leftovers.map((l) => [l.path.split('/').at(-1), l.why]).sort()).toEqual([
      [`.partial-${dead}-database-a.dump`, 'a backup that never finished (probe-ops was stopped while writing it)'],
      [`.partial-${process.pid}.1-database-e.dump`, 'a backup that never finished (probe-ops was stopped while writing it)'],
      ['database-c.dump', 'data without a manifest'],
    ].sort())
  })
})
