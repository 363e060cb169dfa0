import { readFile, rm } from 'node:fs/promises'
import { StepFailure } from '../errors.js'
import { writeFileAtomic } from './files.js'
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

export async function writeRunNote<T extends object>(path: string, body: T): Promise<void> {
  const note: T & RunNote = { ...body, startedAt: new Date().toISOString(), pid: process.pid, processStart: processStart(process.pid) }
  await writeFileAtomic(path, `${JSON.stringify(note, null, 2)}\n`, 0o600)
}

export async function removeRunNote(path: string): Promise<void> {
  await rm(path, { force: true })
}

/** The note at `path` if its writer is gone; undefined when there is none or its run goes on. */
export async function abandonedRunNote<T extends object>(path: string): Promise<(T & RunNote) | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  let note: T & RunNote
  try {
    note = JSON.parse(text) as T & RunNote
  } catch {
    throw new StepFailure(`${path} is not readable JSON`, 'an interrupted restore left it: check the services and data directories it concerns by hand, then remove it')
  }
  return isProcessAlive(note.pid, note.processStart) ? undefined : note
}
