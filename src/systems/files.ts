import { lstat, readdir, realpath, unlink, readFile } from 'node:fs/promises'
import { join, relative, isAbsolute, sep } from 'node:path'
import type { FileReadError } from '../lib/regular-file.js'
import { SystemError, type SystemErrorCode } from './errors.js'
import { forEachOpenDescriptor } from './proc-fds.js'

/** Old files under a directory, found without following symlinks, for cleanup steps. */

/** What an errno from a file operation says, in the words of SystemErrorCode. */
export function fileErrorCode(errno: string | undefined): SystemErrorCode {
  if (errno === 'EACCES' || errno === 'EPERM') return 'permission'
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return 'not-found'
  return 'failed'
}

/** What a FileReadError says: a path that is not there, may not be read, or is no file of the kind a setting names. */
export function fileReadErrorCode(code: FileReadError['code']): SystemErrorCode {
  switch (code) {
    case 'missing':
      return 'not-found'
    case 'unreadable':
      return 'permission'
    case 'not-a-file':
    case 'too-large':
      return 'bad-setting'
  }
}

/** A file operation's error as a SystemError of files, its message unchanged. */
function fileFailure(error: unknown, path: string): SystemError {
  const errno = (error as NodeJS.ErrnoException).code
  return new SystemError('files', fileErrorCode(errno), error instanceof Error ? error.message : String(error), { cause: error, target: path })
}

export interface FileRule {
  path: string
  pattern: string
  olderThanDays: number
}

export interface Candidate {
  path: string
  bytes: number
  modifiedAt: Date
}

/** A shell-style glob on a file name: `*` any run of characters, `?` one character. */
export function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`)
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel)
}

/**
 * Regular files under `rule.path` whose name matches and whose mtime is older than the rule's
 * age. Symlinks (to files or directories) are never followed, and nothing outside the
 * directory's real path is ever returned. A missing directory yields nothing.
 */
export async function findOldFiles(rule: FileRule, now = Date.now()): Promise<{ root: string; files: Candidate[]; missing: boolean }> {
  let root: string
  try {
    root = await realpath(rule.path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { root: rule.path, files: [], missing: true }
    throw fileFailure(error, rule.path)
  }
  const cutoff = now - rule.olderThanDays * 86_400_000
  const name = globToRegExp(rule.pattern)
  const files: Candidate[] = []
  const walk = async (dir: string): Promise<void> => {
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      // A directory we may not read (another user's in /tmp) is not ours to clean.
      if (['EACCES', 'EPERM', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '')) return
      throw fileFailure(error, dir)
    }
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (entry.isSymbolicLink()) continue
      if (entry.isDirectory()) {
        await walk(path)
        continue
      }
      if (!entry.isFile() || !name.test(entry.name)) continue
      const info = await lstat(path).catch(() => undefined)
      if (!info?.isFile() || info.mtimeMs >= cutoff || !inside(root, path)) continue
      files.push({ path, bytes: info.size, modifiedAt: info.mtime })
    }
  }
  await walk(root)
  return { root, files, missing: false }
}

const O_ACCMODE = 0o3

/**
 * The files that some process has open for writing, from /proc/PID/fd and fdinfo flags.
 * Deleting such a file frees no space (the writer holds it) and loses what it writes next.
 */
export async function filesOpenForWriting(candidates: Set<string>): Promise<Set<string>> {
  const open = new Set<string>()
  if (candidates.size === 0) return open
  await forEachOpenDescriptor(async ({ pid, fd, target }) => {
    if (!candidates.has(target)) return
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '')
    const flags = /^flags:\s+([0-7]+)/m.exec(info)
    if (flags && (Number.parseInt(flags[1]!, 8) & O_ACCMODE) !== 0) open.add(target)
  })
  return open
}

export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw fileFailure(error, path)
  }
}
