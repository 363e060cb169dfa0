import { open, rename, mkdir, unlink } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'

/**
 * Writes a whole file or nothing: a reader (node_exporter, a dashboard) sees the old content
 * or the new, never half of it. The data is fsynced before the rename.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
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
  await mkdir(dirname(path), { recursive: true })
  const handle = await open(path, 'a', mode)
  try {
    await handle.write(lines.map((l) => `${l}\n`).join(''))
  } finally {
    await handle.close()
  }
}
