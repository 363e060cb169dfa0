import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { LockHeldError, OperationFailure, UsageError, describeError } from '../errors.js'
import { kindOf, makeDirectoriesSync } from './files.js'
import { isProcessAlive, processStart } from './process.js'
import { sleep } from './time.js'

const holderSchema = z.object({
  pid: z.number().int().positive(),
  /** The holder's start time in clock ticks (/proc/PID/stat field 22), so a reused pid is not mistaken for it. */
  processStart: z.string().optional(),
  command: z.string(),
  since: z.string(),
})

type LockHolder = z.infer<typeof holderSchema>

/** What taking the lock had to clear away: said on stderr, in the report and in the maintenance log. */
export interface LockTakeover {
  path: string
  reason: string
  /** The holder the lock file named, when it named one. */
  holder?: { pid: number; command: string; since: string }
  /** Where what was at the lock path went (kept, never deleted): a directory, a link, anything not a lock file. */
  movedTo?: string
}

export interface JobLock {
  path: string
  release(): void
  takenOver?: LockTakeover
}

/**
 * A lock file without a holder may be one a run created a moment ago and is about to write (it
 * opens, then writes). So one is taken over only once it is this old; a crash on a full disk
 * leaves it empty for good, and the next run after this takes it.
 */
export const UNIDENTIFIED_LOCK_GRACE_MS = 10_000

/** A holder's JSON is one short line. */
const MAX_HOLDER_BYTES = 4096

/** What is at the lock path. */
type Found =
  | { kind: 'none' }
  | { kind: 'holder'; holder: LockHolder; info: Stats }
  /** A regular file that names no holder: empty, or not what probe-ops writes. */
  | { kind: 'unidentified'; empty: boolean; info: Stats }
  /** Not a lock file at all: a directory, a symbolic link, a FIFO... */
  | { kind: 'foreign'; info: Stats }

const absent = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT'

/** Looks at the lock path without following a link or waiting on a FIFO, and reads a holder from a regular file. */
function inspect(path: string): Found {
  let info: Stats
  try {
    info = lstatSync(path)
  } catch (error) {
    if (absent(error)) return { kind: 'none' }
    throw error
  }
  if (!info.isFile()) return { kind: 'foreign', info }
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if (absent(error)) return { kind: 'none' }
    // Replaced by a link or a FIFO between the look and the open: look again.
    if (['ELOOP', 'ENXIO'].includes((error as NodeJS.ErrnoException).code ?? '')) return inspect(path)
    throw error
  }
  let text: string
  try {
    const opened = fstatSync(fd)
    if (!opened.isFile() || opened.ino !== info.ino) return inspect(path)
    const buffer = Buffer.alloc(MAX_HOLDER_BYTES)
    text = buffer.subarray(0, readSync(fd, buffer, 0, MAX_HOLDER_BYTES, 0)).toString('utf8')
  } finally {
    closeSync(fd)
  }
  if (text.trim() === '') return { kind: 'unidentified', empty: true, info }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const holder = holderSchema.safeParse(parsed)
  if (!holder.success) return { kind: 'unidentified', empty: false, info }
  return { kind: 'holder', holder: holder.data, info }
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
  try {
    writeSync(fd, JSON.stringify(holder))
  } catch (error) {
    // A full disk: an empty lock file left here would block the next runs for the grace period.
    closeSync(fd)
    unlinkSync(path)
    throw new OperationFailure(`cannot write the lock file ${path}: ${describeError(error)}`, 'free space on the disk of lock.dir, then run it again')
  }
  closeSync(fd)
  return true
}

/**
 * Moves what is at the lock path aside, inside the lock directory, if it is still what was
 * looked at (the same inode); `keep` leaves it there (a directory or a link is never deleted,
 * nor what is in it), else the stale lock file is removed. Returns where it went, or undefined
 * when another run changed the path first (then the caller looks again).
 */
