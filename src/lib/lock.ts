import { openSync, writeSync, closeSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { LockHeldError, UsageError } from '../errors.js'
import { isProcessAlive, processStart } from './process.js'
import { sleep } from './time.js'
import { makeDirectoriesSync } from './files.js'

interface LockHolder {
  pid: number
  /** The holder's start time in clock ticks (/proc/PID/stat field 22), so a reused pid is not mistaken for it. */
  processStart?: string
  command: string
  since: string
}

export interface JobLock {
  path: string
  release(): void
}

function isAlive(holder: LockHolder): boolean {
  return isProcessAlive(holder.pid, holder.processStart)
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder
  } catch {
    return undefined
  }
}

function tryCreate(path: string, command: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o644)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
  const holder: LockHolder = { pid: process.pid, processStart: processStart(process.pid), command, since: new Date().toISOString() }
  writeSync(fd, JSON.stringify(holder))
  closeSync(fd)
  return true
}

/**
 * Takes the job's lock file, or says who holds it. A lock whose holder is dead (kill -9,
 * reboot) is taken over: it is first renamed aside, so of two runs that find it stale only
 * one wins the rename.
 */
export async function acquireLock(dir: string, name: string, command: string, waitMs = 0): Promise<JobLock> {
  try {
    makeDirectoriesSync(dir)
  } catch (error) {
    throw new UsageError(`cannot create the lock directory ${dir} (${(error as NodeJS.ErrnoException).code})`, 'set lock.dir in the configuration to a writable directory')
  }
  const path = join(dir, `${name}.lock`)
  const deadline = Date.now() + waitMs
  for (;;) {
    if (tryCreate(path, command)) break
    const holder = readHolder(path)
    if (holder && !isAlive(holder)) {
      try {
        renameSync(path, `${path}.stale-${process.pid}`)
        unlinkSync(`${path}.stale-${process.pid}`)
      } catch {
        // another run took it over first; go round and look again
      }
      continue
    }
    if (Date.now() >= deadline) {
      const who = holder ? `process ${holder.pid} (${holder.command}, since ${holder.since})` : 'another process'
      throw new LockHeldError(`${command} is already running: ${who} holds ${path}`, holder?.pid)
    }
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())))
  }

  const release = () => {
    const holder = readHolder(path)
    if (holder?.pid === process.pid) {
      try {
        unlinkSync(path)
      } catch {
        // already gone
      }
    }
    process.removeListener('exit', release)
  }
  process.once('exit', release)
  return { path, release }
}
