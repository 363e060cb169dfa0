import { StepFailure, describeError } from '../errors.js'

/**
 * A disk that fails under a backup's write (full, over quota, read-only, broken), said as such:
 * whatever writes the data (a repository, pg_dump writing a directory itself), the step fails
 * with the disk named and what to do, and nothing of the backup is kept.
 */

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
