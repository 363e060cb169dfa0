import { constants, type Dirent } from 'node:fs'
import { lstat, mkdir, open, readdir, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describeError } from '../errors.js'
import { kindOf, makeDirectories, syncPath, temporaryPath } from '../lib/files.js'
import { SystemError, type SystemErrorCode } from '../systems/errors.js'
import { Digests, digestStream, sha256Of } from './checksums.js'
import { WAL_DIRECTORY, isHostState, keyProblem } from './layout.js'
import type { PutOptions, Removed, Repository, StoredObject, TopLevel, Written } from './repository.js'

export interface LocalRepositoryConfig {
  name: string
  path: string
  /** Where this repository's wal/ lives, when not under `path` (today's backup.walDir). */
  walPath?: string
}

/** Files only root (and, for wal/, the postgres user that wal push runs as) may read. */
const FILE_MODE = 0o600
const DIRECTORY_MODE = 0o700

function fileError(error: unknown, what: string, target: string): SystemError {
  if (error instanceof SystemError) return error
  const errno = (error as NodeJS.ErrnoException).code
  const codes: Record<string, SystemErrorCode> = { ENOENT: 'not-found', EACCES: 'permission', EPERM: 'permission', ABORT_ERR: 'cancelled' }
  return new SystemError('files', (errno === undefined ? undefined : codes[errno]) ?? 'failed', `cannot ${what} ${target}: ${describeError(error)}`, {
    cause: error,
    target,
  })
}

function refusal(path: string, found: string): SystemError {
  return new SystemError('files', 'failed', `${path} is ${found}, not a file or directory probe-ops wrote: left alone`, { target: path })
}

/**
 * A repository in a local directory. Data is streamed to a temporary name beside its key,
 * fsynced, renamed into place (never over an existing file) and the directory fsynced; then it is
 * read back and re-hashed. No level below the repository's root is ever followed through a link,
 * so a key always names a file inside it; the root itself is the user's.
 */
export class LocalRepository implements Repository {
  readonly kind = 'local' as const
  readonly name: string
  readonly where: string
  readonly #root: string
  readonly #walRoot: string

  constructor(config: LocalRepositoryConfig) {
    this.name = config.name
    this.#root = config.path
    this.#walRoot = config.walPath ?? join(config.path, WAL_DIRECTORY)
    this.where = `local ${config.path}`
  }

  /** The base directory that holds `key` and the key's parts below it. */
  #locate(key: string): { base: string; parts: string[] } {
    const problem = keyProblem(key)
    if (problem) throw new SystemError('files', 'failed', `not a repository key: ${problem}`, { target: this.where })
    const parts = key.split('/')
    return parts[0] === WAL_DIRECTORY && parts.length > 1 ? { base: this.#walRoot, parts: parts.slice(1) } : { base: this.#root, parts }
  }

