import { createReadStream } from 'node:fs'
import { PassThrough, type Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Client } from 'pg'
import type { z } from 'zod'
import type { Config } from '../config/load.js'
import { effectiveRepositories } from '../config/repositories.js'
import { StepFailure, describeError } from '../errors.js'
import { Digests } from '../repositories/checksums.js'
import { clusterMismatch, ensureRepositoryCluster, readRepositoryFile, type ClusterIdentity, type RepositoryCluster } from '../repositories/cluster.js'
import { NoRepositoryLeft, putEverywhere } from '../repositories/fan-out.js'
import { dataKeys, manifestKey } from '../repositories/layout.js'
import { openRepositories } from '../repositories/open.js'
import { withoutSubject, type Repository, type Written } from '../repositories/repository.js'
import { encryptStream, type AgeRunner } from '../systems/age.js'
import { queryRows } from '../systems/postgres.js'
import type { manifestSchema } from './manifest.js'
import { Checksum, type BackupManifest } from './store.js'
import { diskFailure } from './writing.js'

/**
 * Writing a backup into every repository (design-14 §3.4): the producer streams once, is
 * checksummed, encrypted once when backup.encryption is set, and teed to every repository; each
 * repository that holds the data, read back, then gets the manifest, written last: what lists a
 * backup. A repository that cannot be written is a failed copy, not a failed backup, while another
 * repository holds it.
 */

/** Where a backup goes and how: the repositories, the encryption, and the cluster they must belong to. */
export interface StoreTarget {
  repositories: readonly Repository[]
  /** The directory of the implicit/local repositories by name, for the data's path in the report. */
  localPaths: ReadonlyMap<string, string>
  encryption?: { recipients: string[]; runner: AgeRunner }
  host: string
  /**
   * The cluster the backup is of: each repository's file is checked against it, and created with
   * the first backup committed there. Undefined (a configuration archive, or a server that does
   * not show its identity): the file is only read, so that a repository that cannot be read fails
   * its copy before anything is written.
   */
  cluster?: ClusterIdentity
  signal: AbortSignal
}

export type Copy =
  | { repository: string; committed: true; readBack: Written['readBack'] }
  /** `why`: the error in one line (a full disk said as such). */
  | { repository: string; committed: false; error: unknown; why: string }

export interface StoredCopies {
  /** The manifest as written (the first repository's, where it differs: a base backup's archive id). */
  manifest: BackupManifest
  copies: Copy[]
  /** The data's path in the first local repository that holds it. */
  path?: string
}

/** The manifest's fields the producer knows: everything but the checksums, the data's name and what encryption adds. */
export type ManifestFields = Omit<z.infer<ReturnType<(typeof manifestSchema)['strip']>>, 'bytes' | 'sha256' | 'stored' | 'encryption' | 'data' | 'files'>

/** One object, streamed. */
export interface SingleSource {
  dataName: string
  produce: () => Readable
  sizeHint?: number
}

/** A directory a program wrote (pg_dump -Fd), staged once: one object per file, in name order. */
export interface StagedDirectory {
  dataName: string
  directory: string
  files: readonly { name: string; path: string }[]
}

/** The repositories a configuration writes to, with encryption as configured. `onlyFirst`: a restore's short-lived safety backup. */
export function storeTarget(config: Readonly<Config>, options: { cluster?: ClusterIdentity; signal: AbortSignal; onlyFirst?: boolean }): StoreTarget {
  const all = openRepositories(config.backup)
  // The safety copy is for this host: a local repository when there is one.
  const repositories = options.onlyFirst ? [all.find((repository) => repository.kind === 'local') ?? all[0]!] : all
  const localPaths = new Map(effectiveRepositories(config.backup).flatMap((r) => (r.type === 'local' ? [[r.name, r.path] as const] : [])))
  const encryption = config.backup.encryption
  return {
    repositories,
    localPaths,
    ...(encryption ? { encryption: { recipients: encryption.recipients.map((recipient) => recipient.trim()), runner: encryption.program } } : {}),
    host: config.host,
    ...(options.cluster ? { cluster: options.cluster } : {}),
    signal: options.signal,
  }
}

