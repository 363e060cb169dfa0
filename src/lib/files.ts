import { constants, mkdirSync, statSync, type Stats } from 'node:fs'
import { lstat, open, rename, mkdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, basename, join, resolve } from 'node:path'
import { HintedError } from '../errors.js'
import { processStart } from './process.js'
import { sleep } from './time.js'

type Found = { isDirectory(): boolean } | undefined

const notFound = (error: NodeJS.ErrnoException): undefined => {
  if (error.code === 'ENOENT') return undefined
  throw error
}

/** Whether a level exists; something there that is not a directory is an error, as mkdir -p says. */
function isDirectory(path: string, found: Found): boolean {
  if (found && !found.isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR', path })
  return found !== undefined
}

const alreadyThere = (error: NodeJS.ErrnoException): void => {
  if (error.code !== 'EEXIST') throw error
}

/**
 * `mkdir -p` that fails with the reason instead of hanging: Node's recursive mkdir never returns
 * for a path under /proc (each mkdir answers ENOENT and it retries the parent forever), so the
 * missing levels are found first and made one at a time, each with `mode`.
 */
export async function makeDirectories(path: string, mode = 0o755): Promise<void> {
  const missing: string[] = []
  for (let level = resolve(path); ; level = dirname(level)) {
    if (isDirectory(level, await stat(level).catch(notFound))) break
    missing.unshift(level)
    if (dirname(level) === level) break
  }
  for (const level of missing) await mkdir(level, { mode }).catch(alreadyThere)
}

/** makeDirectories for the few places that must stay synchronous. */
export function makeDirectoriesSync(path: string, mode = 0o755): void {
  const missing: string[] = []
  for (let level = resolve(path); ; level = dirname(level)) {
    let found: Found
    try {
      found = statSync(level)
    } catch (error) {
      found = notFound(error as NodeJS.ErrnoException)
    }
    if (isDirectory(level, found)) break
    missing.unshift(level)
    if (dirname(level) === level) break
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode })
    } catch (error) {
      alreadyThere(error as NodeJS.ErrnoException)
    }
  }
}

/**
 * The one rule for every file probe-ops writes (the contract's "Running as root"): a new path or
 * a regular file is replaced atomically (temporary file, fsync, rename); a character device or a
 * FIFO is written through, and only where the user named the path (--report-file /dev/null must
 * stay a device); anything else at the path (a symbolic link, a directory, a socket, a block
 * device, or a device or FIFO inside probe-ops' own directories) is refused, never replaced by
 * the rename. Only the last component is looked at: the directories above are the user's.
 */
export class UnsafeTargetError extends HintedError {
  readonly code = 'EUNSAFETARGET'
}

/** What sits at a path, in the words of an error message: "a symbolic link". */
export function kindOf(info: Stats): string {
  if (info.isSymbolicLink()) return 'a symbolic link'
  if (info.isDirectory()) return 'a directory'
  if (info.isCharacterDevice()) return 'a character device'
  if (info.isBlockDevice()) return 'a block device'
  if (info.isFIFO()) return 'a FIFO'
  if (info.isSocket()) return 'a socket'
  return 'a regular file'
}

type Target = 'replace' | 'write-through'

/** How a write may treat what sits at `path`, or the reason it may not write there at all. */
function writeTargetOf(path: string, found: Stats | undefined, named: boolean): Target {
  if (!found || found.isFile()) return 'replace'
  if (named && (found.isCharacterDevice() || found.isFIFO())) return 'write-through'
  const what = kindOf(found)
  if (found.isSymbolicLink())
    throw new UnsafeTargetError(`${path} is ${what}: probe-ops does not write through links`, 'name the file the link points to, or remove the link')
  if (found.isDirectory()) throw new UnsafeTargetError(`${path} is ${what}`, 'name a file (inside it, for example)')
  if (named) throw new UnsafeTargetError(`${path} is ${what}: probe-ops writes a regular file, a character device or a FIFO`, 'name a regular file')
  throw new UnsafeTargetError(
    `${path} is ${what}, not a file probe-ops wrote: it is left alone`,
    'remove it (probe-ops writes a regular file there), or configure another path',
  )
}

async function lstatIfAny(path: string): Promise<Stats | undefined> {
  return lstat(path).catch(notFound)
}

/**
 * The check of a path the user names (--report-file), before anything runs: it throws an
 * UnsafeTargetError for what the report could not be written to without harm.
 */
export async function checkNamedTarget(path: string): Promise<void> {
  writeTargetOf(path, await lstatIfAny(path), true)
}

