import { spawn } from 'node:child_process'
import { symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { isProcessAlive, processStart } from '../../src/lib/process.js'
import { abandonedRunNote, removeRunNote, runNoteSchema, writeRunNote } from '../../src/lib/run-note.js'
import { startZombie } from '../helpers/processes.js'
import { tempDir } from '../helpers/temp.js'

const schema = runNoteSchema.extend({ services: z.array(z.string()).optional() })

describe('run notes', () => {
  it('are created once: a second writer is refused, never written over the first', async () => {
    const path = join(tempDir('po-note'), 'note.json')
    await writeRunNote(path, { services: ['management'] }, () => new Error('taken'))
    await expect(writeRunNote(path, { services: ['web'] }, () => new Error('taken'))).rejects.toThrow('taken')
    // Its writer (this process) is alive: not abandoned.
    expect(await abandonedRunNote(path, schema)).toBeUndefined()
    await removeRunNote(path)
    expect(await abandonedRunNote(path, schema)).toBeUndefined()
  })

  it('are abandoned once their writer is gone, a reused pid included', async () => {
    const dir = tempDir('po-note')
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.once('exit', r))
    writeFileSync(join(dir, 'dead.json'), JSON.stringify({ services: ['management'], pid: child.pid, startedAt: 'x' }))
    expect(await abandonedRunNote(join(dir, 'dead.json'), schema)).toMatchObject({ services: ['management'] })
    // This process's pid with another start time: a reused pid, not the writer.
    writeFileSync(join(dir, 'reused.json'), JSON.stringify({ pid: process.pid, processStart: '1', startedAt: 'x' }))
    expect(await abandonedRunNote(join(dir, 'reused.json'), schema)).toMatchObject({ pid: process.pid })
  })

  it('are abandoned once their writer is a zombie: it has exited, only its parent has not collected it', async () => {
    const dir = tempDir('po-note')
    const zombie = await startZombie()
    try {
      const start = processStart(zombie.pid)
      expect(start).toBeDefined()
      expect(isProcessAlive(zombie.pid)).toBe(false)
      expect(isProcessAlive(zombie.pid, start)).toBe(false)
      writeFileSync(join(dir, 'zombie.json'), JSON.stringify({ services: ['management'], pid: zombie.pid, processStart: start, startedAt: 'x' }))
      expect(await abandonedRunNote(join(dir, 'zombie.json'), schema)).toMatchObject({ services: ['management'], pid: zombie.pid })
      // A live process is alive, with or without its start time.
      expect(isProcessAlive(process.pid, processStart(process.pid))).toBe(true)
    } finally {
      zombie.stop()
    }
  })

  it('say so when a note is not one probe-ops wrote', async () => {
    const dir = tempDir('po-note')
    writeFileSync(join(dir, 'garbage.json'), 'not json')
    writeFileSync(join(dir, 'empty.json'), '{}')
    await expect(abandonedRunNote(join(dir, 'garbage.json'), schema)).rejects.toThrow(/is not a note probe-ops wrote/)
    await expect(abandonedRunNote(join(dir, 'empty.json'), schema)).rejects.toThrow(/is not a note probe-ops wrote/)
  })

  it('refuse a note of the wrong shape or behind a link: nothing it names is acted on', async () => {
    const dir = tempDir('po-note')
    writeFileSync(join(dir, 'types.json'), JSON.stringify({ services: 'management', pid: 4242, startedAt: 'x' }))
    await expect(abandonedRunNote(join(dir, 'types.json'), schema)).rejects.toThrow(
      /types\.json is not a note probe-ops wrote \(services: Expected array, received string\)/,
    )
    writeFileSync(join(dir, 'elsewhere.json'), JSON.stringify({ services: ['management'], pid: 4242, startedAt: 'x' }))
    symlinkSync(join(dir, 'elsewhere.json'), join(dir, 'link.json'))
    await expect(abandonedRunNote(join(dir, 'link.json'), schema)).rejects.toThrow(/link\.json is not a note probe-ops wrote \(.*is a symbolic link\)/)
  })
})