function moveAside(path: string, found: Stats, keep: boolean): string | undefined {
  const aside = `${path}.${keep ? 'foreign' : 'stale'}-${new Date().toISOString().replace(/[-:.]/g, '')}-${process.pid}`
  try {
    renameSync(path, aside)
  } catch (error) {
    if (absent(error)) return undefined
    throw new OperationFailure(
      `cannot move ${kindOf(found)} at the lock path ${path} aside: ${describeError(error)}`,
      `see what it is, and remove it by hand if nothing needs it`,
    )
  }
  if (lstatSync(aside).ino !== found.ino) {
    // Another run put its own fresh lock there between our look and the rename: give it back,
    // never over what may be there again by now.
    try {
      linkSync(aside, path)
      unlinkSync(aside)
    } catch {
      // the path is taken again: what was moved stays aside, kept
    }
    return undefined
  }
  if (!keep) unlinkSync(aside)
  return aside
}

function describeHolder(holder: LockHolder): string {
  return `process ${holder.pid} (${holder.command}, since ${holder.since})`
}

/**
 * Takes the job's lock file, or says who holds it. A lock whose holder cannot be identified as
 * alive is taken over, and the takeover returned: a holder that is gone (kill -9, reboot), a
 * lock file that is empty or holds no holder once past its grace (UNIDENTIFIED_LOCK_GRACE_MS),
 * and anything that is not a lock file (a directory, a symbolic link, never followed), which is
 * moved aside within the lock directory and kept. Of two runs that take over at once, one wins
 * the rename.
 */
export async function acquireLock(dir: string, name: string, command: string, waitMs = 0): Promise<JobLock> {
  try {
    makeDirectoriesSync(dir)
  } catch (error) {
    throw new UsageError(
      `cannot create the lock directory ${dir} (${(error as NodeJS.ErrnoException).code})`,
      'set lock.dir in the configuration to a writable directory',
    )
  }
  const path = join(dir, `${name}.lock`)
  const deadline = Date.now() + waitMs
  let takenOver: LockTakeover | undefined
  for (;;) {
    if (tryCreate(path, command)) break
    const found = inspect(path)
    if (found.kind === 'none') continue
    let held: string
    if (found.kind === 'holder') {
      const { holder } = found
      if (!isProcessAlive(holder.pid, holder.processStart)) {
        if (moveAside(path, found.info, false))
          takenOver = {
            path,
            reason: `its holder, ${describeHolder(holder)}, is gone`,
            holder: { pid: holder.pid, command: holder.command, since: holder.since },
          }
        continue
      }
      held = `${command} is already running: ${describeHolder(holder)} holds ${path}`
    } else if (found.kind === 'unidentified') {
      const age = Date.now() - found.info.mtimeMs
      const seconds = Math.max(0, Math.round(age / 1000))
      if (age >= UNIDENTIFIED_LOCK_GRACE_MS) {
        const what = found.empty ? 'was empty (left by a run that crashed?)' : 'held no holder probe-ops wrote'
        if (moveAside(path, found.info, false)) takenOver = { path, reason: `the lock file ${what}, ${seconds} s old` }
        continue
      }
      held = `${command} may be starting in another run: ${path} ${found.empty ? 'is empty' : 'holds no holder yet'} and ${seconds} s old (taken over once ${UNIDENTIFIED_LOCK_GRACE_MS / 1000} s old)`
    } else {
      const movedTo = moveAside(path, found.info, true)
      if (movedTo) takenOver = { path, reason: `${kindOf(found.info)} was at the lock path; moved aside to ${movedTo}`, movedTo }
      continue
    }
    if (Date.now() >= deadline) throw new LockHeldError(held, found.kind === 'holder' ? found.holder.pid : undefined)
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())))
  }

  const release = () => {
    try {
      const found = inspect(path)
      if (found.kind === 'holder' && found.holder.pid === process.pid) unlinkSync(path)
    } catch {
      // already gone, or no longer ours to look at: the next run takes it over
    }
    process.removeListener('exit', release)
  }
  process.once('exit', release)
  return { path, release, ...(takenOver ? { takenOver } : {}) }
}