/**
 * Writes a whole file or nothing, to a path inside probe-ops' own directories (metrics, history,
 * manifests, notes): a reader (node_exporter, a dashboard) sees the old content or the new,
 * never half of it. The data is fsynced before the rename. Anything but a regular file at the
 * path is refused (see UnsafeTargetError).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  writeTargetOf(path, await lstatIfAny(path), false)
  await replaceFile(path, data, mode)
}

/**
 * Writes a file the user named (--report-file): atomically like writeFileAtomic onto a regular
 * file or a new path, written through onto a character device or a FIFO (a FIFO without a
 * reader fails at once instead of hanging); a link or a directory is refused.
 */
export async function writeNamedFile(path: string, data: string, mode = 0o644): Promise<void> {
  if (writeTargetOf(path, await lstatIfAny(path), true) === 'write-through') await writeThrough(path, data)
  else await replaceFile(path, data, mode)
}

async function replaceFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  await makeDirectories(dirname(path))
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  // 'wx': the temporary name is guessable, and what another user put there is never followed.
  const handle = await open(temporary, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (error) {
    await handle.close()
    await unlink(temporary).catch(() => undefined)
    throw error
  }
  await handle.close()
  try {
    await rename(temporary, path)
  } catch (error) {
    await unlink(temporary).catch(() => undefined)
    throw error
  }
}

/** A reader that takes nothing for this long has stopped reading: the write is given up. */
const STALLED_READER_MS = 10_000

/**
 * Writes into a character device or FIFO without creating or truncating anything. The FIFO is
 * opened non-blocking: with no reader the open fails at once (ENXIO) rather than waiting forever.
 */
async function writeThrough(path: string, data: string): Promise<void> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO')
      throw new UnsafeTargetError(`${path} is a FIFO with no reader`, 'start its reader first, or name a regular file')
    throw error
  }
  try {
    const info = await handle.stat()
    // Replaced between the look and the open: never write into the middle of a regular file.
    if (!info.isCharacterDevice() && !info.isFIFO())
      throw new UnsafeTargetError(`${path} changed while it was being opened (now ${kindOf(info)})`, 'run the command again')
    await writeAll(handle, Buffer.from(data), path)
  } finally {
    await handle.close()
  }
}

/** Every byte, through a non-blocking descriptor: a full pipe (EAGAIN) is waited on, within a bound. */
async function writeAll(handle: FileHandle, buffer: Buffer, path: string): Promise<void> {
  let offset = 0
  let stalledSince: number | undefined
  while (offset < buffer.length) {
    try {
      const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, null)
      offset += bytesWritten
      stalledSince = undefined
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      stalledSince ??= Date.now()
      if (Date.now() - stalledSince > STALLED_READER_MS) throw new UnsafeTargetError(`the reader of ${path} stopped reading`, 'check what reads it')
      await sleep(10)
    }
  }
}

/**
 * Appends lines in one write, so concurrent writers' lines do not interleave mid-line. Only to a
 * regular file (or a new one): the log is never followed through a link (O_NOFOLLOW) nor
 * appended to a device or FIFO found at its path, and opening never waits for a FIFO's reader.
 */
export async function appendLines(path: string, lines: string[], mode = 0o640): Promise<void> {
  if (lines.length === 0) return
  writeTargetOf(path, await lstatIfAny(path), false)
  await makeDirectories(dirname(path))
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode)
  } catch (error) {
    // Put there between the look and the open.
    if (['ELOOP', 'ENXIO', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) writeTargetOf(path, await lstatIfAny(path), false)
    throw error
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) writeTargetOf(path, info, false)
    await handle.write(lines.map((l) => `${l}\n`).join(''))
  } finally {
    await handle.close()
  }
}

/**
 * Reads a small file of probe-ops' own (a manifest, a run note) as it is: never through a link
 * (O_NOFOLLOW), never waiting on a FIFO, never more than `maxBytes`. Throws what was wrong.
 */
export async function readOwnFile(path: string, maxBytes: number): Promise<string> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw Object.assign(new Error(`${path} is a symbolic link`), { code: 'ELOOP' })
    throw error
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new Error(`${path} is ${kindOf(info)}`)
    if (info.size > maxBytes) throw new Error(`${path} holds ${info.size} bytes, more than such a file ever does (${maxBytes})`)
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}

/** The prefix of what a writer holds half-written: a name no backup, manifest or WAL file has. */
export const TEMP_PREFIX = '.partial-'

/** A half-written file's name in `dir`: its writer's pid and start time say whose it is, and whether it still runs. */
export function temporaryPath(dir: string, name: string): string {
  return join(dir, `${TEMP_PREFIX}${process.pid}.${processStart(process.pid) ?? 0}-${name}`)
}

/** fsync a file or directory, so a rename after it survives a crash. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