/**
 * The cluster a backup is of, from an open session: pg_control_system() needs no superuser from
 * PostgreSQL 15 on only for some roles, so a server that refuses it gives undefined (the
 * repositories' files are then read, not compared).
 */
export async function readClusterIdentity(client: Client): Promise<ClusterIdentity | undefined> {
  const rows = await queryRows<{ id: string; version: string; num: string }>(
    client,
    `select system_identifier::text as id, current_setting('server_version') as version, current_setting('server_version_num') as num from pg_control_system()`,
  ).catch(() => undefined)
  const row = rows?.[0]
  return row ? { systemIdentifier: row.id, serverVersion: row.version, major: Math.floor(Number(row.num) / 10_000) } : undefined
}

/** A manifest as a repository stores it. */
export function manifestBody(manifest: BackupManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)
}

/**
 * A producer that writes into a sink (a program's stdout piped into it), as a stream: it ends
 * when the producer resolves, fails with the producer's error, and stops the producer (through
 * the signal it is given) when the stream is dropped before its end: no repository is left, or
 * the run was cut.
 */
export function producedStream(produce: (sink: Writable, signal: AbortSignal) => Promise<void>, signal: AbortSignal): ProducedStream {
  const stream = new ProducedStream()
  const stop = new AbortController()
  stream.once('close', () => {
    if (!stream.writableFinished) stop.abort(new NoRepositoryLeft())
  })
  stream.done = produce(stream, AbortSignal.any([signal, stop.signal])).then(
    () => void stream.end(),
    (error: unknown) => void stream.destroy(error instanceof Error ? error : new Error(String(error))),
  )
  return stream
}

/** A producer's stream, with the moment its producer (a program) has ended: a backup returns only after it. */
export class ProducedStream extends PassThrough {
  done: Promise<void> = Promise.resolve()
}

interface ObjectWritten {
  bytes: number
  sha256: string
  stored?: { bytes: number; sha256: string; md5: string }
}

/**
 * Why each repository is out before anything is written: its repository file cannot be read, it
 * belongs to another cluster, or something is already stored under the backup's name (never
 * replaced, and never removed as if it were this run's).
 */
async function checkRepositories(target: StoreTarget, firstKey: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>()
  await Promise.all(
    target.repositories.map(async (repository) => {
      try {
        const file = await readRepositoryFile(repository, target.signal)
        const mismatch = file && target.cluster && clusterMismatch(repository, file, target.cluster)
        if (mismatch) out.set(repository.name, new StepFailure(mismatch, `point backup.repositories[${repository.name}] at a prefix of its own`))
        else if (await repository.head(firstKey, { signal: target.signal }))
          out.set(repository.name, new StepFailure(`${firstKey} already exists in ${repository.where}: it is not replaced`, 'run the backup again'))
      } catch (error) {
        out.set(repository.name, error)
      }
    }),
  )
  return out
}

/** One object into every repository still in `live`; the ones that fail leave it, with their error in `failed`. */
async function writeObject(target: StoreTarget, live: Repository[], failed: Map<string, unknown>, key: string, source: SingleSource): Promise<ObjectWritten> {
  let producerError: unknown
  const produced = source.produce()
  produced.once('error', (error) => {
    if (!(error instanceof NoRepositoryLeft)) producerError ??= error
  })
  const plain = new Checksum()
  let stored: Digests | undefined
  let settled
  try {
    // Each stage's failure ends the others: a producer left blocked on a full pipe would never end.
    pipeline(produced, plain).catch(() => undefined)
    let body: Readable = plain
    if (target.encryption) {
      stored = new Digests()
      const encrypted = await encryptStream(plain, { ...target.encryption, signal: target.signal })
      pipeline(encrypted, stored).catch(() => undefined)
      body = stored
    }
    settled = await putEverywhere(live, key, body, { signal: target.signal, failpoints: true, ...(source.sizeHint ? { sizeHint: source.sizeHint } : {}) })
  } finally {
    // Whole or not, nothing more is read: a producer still running is stopped, and waited for.
    produced.destroy()
    if (produced instanceof ProducedStream) await produced.done
  }
  if (producerError !== undefined) throw producerError instanceof Error ? producerError : new Error(describeError(producerError))
  for (const [name, settlement] of settled) {
    if (settlement.ok) continue
    failed.set(name, settlement.error)
    live.splice(
      live.findIndex((repository) => repository.name === name),
      1,
    )
  }
  const result: ObjectWritten = { bytes: plain.bytes, sha256: plain.digest() }
  if (stored) {
    const digests = stored.result()
    result.stored = { bytes: digests.bytes, sha256: digests.sha256, md5: digests.md5 }
  }
  return result
}

