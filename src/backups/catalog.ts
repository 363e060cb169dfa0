import type { Config } from '../config/load.js'
import { effectiveRepositories, type RepositoryConfig } from '../config/repositories.js'
import { OperationFailure, UsageError, describeError } from '../errors.js'
import { plural } from '../lib/format.js'
import { WAL_DIRECTORY, dataKeys, idOfManifestKey, leftovers as dataLeftovers, manifestKey } from '../repositories/layout.js'
import { openRepositories, selectRepositories } from '../repositories/open.js'
import { readSmall, withoutSubject, type AbandonedUpload, type Repository, type StoredObject } from '../repositories/repository.js'
import { MAX_MANIFEST_BYTES, checkManifest } from './manifest.js'
import { LATEST, backupFileName, chooseBackup, isGood, listBackups, type BackupKind, type BackupManifest, type Leftover } from './store.js'

/**
 * Every backup of every repository (design-14 §2.2, §5), read through its manifest: data without
 * one is a leftover, a manifest that is damaged or foreign is a problem, and neither is ever acted
 * on as a backup. A local repository is read as backup.dir always was (store.ts: its refusals of
 * links and data outside the directory, its temporaries of live writers); an S3 repository
 * through one LIST, whose sizes also prove each manifest's data is there whole.
 */

/** One repository's copy of a backup: its own manifest (verifications are per copy). */
export interface BackupCopy {
  repository: Repository
  manifest: BackupManifest
  /** A local repository: the data's path, checked to be inside it. */
  path?: string
  /** The data, for people: a path, or s3://bucket/prefix/key. */
  location: string
}

/** A backup id and its copies, in the configuration's order of preference. */
export interface CatalogEntry {
  /** The first copy's manifest: what the backup is (kind, database, tables). */
  manifest: BackupManifest
  copies: BackupCopy[]
}

/** Something found in a repository that is not a backup: where it is, and which repository. */
export interface CatalogProblem extends Leftover {
  repository: string
  /** In S3: the key (what prune removes). */
  key?: string
}

export interface Catalog {
  /** Newest first. */
  entries: CatalogEntry[]
  /** Data no manifest claims: restore --cleanup (and, in S3, prune) removes it. */
  leftovers: CatalogProblem[]
  /** Manifests refused or damaged, and files that are not probe-ops': never acted on. */
  unreadable: CatalogProblem[]
  /** Point-in-time recovery data directories in backup.dir. */
  recovered: string[]
  /** Repositories that could not be read at all: what they hold is unknown, never "nothing". */
  unreachable: { repository: string; where: string; error: unknown }[]
  /** The repositories read, in order. */
  repositories: Repository[]
  /** S3 multipart uploads started more than 24 h ago and never completed: their parts take space (§5.3). */
  incompleteUploads: IncompleteUploads[]
}

/** A repository's incomplete uploads, or why they are unknown (the server cannot list them): never "none". */
export type IncompleteUploads = { repository: string; uploads: AbandonedUpload[] } | { repository: string; unchecked: string }

/** S3 data without a manifest this old is a leftover: no liveness check reaches another host's writer (§5.3). */
export const REMOTE_LEFTOVER_AGE_MS = 24 * 3_600_000

export interface CatalogOptions {
  /** --repository: only these (all without). An unknown name is the user's mistake. */
  names?: readonly string[] | undefined
  signal: AbortSignal
  /** Also ask each S3 repository for its incomplete uploads (list and prune; a restore has no use for them). */
  incompleteUploads?: boolean
}

/** The repositories of the configuration that --repository picks, each with its configuration. */
export function pickRepositories(backup: Config['backup'], names: readonly string[] | undefined): { repository: Repository; config: RepositoryConfig }[] {
  const repositories = openRepositories(backup)
  const configs = effectiveRepositories(backup)
  const picked = selectRepositories(repositories, names ? [...names] : undefined)
  if ('unknown' in picked)
    throw new UsageError(
      `no repository named ${picked.unknown.join(', ')} in backup.repositories`,
      `the repositories are: ${repositories.map((r) => r.name).join(', ')}`,
    )
  return picked.map((repository) => ({ repository, config: configs[repositories.indexOf(repository)]! }))
}

