import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LockHeldError } from '../../src/errors.js'
import { acquireLock } from '../../src/lib/lock.js'
import { tempDir } from '../helpers/temp.js'

describe('job lock', () => {
  it('is exclusive while held and free after release', async () => {
    const dir = tempDir('po-lock')
    const lock = await acquireLock(dir, 'job', 'maintain daily')
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid)
    await expect(acquireLock(dir, 'job', 'maintain daily')).rejects.toBeInstanceOf(LockHeldError)
    await expect(acquireLock(dir, 'other', 'maintain weekly')).resolves.toBeTruthy()
    lock.release()
    expect(existsSync(lock.path)).toBe(false)
    ;(await acquireLock(dir, 'job', 'maintain daily')).release()
  })

  it('takes over a lock whose holder was killed', async () => {
    const dir = tempDir('po-lock')
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((r) => child.once('spawn', r))
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'job.lock'), JSON.stringify({ pid: child.pid, command: 'maintain daily', since: new Date().toISOString() }))
    await expect(acquireLock(dir, 'job', 'maintain daily')).rejects.toThrow(new RegExp(`process ${child.pid}`))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const lock = await acquireLock(dir, 'job', 'maintain daily')
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid)
    lock.release()
  })

  it('waits for a holder that finishes within --wait-lock', async () => {
    const dir = tempDir('po-lock')
    const first = await acquireLock(dir, 'job', 'maintain daily')
    setTimeout(() => first.release(), 300)
    const started = Date.now()
    const second = await acquireLock(dir, 'job', 'maintain daily', 5000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    second.release()
  })
})
