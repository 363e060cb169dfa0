import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { describeError } from '../errors.js'
import { currentCluster, ensureRepositoryCluster, readRepositoryFile } from '../repositories/cluster.js'
import { walKey } from '../repositories/layout.js'
import type { Repository } from '../repositories/repository.js'
import { copiesOf, hasSegmentHeader, isWalFileName, oneLine } from './archive.js'
import { encodeWal, storedCompression, type Encoding } from './codec.js'
import { parseWalFileName } from './names.js'
import { headerMismatch, readSegmentHeader, type SegmentHeader } from './segment-header.js'

/**
 * `wal push <path>`, PostgreSQL's archive_command (design-14 §4.1): the file to every repository
 * under a key holding the sha256 of its plain bytes, so that pushing it again is a no-op and a
 * different file under the same name can never replace it. The cheap steps come first (name,
 * header, hash, one LIST per repository); the file is compressed and encrypted only when some
 * repository lacks it, once, and written to those in parallel. A conflict, or a segment of
 * another cluster, anywhere means nothing is written anywhere.
 */

/** A file refused before any repository was asked: not a WAL file, or not the one its name says. */
export class WalFileRefusal extends Error {}

export interface PushOptions {
  /** %p: relative to PostgreSQL's data directory, where the archiver runs. */
  path: string
  repositories: readonly Repository[]
  encoding: Omit<Encoding, 'signal'>
  /** For a repository file written by the first push. */
  host: string
  signal: AbortSignal
}

export type RepositoryState =
  /** It held the file with this content already: nothing written. */
  | 'present'
  | 'stored'
  /** It holds another file under this name. */
  | 'conflict'
  /** It belongs to another cluster. */
  | 'refused'
  /** Nothing written, because another repository conflicts or refuses. */
  | 'held'
  | 'failed'

export interface RepositoryOutcome {
  repository: string
  where: string
  state: RepositoryState
  key?: string
  /** conflict: the sha256 of the file the repository holds under this name. */
  theirs?: string
  /** refused, failed: why. */
  why?: string
}

export interface PushResult {
  name: string
  sha256: string
  outcomes: RepositoryOutcome[]
}

/** 1 GiB, the largest --wal-segsize: a bigger file is not PostgreSQL's. */
const MAX_FILE_BYTES = 1024 * 1024 * 1024

async function readWalFile(path: string, name: string): Promise<{ plain: Buffer; header?: SegmentHeader }> {
  let plain: Buffer
  try {
    plain = await readFile(path)
  } catch (error) {
    throw new WalFileRefusal(`cannot read ${path}: ${describeError(error)}`)
  }
  if (plain.length > MAX_FILE_BYTES) throw new WalFileRefusal(`${path} holds ${plain.length} bytes, more than any WAL segment`)
  if (!hasSegmentHeader(name)) {
    if (!parseWalFileName(name)) throw new WalFileRefusal(`${name} is not a WAL file name`)
    return { plain }
  }
  const header = readSegmentHeader(plain)
  const sizeProblem = header && validSegmentSize(header.segmentBytes) ? undefined : 'it does not start with a WAL segment header'
  const file = sizeProblem ? undefined : parseWalFileName(name, header!.segmentBytes)
  const segment = file && file.kind !== 'history' ? file.segment : undefined
  const problem = sizeProblem ?? (segment ? headerMismatch(header, segment, plain.length) : `${name} is not a segment name at this segment size`)
  if (problem) throw new WalFileRefusal(`${path} is not WAL segment ${name}: ${problem}; refused`)
  return { plain, header: header! }
}

function validSegmentSize(bytes: number): boolean {
  return bytes >= 1024 * 1024 && bytes <= MAX_FILE_BYTES && (bytes & (bytes - 1)) === 0
}

/** The archive the file goes to in this repository, or why it may not go there. */
async function archiveOf(
  repository: Repository,
  header: SegmentHeader | undefined,
  options: PushOptions,
): Promise<{ archiveId: string } | { refused: string } | { failed: string }> {
  const file = await readRepositoryFile(repository, options.signal)
  if (file) {
    const current = currentCluster(file)
    if (header && header.systemIdentifier !== current.systemIdentifier)
      return {
        refused: `the segment is of cluster ${header.systemIdentifier}, and repository ${repository.name} belongs to cluster ${current.systemIdentifier} (archive ${current.archiveId}): two clusters must not share a repository`,
      }
    return { archiveId: current.archiveId }
  }
  if (header?.major === undefined)
    return {
      failed: `repository ${repository.name} has no probe-ops-repository.json yet, and ${header ? 'this segment' : 'a history or backup file'} cannot start one: run probe-ops backup wal-setup --apply`,
    }
  const identity = { systemIdentifier: header.systemIdentifier, serverVersion: String(header.major), major: header.major }
  const cluster = await ensureRepositoryCluster(repository, identity, { host: options.host, signal: options.signal })
  return { archiveId: cluster.archiveId }
}