export async function readCatalog(backup: Config['backup'], options: CatalogOptions): Promise<Catalog> {
  const picked = pickRepositories(backup, options.names)
  const catalog: Catalog = {
    entries: [],
    leftovers: [],
    unreadable: [],
    recovered: [],
    unreachable: [],
    repositories: picked.map((p) => p.repository),
    incompleteUploads: [],
  }
  const byId = new Map<string, CatalogEntry>()
  for (const { repository, config } of picked) {
    let read: RepositoryReading
    try {
      read = config.type === 'local' ? await readLocal(repository, config.path) : await readRemote(repository, options.signal)
    } catch (error) {
      catalog.unreachable.push({ repository: repository.name, where: repository.where, error })
      continue
    }
    for (const copy of read.copies) {
      const entry = byId.get(copy.manifest.id)
      if (entry) entry.copies.push(copy)
      else byId.set(copy.manifest.id, { manifest: copy.manifest, copies: [copy] })
    }
    catalog.leftovers.push(...read.leftovers)
    catalog.unreadable.push(...read.unreadable)
    catalog.recovered.push(...read.recovered)
    if (options.incompleteUploads && repository.abandonedUploads) catalog.incompleteUploads.push(await incompleteUploadsOf(repository, options.signal))
  }
  catalog.entries = [...byId.values()].sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt))
  return catalog
}

interface RepositoryReading {
  copies: BackupCopy[]
  leftovers: CatalogProblem[]
  unreadable: CatalogProblem[]
  recovered: string[]
}

/** A local repository: today's rules for backup.dir, whatever its version of manifests. */
async function readLocal(repository: Repository, path: string): Promise<RepositoryReading> {
  const found = await listBackups(path)
  const named = (problem: Leftover): CatalogProblem => ({ ...problem, repository: repository.name })
  return {
    copies: found.backups.map((b) => ({ repository, manifest: b.manifest, path: b.path, location: b.path })),
    leftovers: found.leftovers.map(named),
    unreadable: found.unreadable.map(named),
    recovered: found.recovered,
  }
}

/** Uploads older than a leftover's age: one ListMultipartUploads; a server without it is said, never taken for none. */
async function incompleteUploadsOf(repository: Repository, signal: AbortSignal): Promise<IncompleteUploads> {
  try {
    const found = await repository.abandonedUploads!(new Date(Date.now() - REMOTE_LEFTOVER_AGE_MS), { signal })
    if (found !== 'unsupported') return { repository: repository.name, uploads: found.uploads }
    const unchecked = `${repository.name} (${repository.where}) cannot list incomplete multipart uploads (ListMultipartUploads is not implemented there): whether some are left is unknown`
    return { repository: repository.name, unchecked }
  } catch (error) {
    signal.throwIfAborted()
    const why = withoutSubject(repository, describeError(error))
    return { repository: repository.name, unchecked: `${repository.name} (${repository.where}): incomplete multipart uploads could not be listed: ${why}` }
  }
}

/** A repository's incomplete uploads as the reports carry them: `{ incompleteUploads }`, or nothing for a repository without them (local). */
export function withIncompleteUploads(
  catalog: Catalog,
  repository: string,
): { incompleteUploads?: { checked: boolean; why?: string; uploads: { key: string; uploadId: string; initiated: string }[] } } {
  const found = catalog.incompleteUploads.find((u) => u.repository === repository)
  if (!found) return {}
  if ('unchecked' in found) return { incompleteUploads: { checked: false, why: found.unchecked, uploads: [] } }
  return {
    incompleteUploads: { checked: true, uploads: found.uploads.map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated.toISOString() })) },
  }
}

