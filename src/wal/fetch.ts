import { createHash } from 'node:crypto'
import { basename, dirname } from 'node:path'
import { syncPath, writeFileAtomic } from '../lib/files.js'
import { readRepositoryFile } from '../repositories/cluster.js'
import { REPOSITORY_FILE, WAL_DIRECTORY, parseWalKey, walNamePrefix } from '../repositories/layout.js'
import { readSmall, type Repository } from '../repositories/repository.js'
import { copiesOf, hasSegmentHeader, isWalFileName, oneLine, type Copy } from './archive.js'
import { decodeWal } from './codec.js'
import type { AgeRunner } from '../systems/age.js'

/**
 * `wal fetch <name> <path>`, PostgreSQL's restore_command (design-14 §4.2): the first repository,
 * in configuration order, with a good copy gives the file; its sha256 (in the key) is checked
 * after decryption and decompression, and it is written beside %p and renamed onto it. "Not in
 * the archive" is said only when every repository answered and none has it, because PostgreSQL
 * ends recovery there; anything else (a repository that did not answer, only damaged copies,
 * the wrong identity) must stop recovery instead (exit 128, see ./main.ts).
 */

export interface FetchOptions {
  /** %f */
  name: string
  /** %p: relative to the data directory. */
  path: string
  repositories: readonly Repository[]
  identityFile?: string
  runner?: AgeRunner
  signal: AbortSignal
}

export type FetchResult =
  | { status: 'restored'; repository: string; key: string; bytes: number; skipped: string[] }
  /** Every repository answered, and none has it. */
  | { status: 'absent' }
  /** Neither found nor proved absent: one reason per repository. */
  | { status: 'unknown'; reasons: string[] }

/** A usage error of restore_command (a name that is not WAL's): PostgreSQL must stop, not end recovery. */
export class WalFetchRefusal extends Error {}

const MAX_STORED_BYTES = 1024 * 1024 * 1024 + 64 * 1024 * 1024
const MAX_PLAIN_BYTES = 1024 * 1024 * 1024

type Found = { plain: Buffer; key: string } | { damaged: string[] } | 'absent'

/** The file's copies in this repository, newest archive generation first; a damaged copy is noted and the next one tried. */
async function fromRepository(repository: Repository, options: FetchSource): Promise<Found> {
  const file = await readRepositoryFile(repository, options.signal)
  // "Not in the archive" ends recovery: only a repository that shows it holds this archive may say
  // so. An unmounted disk, a wrong bucket or prefix shows nothing at all, and must stop recovery.
  if (file === undefined && !(repository.kind === 'local' && (await holdsAnything(repository, `${WAL_DIRECTORY}/`, options.signal))))
    throw new Error(
      `${repository.where} holds no ${REPOSITORY_FILE} and no WAL: not an archive probe-ops prepared (an unmounted disk, a wrong bucket or prefix?); run backup wal-setup --apply there, or take it out of backup.repositories`,
    )
  const copies: Copy[] = []
  for (const cluster of [...(file?.clusters ?? [])].reverse()) {
    copies.push(...(await copiesOf(repository, cluster.archiveId, options.name, options.signal)))
    if (copies.length > 0) break
  }
  const damaged: string[] = []
  for (const copy of copies) {
    try {
      const stored = await readSmall(repository, copy.key, MAX_STORED_BYTES, options.signal)
      const plain = await decodeWal(stored, {
        compression: copy.compression,
        encrypted: copy.encrypted,
        ...(options.identityFile === undefined ? {} : { identityFile: options.identityFile }),
        ...(options.runner ? { runner: options.runner } : {}),
        signal: options.signal,
        what: `${copy.key} in ${repository.name}`,
        maxBytes: MAX_PLAIN_BYTES,
      })
      const sha256 = createHash('sha256').update(plain).digest('hex')
      if (sha256 === copy.sha256) return { plain, key: copy.key }
      damaged.push(`${copy.key}: sha256 mismatch (reads back ${sha256.slice(0, 12)}…)`)
    } catch (error) {
      if (options.signal.aborted) throw error
      damaged.push(oneLine(error))
    }
  }
  if (damaged.length > 0) return { damaged }
  // A plain copy today's `cp` archive_command left (wal/<name>): kept readable, with no checksum to hold it to.
  const legacy = `${WAL_DIRECTORY}/${options.name}`
  if (repository.kind === 'local' && (await repository.head(legacy, { signal: options.signal }))) {
    return { plain: await readSmall(repository, legacy, MAX_STORED_BYTES, options.signal), key: legacy }
  }
  return 'absent'
}

