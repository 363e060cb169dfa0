import { describeError } from '../errors.js'
import { parseWalKey, walNamePrefix, type WalKey } from '../repositories/layout.js'
import type { Repository } from '../repositories/repository.js'

/**
 * What `wal push` and `wal fetch` share: the names PostgreSQL hands them, and the copies of one
 * WAL file in a repository (design-14 §2.1: wal/<archiveId>/<TL+log>/<name>-<sha256>.<ext>).
 */

/** %p's and %f's file name: a segment, a .partial, a .backup, or a .history (any segment size). */
const WAL_FILE_NAME = /^(?:[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/
const SEGMENT_SHAPE = /^[0-9A-F]{24}(?:\.partial)?$/

export function isWalFileName(name: string): boolean {
  return WAL_FILE_NAME.test(name)
}

/** A segment or a .partial: files that start with a segment header. */
export function hasSegmentHeader(name: string): boolean {
  return SEGMENT_SHAPE.test(name)
}

export interface Copy extends WalKey {
  key: string
  bytes: number
}

/** Every copy of `name` in one archive of the repository (normally one; two only after a conflict). */
export async function copiesOf(repository: Repository, archiveId: string, name: string, signal: AbortSignal): Promise<Copy[]> {
  const copies: Copy[] = []
  for await (const object of repository.list(walNamePrefix(archiveId, name), { signal })) {
    const parsed = parseWalKey(object.key)
    if (parsed?.name === name) copies.push({ ...parsed, key: object.key, bytes: object.bytes })
  }
  return copies
}

/** One line, without a trailing period, for stderr (PostgreSQL's log) and the maintenance log. */
export function oneLine(error: unknown): string {
  return describeError(error).replace(/\s+/g, ' ').trim()
}