/** Where a key is, for people: s3://bucket/prefix/key. */
export function locationOf(repository: Repository, key: string): string {
  if (repository.kind === 's3') return `${repository.where.split(' ')[0]!}${key}`
  return `${repository.where.replace(/^local /, '')}/${key}`
}

/** The stored size of each of a manifest's data keys (encrypted: the stored bytes). */
function expectedSizes(manifest: BackupManifest): Map<string, number> {
  const keys = dataKeys(manifest.data, manifest.files)
  if (!manifest.files?.length) return new Map([[keys[0]!, manifest.stored?.bytes ?? manifest.bytes]])
  return new Map(manifest.files.map((file, index) => [keys[index]!, file.stored?.bytes ?? file.bytes]))
}

/** Why a manifest's data is not whole in the listing, or undefined. */
function damage(manifest: BackupManifest, sizes: ReadonlyMap<string, number>): string | undefined {
  for (const [key, expected] of expectedSizes(manifest)) {
    const size = sizes.get(key)
    if (size === undefined) return `its data ${key} is missing`
    if (size !== expected) return `its data ${key} holds ${size} bytes where the manifest says ${expected}`
  }
  return undefined
}

/**
 * What a backup listing reads of a repository: its top level, and each folder but wal/ (directory
 * dumps, and whatever else someone put there). A WAL archive of 100,000 segments is never paged
 * through to list a dozen backups.
 */
async function listBackupObjects(repository: Repository, signal: AbortSignal): Promise<StoredObject[]> {
  const top = await repository.listTop('', { signal })
  const objects = [...top.objects]
  for (const folder of top.folders) {
    if (folder === `${WAL_DIRECTORY}/`) continue
    for await (const object of repository.list(folder, { signal })) objects.push(object)
  }
  return objects
}

/** An S3 repository: one LIST of its top level (WAL unread), each manifest read and checked against the listed sizes. */
async function readRemote(repository: Repository, signal: AbortSignal): Promise<RepositoryReading> {
  const objects = await listBackupObjects(repository, signal)
  const sizes = new Map(objects.map((o) => [o.key, o.bytes]))
  const reading: RepositoryReading = { copies: [], leftovers: [], unreadable: [], recovered: [] }
  const claimed = new Set<string>()
  for (const object of objects) {
    const id = idOfManifestKey(object.key)
    if (id === undefined) continue
    const problem = (why: string) => reading.unreadable.push({ repository: repository.name, path: locationOf(repository, object.key), why })
    let text: string
    try {
      text = (await readSmall(repository, object.key, MAX_MANIFEST_BYTES, signal)).toString('utf8')
    } catch (error) {
      signal.throwIfAborted()
      problem(`could not be read: ${describeError(error)}`)
      claimClaims(claimed, objects, [id])
      continue
    }
    const checked = checkManifest(text, id)
    if ('refused' in checked) {
      problem(checked.refused)
      claimClaims(claimed, objects, checked.claims)
      continue
    }
    const { manifest } = checked
    for (const key of dataKeys(manifest.data, manifest.files)) claimed.add(key)
    const damaged = damage(manifest, sizes)
    if (damaged) {
      problem(`a damaged backup: ${damaged}`)
      continue
    }
    reading.copies.push({ repository, manifest, location: locationOf(repository, manifest.data) })
  }
  for (const leftover of dataLeftovers(objects, claimed, new Date(), REMOTE_LEFTOVER_AGE_MS))
    reading.leftovers.push({ repository: repository.name, path: locationOf(repository, leftover.key), key: leftover.key, why: leftover.why })
  return reading
}

/** A refused manifest's names, and every key that starts with one of them and a dot: not leftovers. */
function claimClaims(claimed: Set<string>, objects: readonly StoredObject[], claims: readonly string[]): void {
  for (const claim of claims) {
    claimed.add(claim)
    for (const object of objects) if (object.key.startsWith(`${claim}.`)) claimed.add(object.key)
  }
}

