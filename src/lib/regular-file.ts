import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { formatLimit } from './format.js'

/**
 * Reading a file a setting or an argument names, bounded. The path may be anything: /dev/zero
 * never ends, a FIFO blocks open() until a writer comes (and a blocked open holds a libuv thread,
 * so the process cannot exit), /dev/urandom is gigabytes of garbage. So a file is read only when
 * it is a regular file (checked before opening, then again on the open descriptor, which is
 * opened non-blocking in case the path was swapped for a FIFO meanwhile), and never past a size
 * that fits its kind.
 */

/** Why a file could not be read: one line, and whether it was simply not there. */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly code: 'missing' | 'not-a-file' | 'too-large' | 'unreadable',
  ) {
    super(`${path} ${reason}`)
    this.name = 'FileReadError'
  }
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY

/** "a FIFO", "a character device", ...: what a path is when it is not a regular file. */
function kindOf(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a FIFO (named pipe)'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  return 'an unknown kind of file'
}

function openFailure(path: string, error: unknown): FileReadError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return new FileReadError(path, 'does not exist', 'missing')
  if (code === 'ENOTDIR') return new FileReadError(path, 'does not exist (a part of the path is not a directory)', 'missing')
  if (code === 'EACCES' || code === 'EPERM') return new FileReadError(path, 'is not readable (permission denied)', 'unreadable')
  if (code === 'ELOOP') return new FileReadError(path, 'is a loop of symbolic links', 'unreadable')
  return new FileReadError(path, `cannot be read (${code ?? String(error)})`, 'unreadable')
}

function notRegular(path: string, stats: Stats): FileReadError | undefined {
  const kind = kindOf(stats)
  return kind ? new FileReadError(path, `is ${kind}, not a regular file`, 'not-a-file') : undefined
}

function tooLarge(path: string, what: string, maxBytes: number): FileReadError {
  return new FileReadError(path, `is larger than ${formatLimit(maxBytes)}, more than any ${what}`, 'too-large')
}

function sameFile(before: Stats, after: Stats): boolean {
  return before.dev === after.dev && before.ino === after.ino
}

function checkOpened(path: string, before: Stats, opened: Stats): FileReadError | undefined {
  return notRegular(path, opened) ?? (sameFile(before, opened) ? undefined : new FileReadError(path, 'was replaced while it was being opened', 'unreadable'))
}

const CHUNK_BYTES = 256 * 1024

/**
 * Chunks read until the end or one byte past `maxBytes`, whatever stat said of the size (a file
 * may grow while it is read; /proc files say 0).
 */
class BoundedRead {
  private readonly chunks: Buffer[] = []
  private total = 0

  constructor(
    private readonly maxBytes: number,
    private readonly tooLarge: () => FileReadError,
  ) {}

  next(): Buffer {
    return Buffer.allocUnsafe(Math.min(CHUNK_BYTES, this.maxBytes + 1 - this.total))
  }

  /** Keeps what a read put in `chunk`; false at the end of the file. */
  took(chunk: Buffer, read: number): boolean {
    if (read === 0) return false
    this.chunks.push(chunk.subarray(0, read))
    this.total += read
    if (this.total > this.maxBytes) throw this.tooLarge()
    return true
  }

  contents(): Buffer {
    return Buffer.concat(this.chunks, this.total)
  }
}

/** The stats of what is at `path` when it is a regular file; else why not. */
function regular(path: string, stats: Stats): Stats {
  const refused = notRegular(path, stats)
  if (refused) throw refused
  return stats
}

/** Said as a FileReadError: a stat or open that failed. */
const failedOpen =
  (path: string) =>
  (error: unknown): never => {
    throw openFailure(path, error)
  }

function attempt<T>(path: string, work: () => T): T {
  try {
    return work()
  } catch (error) {
    return failedOpen(path)(error)
  }
}

/**
 * The whole of a regular file of at most `maxBytes`; `what` names its kind in the error
 * ("configuration file"). Synchronous, for the configuration, which commands load before
 * anything else. Throws a FileReadError.
 */
export function readRegularFileSync(path: string, maxBytes: number, what: string): Buffer {
  const stats = regular(
    path,
    attempt(path, () => statSync(path)),
  )
  const fd = attempt(path, () => openSync(path, OPEN_FLAGS))
  try {
    const swapped = checkOpened(path, stats, fstatSync(fd))
    if (swapped) throw swapped
    const bounded = new BoundedRead(maxBytes, () => tooLarge(path, what, maxBytes))
    for (let chunk = bounded.next(); bounded.took(chunk, readSync(fd, chunk, 0, chunk.length, null)); chunk = bounded.next());
    return bounded.contents()
  } finally {
    closeSync(fd)
  }
}

/**
 * A regular file opened for reading, never blocking on a FIFO: for readers that take only part
 * of it (the tail of a log). The caller closes the handle. Throws a FileReadError.
 */
export async function openRegularFile(path: string): Promise<{ handle: FileHandle; size: number }> {
  const stats = regular(path, await stat(path).catch(failedOpen(path)))
  const handle = await open(path, OPEN_FLAGS).catch(failedOpen(path))
  const opened = await handle.stat().catch(async (error: unknown) => {
    await handle.close()
    return failedOpen(path)(error)
  })
  const swapped = checkOpened(path, stats, opened)
  if (swapped) {
    await handle.close()
    throw swapped
  }
  return { handle, size: opened.size }
}

/** readRegularFileSync without blocking the event loop. */
export async function readRegularFile(path: string, maxBytes: number, what: string): Promise<Buffer> {
  const { handle } = await openRegularFile(path)
  try {
    const bounded = new BoundedRead(maxBytes, () => tooLarge(path, what, maxBytes))
    for (let chunk = bounded.next(); bounded.took(chunk, (await handle.read(chunk, 0, chunk.length, null)).bytesRead); chunk = bounded.next());
    return bounded.contents()
  } finally {
    await handle.close()
  }
}
