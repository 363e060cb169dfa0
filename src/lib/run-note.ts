import { open, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { OperationFailure, describeError } from '../errors.js'
import { z } from 'zod'
import { readOwnFile, writeFileAtomic } from './files.js'
import { isProcessAlive, processStart } from './process.js'

/**
 * A note a run leaves before a step that a kill must not leave half done (services stopped, data
 * directories being renamed), and removes once it is whole again. A note whose writer is gone is
 * what `backup list` reports and `restore --cleanup` acts on.
 */
export interface RunNote {
  startedAt: string
  pid: number
  processStart?: string
}

/**
 * Creates the note, never over another one: two restores must not both think they own the
 * platform's state, and an earlier run's note is what its cleanup needs.
 */
/** The body signed by this process. */
function signed<T extends object>(body: T): T & RunNote {
  return { ...body, startedAt: new Date().toISOString(), pid: process.pid, processStart: processStart(process.pid) }
}

export async function writeRunNote<T extends object>(path: string, body: T, refuse: (existing: string) => Error): Promise<void> {
  const note = signed(body)
  let handle
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refuse(path)
    throw error
  }
  try {
    await handle.writeFile(`${JSON.stringify(note, null, 2)}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  // The note must outlive a power cut as well as a kill.
  const directory = await open(dirname(path), 'r')
  await directory.sync().finally(() => directory.close())
}

/** Rewrites the note this run wrote (a later phase of the same step). */
export async function updateRunNote<T extends object>(path: string, body: T): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(signed(body), null, 2)}\n`, 0o600)
}

export async function removeRunNote(path: string): Promise<void> {
  await rm(path, { force: true })
}

/** Notes are a few lines: a bigger file is not one. */
const MAX_NOTE_BYTES = 1024 * 1024

/** The fields every note has: who wrote it, and when; a note's own schema extends it. */
export const runNoteSchema = z.object({
  startedAt: z.string(),
  pid: z.number().int().positive(),
  processStart: z.string().optional(),
})

/**
 * The note at `path` if its writer is gone; undefined when there is none or its run goes on. A
 * note is input like any file: one that is not whole and of `schema` (a forged or damaged one)
 * is refused as foreign, and nothing it names is acted on.
 */
export async function abandonedRunNote<Note extends RunNote>(path: string, schema: z.ZodType<Note, z.ZodTypeDef, unknown>): Promise<Note | undefined> {
  let text: string
  try {
    text = await readOwnFile(path, MAX_NOTE_BYTES)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if ((error as NodeJS.ErrnoException).code === 'EACCES')
      throw new OperationFailure(
        `cannot read ${path}: ${describeError(error)}`,
        'an interrupted restore left it: run this as the user that runs restores (root)',
      )
    throw foreign(path, describeError(error))
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw foreign(path, 'not JSON')
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success)
    throw foreign(
      path,
      parsed.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join('.') || 'the file'}: ${issue.message}`)
        .join('; '),
    )
  const note = parsed.data
  return isProcessAlive(note.pid, note.processStart) ? undefined : note
}

/** A note probe-ops did not write as it stands: never acted on. */
export function foreign(path: string, why: string): OperationFailure {
  return new OperationFailure(
    `${path} is not a note probe-ops wrote (${why})`,
    'an interrupted restore may have left it: check the services and data directories it names by hand, then remove it',
  )
}
