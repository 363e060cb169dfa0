import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { StepFailure, describeError } from '../errors.js'
import { Checksum, commitBackup, syncPath, temporaryPath, type BackupManifest, type StoredBackup } from './store.js'

/**
 * How every backup's data reaches the disk, whatever produces it (pg_dump, tar, pg_basebackup):
 * under a temporary name, renamed into place with its manifest only once whole. Whatever fails,
 * whenever it fails (the producer, a full disk, an abort, the manifest), what was written goes,
 * and the failure is the step's, said in words.
 */
export async function writeBackup(
  dir: string,
  dataName: string,
  write: (temporary: string) => Promise<BackupManifest>,
  signal?: AbortSignal,
): Promise<StoredBackup> {
  const temporary = temporaryPath(dir, dataName)
  try {
    const manifest = await write(temporary)
    // Told to stop after its producer had finished, the step has been reported as cut short: a
    // backup that appears afterwards would contradict the report.
    signal?.throwIfAborted()
    await commitBackup(dir, temporary, manifest)
    return { manifest, path: join(dir, dataName) }
  } catch (error) {
    // A half-written dump may be gigabytes on a disk that is already full. One that cannot be
    // removed either has a dead writer's name: backup list reports it, restore --cleanup removes it.
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined)
    throw diskFailure(error, dir) ?? error
  }
}

/**
 * Runs `produce` with a sink whose bytes are checksummed on their way into a new private file at
 * `path`, then fsyncs the file. The disk failing stops the producer at once (through the signal it
 * is given), and the producer failing ends the writing: each side's failure is observed from the
 * start, so neither can reject unseen while the other is awaited, and the first one is what is
 * thrown. The file is left for the caller (writeBackup) to remove.
 */
export async function streamIntoFile(
  path: string,
  produce: (sink: Writable, signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): Promise<{ sha256: string; bytes: number }> {
  const stop = new AbortController()
  let failure: { error: unknown } | undefined
  const fail = (error: unknown): void => {
    failure ??= { error }
    stop.abort(error)
  }
  const checksum = new Checksum()
  const writing = pipeline(checksum, createWriteStream(path, { flags: 'wx', mode: 0o600 })).catch(fail)
  await produce(checksum, signal ? AbortSignal.any([signal, stop.signal]) : stop.signal).catch(fail)
  if (failure) checksum.destroy()
  else checksum.end()
  await writing
  if (failure) throw failure.error
  await syncPath(path)
  return { sha256: checksum.digest(), bytes: checksum.bytes }
}

/** What the disk said, by errno or in a program's own words (pg_dump and pg_basebackup write their files themselves). */
const DISK_PROBLEMS: { code: string; said: RegExp; what: string }[] = [
  { code: 'ENOSPC', said: /no space left on device/i, what: 'is full (no space left on device)' },
  { code: 'EDQUOT', said: /disk quota exceeded/i, what: 'is over its quota (disk quota exceeded)' },
  { code: 'EROFS', said: /read-only file system/i, what: 'is read-only (read-only file system)' },
  { code: 'EIO', said: /input\/output error/i, what: 'failed under the write (input/output error)' },
]

/** A failure of the backup directory's disk, said as such; undefined for any other failure. */
export function diskFailure(error: unknown, dir: string): StepFailure | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const message = describeError(error)
  const problem = DISK_PROBLEMS.find((p) => p.code === code || p.said.test(message))
  if (!problem) return undefined
  return new StepFailure(
    `the disk of ${dir} ${problem.what}: the backup could not be written, and nothing of it was kept`,
    problem.code === 'ENOSPC' || problem.code === 'EDQUOT'
      ? 'free space there (probe-ops backup prune removes old backups), or point backup.dir at a bigger disk'
      : `check the disk of ${dir}, or point backup.dir at another`,
    { cause: message },
  )
}