/** Not known to be bad in some repository: never verified there, or its last verification passed. */
export function entryIsGood(entry: CatalogEntry): boolean {
  return entry.copies.some((copy) => isGood(copy.manifest))
}

/** What `latest-base` names: the newest good base backup. */
export const LATEST_BASE = 'latest-base'

/**
 * The backup a command names, across the repositories read: an id, a data or manifest file name,
 * a path into backup.dir, LATEST (the newest good dump; see store.ts chooseBackup) or LATEST_BASE.
 */
export async function findEntry(catalog: Catalog, backupDir: string, name: string, database: string, wanted?: BackupKind): Promise<CatalogEntry> {
  if (name === LATEST_BASE && wanted !== undefined && wanted !== 'base')
    throw new UsageError(`${LATEST_BASE} names a base backup, and this needs a ${wanted} backup`, `use ${LATEST} or an id (probe-ops backup list)`)
  const kind = name === LATEST_BASE ? 'base' : wanted
  const fileName = name === LATEST || name === LATEST_BASE ? LATEST : await backupFileName(backupDir, name)
  // chooseBackup's `latest` skips a backup whose last verification failed: here, failed in every copy.
  const candidates = catalog.entries.map((entry) => ({
    entry,
    manifest: entryIsGood(entry) ? entry.manifest : { ...entry.manifest, verifications: failedMark },
  }))
  const chosen = chooseBackup(candidates, fileName, {
    database,
    kind,
    place: catalog.repositories.map((r) => r.where).join(', '),
    given: name,
    refused: (stem) => catalog.unreadable.find((u) => u.path.endsWith(`/${manifestKey(stem)}`)),
  })
  return chosen.entry
}

/** Reading every manifest of every repository before a command starts: bounded, as a step is. */
const CATALOG_TIMEOUT_MS = 300_000

/**
 * The backup a command names (see findEntry), read from every repository or those --repository
 * picks, and what was refused on the way. An unknown name is the user's mistake (exit 2); a name
 * that a repository that could not be read may hold is a failure that says so (exit 1).
 */
export async function findInRepositories(
  backup: Config['backup'],
  request: { name: string; database: string; kind?: BackupKind; repositories?: readonly string[] | undefined },
): Promise<{ entry: CatalogEntry; unreadable: Leftover[] }> {
  const catalog = await readCatalog(backup, { names: request.repositories, signal: AbortSignal.timeout(CATALOG_TIMEOUT_MS) })
  const unreadable = [...catalog.unreadable, ...catalog.unreachable.map((u) => ({ path: u.where, why: unreachableMessage(u) }))]
  try {
    return { entry: await findEntry(catalog, backup.dir, request.name, request.database, request.kind), unreadable }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    const [down] = catalog.unreachable
    if (down) throw new OperationFailure(`${error.message}; and ${unreachableMessage(down)}`, error.hint)
    // Only damaged or refused manifests where the backup was looked for: that is the news, not "take one".
    const [refused] = catalog.unreadable
    if (refused && (request.name === LATEST || request.name === LATEST_BASE))
      throw new UsageError(
        `${error.message}: ${plural(catalog.unreadable.length, 'manifest')} refused or damaged, the first ${refused.path}: ${refused.why}`,
        'nothing was touched; probe-ops backup list shows them; take a new backup (probe-ops backup database)',
        'unknown-backup',
      )
    throw error
  }
}

const failedMark: BackupManifest['verifications'] = [
  { at: new Date(0).toISOString(), ok: false, method: 'checksum', durationMs: 0, detail: 'failed in every copy' },
]

/** A finding's worth for each repository that could not be read: high, since what it holds is unknown. */
export function unreachableMessage(unreachable: Catalog['unreachable'][number]): string {
  const detail = withoutSubject({ name: unreachable.repository, where: unreachable.where }, describeError(unreachable.error))
  return `repository ${unreachable.repository} (${unreachable.where}) could not be read: ${detail}`
}
