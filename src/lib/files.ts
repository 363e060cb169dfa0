import { mkdirSync, statSync } from 'node:fs'
import { open, rename, mkdir, stat, unlink } from 'node:fs/promises'
import { dirname, basename, join, resolve } from 'node:path'

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
 * Writes a whole file or nothing: a reader (node_exporter, a dashboard) sees the old content
 * or the new, never half of it. The data is fsynced before the rename.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  await makeDirectories(dirname(path))
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  const handle = await open(temporary, 'w', mode)
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

/** Appends lines in one write, so concurrent writers' lines do not interleave mid-line. */
export async function appendLines(path: string, lines: string[], mode = 0o640): Promise<void> {
  if (lines.length === 0) return
  await makeDirectories(dirname(path))
  const handle = await open(path, 'a', mode)
  try {
    await handle.write(lines.map((l) => `${l}\n`).join(''))
  } finally {
    await handle.close()
  }
}
