import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { abandonedRunNote, removeRunNote, writeRunNote } from '../../src/lib/run-note.js'
import { tempDir } from '../helpers/temp.js'

describe('run notes', () => {
  it('are created once: a second writer is refused, never written over the first', async () => {
    const path = join(tempDir('po-note'), 'note.json')
    await writeRunNote(path, { services: ['management'] }, () => new Error('taken'))
    await expect(writeRunNote(path, { services: ['web'] }, () => new Error('taken'))).rejects.toThrow('taken')
    // Its writer (this process) is alive: not abandoned.
    expect(await abandonedRunNote(path)).toBeUndefined()
    await removeRunNote(path)
    expect(await abandonedRunNote(path)).toBeUndefined()
  })

  it('are abandoned once their writer is gone, a reused pid included', async () => {
    const dir = tempDir('po-note')
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.once('exit', r))
    writeFileSync(join(dir, 'dead.json'), JSON.stringify({ services: ['management'], pid: child.pid, startedAt: 'x' }))
    expect(await abandonedRunNote(join(dir, 'dead.json'))).toMatchObject({ services: ['management'] })
    // This process's pid with another start time: a reused pid, not the writer.
    writeFileSync(join(dir, 'reused.json'), JSON.stringify({ pid: process.pid, processStart: '1', startedAt: 'x' }))
    expect(await abandonedRunNote(join(dir, 'reused.json'))).toMatchObject({ pid: process.pid })
  })

  it('say so when a note is not one probe-ops wrote', async () => {
    const dir = tempDir('po-note')
    writeFileSync(join(dir, 'garbage.json'), 'not json')
    writeFileSync(join(dir, 'empty.json'), '{}')
    await expect(abandonedRunNote(join(dir, 'garbage.json'))).rejects.toThrow(/is not a note probe-ops wrote/)
    await expect(abandonedRunNote(join(dir, 'empty.json'))).rejects.toThrow(/is not a note probe-ops wrote/)
  })
})