/** A failed copy, said in one line. */
function describeCopyError(error: unknown, repository: Repository | undefined): string {
  const message = describeError(error)
  if (repository?.kind === 'local') return diskFailure(error, repository.where.replace(/^local /, ''))?.message ?? message
  // Said after the repository's name ("offsite: not stored (…)"): not named twice.
  return repository ? withoutSubject(repository, message) : message
}

/** Removes what was written of a backup that is not committed: best effort, each repository on its own. */
async function removeData(repositories: readonly Repository[], keys: readonly string[]): Promise<void> {
  // Bounded on its own: the run's signal may be what stopped the backup.
  const signal = AbortSignal.timeout(30_000)
  await Promise.all(repositories.map((repository) => repository.remove(keys, { signal }).catch(() => undefined)))
}

/**
 * Stores one backup in every repository of `target` (design-14 §3.4). Returns the copies when
 * at least one repository committed it; throws a StepFailure naming each repository's error when
 * none did (the producer's own failure, or a full disk, as such), after removing what was written.
 */
export async function storeBackup(
  target: StoreTarget,
  source: SingleSource | StagedDirectory,
  fields: (written: { bytes: number }) => Promise<ManifestFields> | ManifestFields,
): Promise<StoredCopies> {
  const suffix = target.encryption ? '.age' : ''
  const single = 'produce' in source
  const dataName = single ? `${source.dataName}${suffix}` : source.dataName
  const keys = single
    ? [dataName]
    : dataKeys(
        dataName,
        source.files.map((file) => ({ name: `${file.name}${suffix}` })),
      )
  const failed = await checkRepositories(target, keys[0]!)
  const live = target.repositories.filter((repository) => !failed.has(repository.name))
  // Only where something may have been written is anything removed: a repository refused above may be another cluster's.
  const attempted = [...live]
  let checksums: Pick<BackupManifest, 'bytes' | 'sha256' | 'stored' | 'files'>
  try {
    if (live.length === 0) throw nowhere(target, failed, dataName)
    if (single) {
      const written = await writeObject(target, live, failed, dataName, source)
      checksums = { bytes: written.bytes, sha256: written.sha256, ...(written.stored ? { stored: written.stored } : {}) }
    } else checksums = await writeFiles(target, live, failed, source, suffix)
    if (live.length === 0) throw nowhere(target, failed, dataName)
    // Told to stop once the data was written, the step has been reported as cut short: a backup
    // that appears afterwards would contradict the report.
    target.signal.throwIfAborted()
    const manifest: BackupManifest = {
      ...(await fields({ bytes: checksums.bytes })),
      manifestVersion: 2,
      data: dataName,
      ...checksums,
      ...(target.encryption ? { encryption: { format: 'age' as const, recipients: target.encryption.recipients } } : {}),
    }
    const copies = await commitManifests(target, live, failed, manifest, keys)
    if (!copies.some((copy) => copy.committed)) throw nowhere(target, failed, dataName)
    const local = copies.find((copy) => copy.committed && target.localPaths.has(copy.repository))
    return { manifest, copies, ...(local ? { path: `${target.localPaths.get(local.repository)}/${dataName}` } : {}) }
  } catch (error) {
    await removeData(attempted, keys)
    throw error
  }
}