  /**
   * The path of `key`, each directory level on the way checked to be a real directory (created,
   * private, when `create`); undefined when a level is missing and not to be created.
   */
  async #pathOf(key: string, create: boolean): Promise<string | undefined> {
    const { base, parts } = this.#locate(key)
    if (create) await makeDirectories(base, DIRECTORY_MODE)
    let current = base
    for (const part of parts.slice(0, -1)) {
      current = join(current, part)
      const found = await lstat(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined
        throw fileError(error, 'look at', current)
      })
      if (!found) {
        if (!create) return undefined
        await mkdir(current, { mode: DIRECTORY_MODE }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw fileError(error, 'create', current)
        })
        // Made by someone else between the look and the mkdir: looked at again below.
        if (!(await lstat(current)).isDirectory()) throw refusal(current, 'not a directory')
        continue
      }
      if (!found.isDirectory()) throw refusal(current, kindOf(found))
    }
    return join(current, parts.at(-1)!)
  }

  /** Opens a regular file for reading, never through a link nor waiting on a FIFO. */
  async #openFile(key: string): Promise<{ path: string; handle: FileHandle } | undefined> {
    const path = await this.#pathOf(key, false)
    if (path === undefined) return undefined
    let handle: FileHandle
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException).code
      if (errno === 'ENOENT') return undefined
      if (errno === 'ELOOP') throw refusal(path, 'a symbolic link')
      throw fileError(error, 'open', path)
    }
    const info = await handle.stat()
    if (!info.isFile()) {
      await handle.close()
      throw refusal(path, kindOf(info))
    }
    return { path, handle }
  }

  async put(key: string, source: Readable, options: PutOptions): Promise<Written> {
    const path = await this.#pathOf(key, true)
    const temporary = temporaryPath(dirname(path!), key.split('/').at(-1)!)
    const digests = new Digests()
    let created = false
    try {
      // 'wx': a temporary name is guessable, and what someone else put there is never followed.
      const handle = await open(temporary, 'wx', FILE_MODE)
      created = true
      // flush: fsync before the stream closes its file; the rename comes after.
      await pipeline(source, digests, handle.createWriteStream({ flush: true }), { signal: options.signal })
      await this.#commit(temporary, path!)
    } catch (error) {
      source.destroy()
      // Only our own temporary goes: what already sat at its name is not ours to remove.
      if (created) await unlink(temporary).catch(() => undefined)
      throw fileError(error, 'write', path!)
    }
    const { bytes, sha256 } = digests.result()
    await this.#readBack(key, path!, { bytes, sha256 }, options.signal)
    return { key, bytes, sha256, readBack: 'reread' }
  }

  /** Renames finished data into place, never over what is there: a backup is never replaced. */
  async #commit(temporary: string, path: string, replace = false): Promise<void> {
    const existing = await lstat(path).catch(() => undefined)
    if (existing && !(replace && existing.isFile()))
      throw new SystemError('files', 'failed', `${path} already exists (${kindOf(existing)}): it is not replaced`, { target: path })
    await rename(temporary, path)
    await syncPath(dirname(path))
  }

  async #readBack(key: string, path: string, expected: { bytes: number; sha256: string }, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    const opened = await this.#openFile(key)
    if (!opened) throw new SystemError('files', 'not-found', `${path} vanished right after it was written`, { target: path })
    // The stream closes the file when it ends or fails.
    const stored = await digestStream(opened.handle.createReadStream({ signal }))
    if (stored.bytes !== expected.bytes || stored.sha256 !== expected.sha256)
      throw new SystemError(
        'files',
        'bad-answer',
        `${path} reads back ${stored.bytes} bytes with sha256 ${stored.sha256.slice(0, 12)}…, not the ${expected.bytes} bytes written (${expected.sha256.slice(0, 12)}…)`,
        { target: path },
      )
  }

  async putBytes(key: string, body: Buffer, options: { signal: AbortSignal; ifAbsent?: boolean }): Promise<Written> {
    const path = await this.#pathOf(key, true)
    const temporary = temporaryPath(dirname(path!), key.split('/').at(-1)!)
    let created = false
    try {
      const handle = await open(temporary, 'wx', FILE_MODE)
      created = true
      try {
        await handle.writeFile(body, { signal: options.signal })
        await handle.sync()
      } finally {
        await handle.close()
      }
      // A manifest's verifications rewrite it: a regular file is replaced unless told otherwise.
      await this.#commit(temporary, path!, options.ifAbsent !== true)
    } catch (error) {
      if (created) await unlink(temporary).catch(() => undefined)
      throw fileError(error, 'write', path!)
    }
    const expected = { bytes: body.length, sha256: sha256Of(body) }
    await this.#readBack(key, path!, expected, options.signal)
    return { key, ...expected, readBack: 'reread' }
  }

  async get(key: string, options: { signal: AbortSignal }): Promise<Readable> {
    const opened = await this.#openFile(key)
    if (!opened) throw new SystemError('files', 'not-found', `${key} is not in ${this.where}`, { target: this.where })
    return opened.handle.createReadStream({ signal: options.signal })
  }

  async head(key: string, _options: { signal: AbortSignal }): Promise<StoredObject | undefined> {
    const path = await this.#pathOf(key, false)
    if (path === undefined) return undefined
    const found = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw fileError(error, 'look at', path)
    })
    if (!found) return undefined
    if (!found.isFile()) throw refusal(path, kindOf(found))
    return { key, bytes: found.size, modifiedAt: found.mtime }
  }

  async *list(prefix: string, options: { signal: AbortSignal }): AsyncIterable<StoredObject> {
    yield* (await this.#scan(prefix, options.signal, false)).objects
  }

  async listTop(prefix: string, options: { signal: AbortSignal }): Promise<TopLevel> {
    return this.#scan(prefix, options.signal, true)
  }

  /** The files under `prefix`, in key order; with `oneLevel`, the folders right under it are named, not read. */
  async #scan(prefix: string, signal: AbortSignal, oneLevel: boolean): Promise<TopLevel> {
    const found: TopLevel = { objects: [], folders: [] }
    const walRoot = this.#walRoot
    const separateWal = walRoot !== join(this.#root, WAL_DIRECTORY)
    const walk = async (directory: string, keyPrefix: string, top: boolean): Promise<void> => {
      signal.throwIfAborted()
      let entries: Dirent[]
      try {
        entries = await readdir(directory, { withFileTypes: true })
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && top) return
        throw fileError(error, 'read', directory)
      }
      for (const entry of entries) {
        // Dotfiles (temporaries, run notes) and recovered data directories are the host's, never keys.
        if (entry.name.startsWith('.') || (top && keyPrefix === '' && isHostState(entry.name))) continue
        if (top && keyPrefix === '' && separateWal && entry.name === WAL_DIRECTORY) continue
        const key = `${keyPrefix}${entry.name}`
        // Only what could lead to a key under `prefix` is walked.
        if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue
        const path = join(directory, entry.name)
        if (entry.isDirectory()) {
          if (oneLevel && key.startsWith(prefix)) found.folders.push(`${key}/`)
          else await walk(path, `${key}/`, false)
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const info = await lstat(path).catch(() => undefined)
          if (info?.isFile()) found.objects.push({ key, bytes: info.size, modifiedAt: info.mtime })
        }
      }
    }
    // A prefix with a directory in it is walked from that directory: wal push and wal fetch run as
    // PostgreSQL's user, who may enter backup.dir (0710) but not read it.
    const slash = prefix.lastIndexOf('/')
    const folder = slash > 0 && keyProblem(`${prefix.slice(0, slash)}/x`) === undefined ? prefix.slice(0, slash) : undefined
    if (folder !== undefined) {
      // Undefined when a directory on the way is missing: nothing is under the prefix.
      const start = await this.#pathOf(`${folder}/x`, false)
      if (start !== undefined) await walk(dirname(start), `${folder}/`, true)
    } else {
      await walk(this.#root, '', true)
      if (separateWal && oneLevel && prefix === '') {
        if (
          await lstat(walRoot).then(
            (info) => info.isDirectory(),
            () => false,
          )
        )
          found.folders.push(`${WAL_DIRECTORY}/`)
      } else if (separateWal) await walk(walRoot, `${WAL_DIRECTORY}/`, true)
    }
    const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
    found.objects.sort((a, b) => byKey(a.key, b.key))
    found.folders.sort(byKey)
    return found
  }

  async remove(keys: readonly string[], options: { signal: AbortSignal }): Promise<Removed> {
    const result: Removed = { removed: [], failed: [] }
    for (const key of keys) {
      options.signal.throwIfAborted()
      try {
        const path = await this.#pathOf(key, false)
        if (path !== undefined) await this.#removeFile(key, path)
        result.removed.push(key)
      } catch (error) {
        result.failed.push({ key, error: describeError(error) })
      }
    }
    return result
  }

  /** Removes a regular file and then its directories up to the key's base while they are empty. */
  async #removeFile(key: string, path: string): Promise<void> {
    const found = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw fileError(error, 'look at', path)
    })
    if (!found) return
    if (!found.isFile()) throw refusal(path, kindOf(found))
    await unlink(path).catch((error: unknown) => {
      throw fileError(error, 'remove', path)
    })
    const { base } = this.#locate(key)
    for (let directory = dirname(path); directory !== base && directory.startsWith(`${base}/`); directory = dirname(directory)) {
      // ENOTEMPTY ends the climb: the directory holds other keys.
      if (
        !(await rmdir(directory).then(
          () => true,
          () => false,
        ))
      )
        break
    }
  }
}
