import { spawn } from 'node:child_process'
import { existsSync, lstatSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LockHeldError } from '../../src/errors.js'
import { acquireLock } from '../../src/lib/lock.js'
import { processStart } from '../../src/lib/process.js'
import { startZombie } from '../helpers/processes.js'
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

describe('fault injection: what a crash or a stranger leaves at the lock path', () => {
  /** The lock path `job.lock` in a fresh lock directory, with `make` having put something there. */
  function lockPath(): { dir: string; path: string } {
    const dir = tempDir('po-lock')
    mkdirSync(dir, { recursive: true })
    return { dir, path: join(dir, 'job.lock') }
  }

  const old = new Date(Date.now() - 3_600_000)

  it('takes over an empty lock file left by a crash (a full disk), once it is past its grace', async () => {
    const { path } = lockPath()
    writeFileSync(path, '')
    utimesSync(path, old, old)
    const lock = await acquireLock(dirname(path), 'job', 'maintain daily')
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid)
    expect(lock.takenOver).toMatchObject({ path, reason: expect.stringMatching(/^the lock file was empty \(left by a run that crashed\?\), \d+ s old$/) })
    lock.release()
  })

  it('leaves a fresh empty lock file alone: a run may be writing its holder into it right now', async () => {
    const { path } = lockPath()
    writeFileSync(path, '')
    await expect(acquireLock(dirname(path), 'job', 'maintain daily')).rejects.toThrow(
      /maintain daily may be starting in another run: .*job\.lock is empty and \d+ s old \(taken over once \d+ s old\)/,
    )
    await expect(acquireLock(dirname(path), 'job', 'maintain daily')).rejects.toBeInstanceOf(LockHeldError)
    expect(readFileSync(path, 'utf8')).toBe('')
  })

  it('takes over a lock file of garbage', async () => {
    const { path } = lockPath()
    writeFileSync(path, '\u0000\u0000{"pid": ')
    utimesSync(path, old, old)
    const lock = await acquireLock(dirname(path), 'job', 'maintain daily')
    expect(lock.takenOver?.reason).toMatch(/^the lock file held no holder probe-ops wrote/)
    lock.release()
  })

  it('moves a directory at the lock path aside, whole, and takes the lock', async () => {
    const { dir, path } = lockPath()
    mkdirSync(path)
    writeFileSync(join(path, 'inside'), 'keep me')
    const lock = await acquireLock(dir, 'job', 'maintain daily')
    expect(lstatSync(path).isFile()).toBe(true)
    const movedTo = lock.takenOver!.movedTo!
    expect(lock.takenOver!.reason).toBe(`a directory was at the lock path; moved aside to ${movedTo}`)
    expect(dirname(movedTo)).toBe(dir)
    expect(readFileSync(join(movedTo, 'inside'), 'utf8')).toBe('keep me')
    lock.release()
  })

  it('never follows a symbolic link at the lock path: the link is moved aside, what it points to is untouched', async () => {
    const { dir, path } = lockPath()
    // The link points at a file that names this (live) process: followed, it would block forever.
    const target = join(tempDir('po-lock-target'), 'target')
    const content = JSON.stringify({ pid: process.pid, command: 'maintain daily', since: new Date().toISOString() })
    writeFileSync(target, content)
    symlinkSync(target, path)
    const lock = await acquireLock(dir, 'job', 'maintain daily')
    expect(lstatSync(path).isFile()).toBe(true)
    expect(readlinkSync(lock.takenOver!.movedTo!)).toBe(target)
    expect(lock.takenOver!.reason).toMatch(/^a symbolic link was at the lock path; moved aside to /)
    expect(readFileSync(target, 'utf8')).toBe(content)
    lock.release()
    expect(readFileSync(target, 'utf8')).toBe(content)
  })

  it('still waits for a live holder (exit 3), and reports taking over a dead one', async () => {
    const { dir, path } = lockPath()
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((r) => child.once('spawn', r))
    const since = new Date().toISOString()
    writeFileSync(path, JSON.stringify({ pid: child.pid, command: 'maintain daily', since }))
    utimesSync(path, old, old)
    await expect(acquireLock(dir, 'job', 'maintain daily')).rejects.toBeInstanceOf(LockHeldError)
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const lock = await acquireLock(dir, 'job', 'maintain daily')
    expect(lock.takenOver).toEqual({
      path,
      reason: `its holder, process ${child.pid} (maintain daily, since ${since}), is gone`,
      holder: { pid: child.pid, command: 'maintain daily', since },
    })
    lock.release()
  })

  it('takes over a lock whose holder died but is not reaped yet (a zombie, under an init that reaps slowly)', async () => {
    const { dir, path } = lockPath()
    const zombie = await startZombie()
    try {
      const since = new Date().toISOString()
      // Its pid and its start time as the holder recorded them: the same process, but dead.
      writeFileSync(path, JSON.stringify({ pid: zombie.pid, processStart: processStart(zombie.pid), command: 'maintain daily', since }))
      const lock = await acquireLock(dir, 'job', 'maintain daily')
      expect(lock.takenOver?.reason).toBe(`its holder, process ${zombie.pid} (maintain daily, since ${since}), is gone`)
      lock.release()
    } finally {
      zombie.stop()
    }
  })
})