/** The files of a staged directory, one object each; the directory's checksum is today's: over its files' "sha256  name" lines. */
async function writeFiles(
  target: StoreTarget,
  live: Repository[],
  failed: Map<string, unknown>,
  source: StagedDirectory,
  suffix: string,
): Promise<Pick<BackupManifest, 'bytes' | 'sha256' | 'files'>> {
  const files: NonNullable<BackupManifest['files']> = []
  for (const file of source.files) {
    if (live.length === 0) break
    const written = await writeObject(target, live, failed, `${source.dataName}/${file.name}${suffix}`, {
      dataName: file.name,
      produce: () => createReadStream(file.path),
    })
    files.push({ name: `${file.name}${suffix}`, bytes: written.bytes, sha256: written.sha256, ...(written.stored ? { stored: written.stored } : {}) })
  }
  const { createHash } = await import('node:crypto')
  const listing = files.map((file, index) => `${file.sha256}  ${source.files[index]!.name}\n`).join('')
  return { bytes: files.reduce((sum, file) => sum + file.bytes, 0), sha256: createHash('sha256').update(listing).digest('hex'), files }
}

/** Per repository holding the data: its cluster file (created with its first backup), then the manifest. */
async function commitManifests(
  target: StoreTarget,
  live: readonly Repository[],
  failed: Map<string, unknown>,
  manifest: BackupManifest,
  keys: string[],
): Promise<Copy[]> {
  const committed = new Map<string, Written['readBack']>()
  await Promise.all(
    live.map(async (repository) => {
      try {
        const cluster: RepositoryCluster | undefined = target.cluster
          ? await ensureRepositoryCluster(repository, target.cluster, { host: target.host, signal: target.signal })
          : undefined
        // A base backup's WAL lives under the archive id of this repository.
        const own = cluster && manifest.wal ? { ...manifest, wal: { ...manifest.wal, archiveId: cluster.archiveId } } : manifest
        const written = await repository.putBytes(manifestKey(manifest.id), manifestBody(own), { signal: target.signal, ifAbsent: true })
        committed.set(repository.name, written.readBack)
      } catch (error) {
        failed.set(repository.name, error)
        await removeData([repository], keys)
      }
    }),
  )
  return target.repositories.map((repository): Copy => {
    const readBack = committed.get(repository.name)
    if (readBack) return { repository: repository.name, committed: true, readBack }
    const error = failed.get(repository.name)
    return { repository: repository.name, committed: false, error, why: describeCopyError(error, repository) }
  })
}

/**
 * The failure of a backup no repository holds. With one repository, its own error (a full disk
 * said as such, with the disk failure's data); with several, each named.
 */
function nowhere(target: StoreTarget, failed: ReadonlyMap<string, unknown>, dataName: string): Error {
  if (target.repositories.length === 1) {
    const [repository] = target.repositories
    const error = failed.get(repository!.name)
    const disk = repository!.kind === 'local' ? diskFailure(error, repository!.where.replace(/^local /, '')) : undefined
    if (disk) return disk
    return error instanceof Error ? error : new StepFailure(`${dataName} was not stored: ${describeError(error)}`)
  }
  const parts = target.repositories.map((repository) => `${repository.name}: ${describeCopyError(failed.get(repository.name), repository)}`)
  return new StepFailure(`${dataName} was stored in no repository: ${parts.join('; ')}`, 'fix what each repository says, then run the backup again')
}

/** "offsite: not stored (…); local: stored": what exists where, for the finding of a missing copy. */
export function describeCopies(copies: readonly Copy[]): string {
  // What is missing first: that is the news.
  return [...copies.filter((copy) => !copy.committed), ...copies.filter((copy) => copy.committed)]
    .map((copy) => (copy.committed ? `${copy.repository}: stored` : `${copy.repository}: not stored (${copy.why})`))
    .join('; ')
}