interface Inspected {
  outcome: RepositoryOutcome
  /** Set when the repository needs the file: its key there. */
  key?: string
}

async function inspect(repository: Repository, name: string, sha256: string, header: SegmentHeader | undefined, options: PushOptions): Promise<Inspected> {
  const base = { repository: repository.name, where: repository.where }
  try {
    const archive = await archiveOf(repository, header, options)
    if ('refused' in archive) return { outcome: { ...base, state: 'refused', why: archive.refused } }
    if ('failed' in archive) return { outcome: { ...base, state: 'failed', why: archive.failed } }
    const copies = await copiesOf(repository, archive.archiveId, name, options.signal)
    const same = copies.find((copy) => copy.sha256 === sha256)
    if (same) return { outcome: { ...base, state: 'present', key: same.key } }
    const other = copies[0]
    if (other) return { outcome: { ...base, state: 'conflict', key: other.key, theirs: other.sha256 } }
    const encrypted = (options.encoding.recipients?.length ?? 0) > 0
    const key = walKey({ archiveId: archive.archiveId, name, sha256, compression: storedCompression(options.encoding.compress), encrypted })
    return { outcome: { ...base, state: 'failed', why: 'not written' }, key }
  } catch (error) {
    return { outcome: { ...base, state: 'failed', why: oneLine(error) } }
  }
}

async function store(repository: Repository, key: string, body: Buffer, signal: AbortSignal): Promise<RepositoryOutcome> {
  const base = { repository: repository.name, where: repository.where, key }
  try {
    await repository.putBytes(key, body, { signal, ifAbsent: true })
    return { ...base, state: 'stored' }
  } catch (error) {
    // Another push of the same file got there first (PostgreSQL retrying, a standby with
    // archive_mode = always): the key holds the same plain bytes, whoever wrote them.
    const there = await repository.head(key, { signal }).catch(() => undefined)
    if (there && there.bytes === body.length) return { ...base, state: 'present' }
    return { ...base, state: 'failed', why: oneLine(error) }
  }
}

export async function pushWal(options: PushOptions): Promise<PushResult> {
  const name = basename(options.path)
  if (!isWalFileName(name)) throw new WalFileRefusal(`${name} is not a WAL file name (a segment, .partial, .backup or .history)`)
  const { plain, header } = await readWalFile(options.path, name)
  const sha256 = createHash('sha256').update(plain).digest('hex')
  const inspected = await Promise.all(options.repositories.map((repository) => inspect(repository, name, sha256, header, options)))
  const blocked = inspected.some(({ outcome }) => outcome.state === 'conflict' || outcome.state === 'refused')
  const needed = inspected.filter((entry) => entry.key !== undefined)
  if (blocked || needed.length === 0) {
    const outcomes = inspected.map(({ outcome, key }) => (key !== undefined ? { ...outcome, state: 'held' as const, key, why: 'held back' } : outcome))
    return { name, sha256, outcomes: blocked ? outcomes : inspected.map((entry) => entry.outcome) }
  }
  let body: Buffer
  try {
    body = await encodeWal(plain, { ...options.encoding, signal: options.signal })
  } catch (error) {
    const why = oneLine(error)
    return { name, sha256, outcomes: inspected.map(({ outcome, key }) => (key === undefined ? outcome : { ...outcome, state: 'failed', key, why })) }
  }
  const outcomes = await Promise.all(
    inspected.map(async ({ outcome, key }, index) => (key === undefined ? outcome : store(options.repositories[index]!, key, body, options.signal))),
  )
  return { name, sha256, outcomes }
}

/** Every repository holds the file with this content. */
export function pushSucceeded(result: PushResult): boolean {
  return result.outcomes.every((outcome) => outcome.state === 'present' || outcome.state === 'stored')
}

/** The lines for PostgreSQL's log: one per repository that does not hold the file, or per conflict. */
export function pushFailureLines(result: PushResult): string[] {
  const conflicts = result.outcomes.filter((outcome) => outcome.state === 'conflict')
  const lines = conflicts.map(
    (outcome) =>
      `refused: ${result.name} is already archived in ${outcome.repository} with other content (sha256 ${outcome.theirs!.slice(0, 12)}…, this one ${result.sha256.slice(0, 12)}…): ` +
      'two clusters write to one repository, or a restored cluster reuses its timeline; archiving stops here until a person decides (see docs/operations.md)',
  )
  for (const outcome of result.outcomes) {
    if (outcome.state === 'refused') lines.push(`refused: ${result.name}: ${outcome.why}`)
    if (outcome.state === 'failed') lines.push(`${result.name} not stored in ${outcome.repository} (${outcome.why}); PostgreSQL will retry`)
  }
  if (lines.length > 0 && result.outcomes.some((outcome) => outcome.state === 'held'))
    lines.push(
      `${result.name} was written nowhere: ${result.outcomes
        .filter((o) => o.state === 'held')
        .map((o) => o.repository)
        .join(', ')} held back`,
    )
  return lines
}