async function holdsAnything(repository: Repository, prefix: string, signal: AbortSignal): Promise<boolean> {
  for await (const _ of repository.list(prefix, { signal })) return true
  return false
}

/** What fetchOne reads: the repositories in order of preference, and how to decrypt. */
export type FetchSource = Omit<FetchOptions, 'path'>

/** One WAL file read back from the first repository with a good copy, not yet written anywhere. */
export type FetchedFile =
  { status: 'restored'; plain: Buffer; repository: string; key: string; skipped: string[] } | { status: 'absent' } | { status: 'unknown'; reasons: string[] }

/**
 * The one reading of a WAL file that `wal fetch` and the restore's spool (./spool.ts) share: the
 * first repository, in order, with a copy whose sha256 holds; "absent" only when every
 * repository answered and none has it.
 */
export async function fetchOne(source: FetchSource): Promise<FetchedFile> {
  if (!isWalFileName(source.name)) throw new WalFetchRefusal(`${source.name} is not a WAL file name`)
  const reasons: string[] = []
  const skipped: string[] = []
  for (const repository of source.repositories) {
    let found: Found
    try {
      found = await fromRepository(repository, source)
    } catch (error) {
      if (source.signal.aborted) {
        reasons.push(`${repository.name}: no answer within the bound`)
        break
      }
      reasons.push(`${repository.name}: ${oneLine(error)}`)
      continue
    }
    if (found === 'absent') {
      skipped.push(`${repository.name}: not there`)
      continue
    }
    if ('damaged' in found) {
      reasons.push(`${repository.name}: ${found.damaged.join('; ')}`)
      continue
    }
    return { status: 'restored', plain: found.plain, repository: repository.name, key: found.key, skipped: [...reasons, ...skipped] }
  }
  if (reasons.length === 0) return { status: 'absent' }
  return { status: 'unknown', reasons: [...reasons, ...skipped] }
}

export async function fetchWal(options: FetchOptions): Promise<FetchResult> {
  if (!isWalFileName(options.name)) throw new WalFetchRefusal(`${options.name} is not a WAL file name`)
  if (basename(options.path) === '' || options.path.endsWith('/')) throw new WalFetchRefusal(`${options.path} is not a file path`)
  const fetched = await fetchOne(options)
  if (fetched.status !== 'restored') return fetched
  // Beside %p and renamed onto it: PostgreSQL never reads half a file.
  await writeFileAtomic(options.path, fetched.plain, 0o600)
  await syncPath(dirname(options.path))
  return { status: 'restored', repository: fetched.repository, key: fetched.key, bytes: fetched.plain.length, skipped: fetched.skipped }
}

/** The archive's folder of a segment's log (wal/<archiveId>/<TL+log>/). */
function logFolder(archiveId: string, name: string): string {
  const prefix = walNamePrefix(archiveId, name)
  return prefix.slice(0, prefix.lastIndexOf('/') + 1)
}

/**
 * A segment archived after the segment `source.name`, on its timeline (in its log or the next),
 * in any repository that answers: a segment "not in the archive" while later ones are is a hole,
 * not the end of the archive, and recovery must stop there instead of ending early.
 */
export async function laterSegmentArchived(source: FetchSource): Promise<string | undefined> {
  if (!hasSegmentHeader(source.name) || source.name.endsWith('.partial')) return undefined
  const timeline = source.name.slice(0, 8)
  const nextLog = (Number.parseInt(source.name.slice(8, 16), 16) + 1).toString(16).toUpperCase().padStart(8, '0')
  for (const repository of source.repositories) {
    const file = await readRepositoryFile(repository, source.signal).catch(() => undefined)
    for (const cluster of file?.clusters ?? []) {
      for (const folder of [logFolder(cluster.archiveId, source.name), logFolder(cluster.archiveId, `${timeline}${nextLog}00000000`)]) {
        try {
          for await (const object of repository.list(folder, { signal: source.signal })) {
            const later = parseWalKey(object.key)?.name
            if (later && later.length === 24 && later.startsWith(timeline) && later > source.name) return later
          }
        } catch {
          // A repository that does not answer proves nothing either way.
        }
      }
    }
  }
  return undefined
}
