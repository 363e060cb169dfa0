import { z } from 'zod'
import { StepFailure, describeError } from '../errors.js'
import { REPOSITORY_FILE } from './layout.js'
import { isMissingObject, readSmall, type Repository } from './repository.js'

/**
 * probe-ops-repository.json: which PostgreSQL cluster a repository belongs to (design-14 §2.3).
 * Written by the first writer that finds none, checked by every writer after: two platforms
 * sharing a prefix would mix their backups and WAL, so a mismatch is a refusal. A new generation
 * of the archive (after pg_upgrade, or a logical restore into a new cluster) is appended, never
 * replacing the old one: its backups and WAL stay readable under their archive id.
 */

const clusterSchema = z
  .object({
    /** <PG major>-<generation>: the directory of its WAL under wal/. */
    archiveId: z.string().regex(/^\d+-\d+$/),
    /** pg_control_system().system_identifier, as text (it is a 64-bit number). */
    systemIdentifier: z.string().regex(/^\d+$/),
    serverVersion: z.string(),
    since: z.string().datetime(),
  })
  .strict()

export const repositoryFileSchema = z
  .object({
    format: z.literal(1),
    clusters: z.array(clusterSchema).min(1),
    createdBy: z.string(),
  })
  .passthrough()

export type RepositoryCluster = z.infer<typeof clusterSchema>
export type RepositoryFile = z.infer<typeof repositoryFileSchema>

/** The file is a few hundred bytes; anything much bigger is not it. */
const MAX_BYTES = 64 * 1024

/** The cluster a writer runs against. */
export interface ClusterIdentity {
  systemIdentifier: string
  serverVersion: string
  /** The major version (15): the first part of the archive id. */
  major: number
}

/** What the repository says, or undefined when it has no file yet. A file that is not ours is an error. */
export async function readRepositoryFile(repository: Repository, signal: AbortSignal): Promise<RepositoryFile | undefined> {
  let body: Buffer
  try {
    body = await readSmall(repository, REPOSITORY_FILE, MAX_BYTES, signal)
  } catch (error) {
    // A missing bucket is not "no file yet": the repository itself is not there.
    if (isMissingObject(error)) return undefined
    throw error
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch (error) {
    throw unreadable(repository, describeError(error))
  }
  const checked = repositoryFileSchema.safeParse(parsed)
  if (!checked.success) throw unreadable(repository, checked.error.issues.map((issue) => `${issue.path.join('.') || 'the file'}: ${issue.message}`).join('; '))
  return checked.data
}

function unreadable(repository: Repository, why: string): StepFailure {
  return new StepFailure(
    `${REPOSITORY_FILE} in repository ${repository.name} (${repository.where}) is not one probe-ops wrote: ${why}`,
    `nothing is written there until it is fixed: restore the file, or point backup.repositories[${repository.name}] at a prefix of its own`,
  )
}

/** The generation in use: the last one. */
export function currentCluster(file: RepositoryFile): RepositoryCluster {
  return file.clusters.at(-1)!
}

/** Why `identity` may not write to a repository holding `file`, or undefined. Pure. */
export function clusterMismatch(repository: Pick<Repository, 'name'>, file: RepositoryFile, identity: ClusterIdentity): string | undefined {
  const current = currentCluster(file)
  if (current.systemIdentifier === identity.systemIdentifier && current.archiveId.startsWith(`${identity.major}-`)) return undefined
  return (
    `repository ${repository.name} belongs to cluster ${current.systemIdentifier} (archive ${current.archiveId}); ` +
    `this server is ${identity.systemIdentifier} (PostgreSQL ${identity.serverVersion}): two platforms must not share a prefix`
  )
}

/**
 * The repository's cluster, checked against `identity`; the file is created when there is none.
 * A mismatch is a StepFailure: nothing may be written there.
 */
export async function ensureRepositoryCluster(
  repository: Repository,
  identity: ClusterIdentity,
  context: { host: string; signal: AbortSignal; now?: Date },
): Promise<RepositoryCluster> {
  const file = await readRepositoryFile(repository, context.signal)
  if (file) {
    const mismatch = clusterMismatch(repository, file, identity)
    if (mismatch)
      throw new StepFailure(
        mismatch,
        `point backup.repositories[${repository.name}] at a prefix of its own; if this server took the platform over (an upgrade, a restore), start a new archive generation there: probe-ops backup wal-setup --apply --new-archive`,
      )
    return currentCluster(file)
  }
  const created: RepositoryFile = {
    format: 1,
    clusters: [
      {
        archiveId: `${identity.major}-1`,
        systemIdentifier: identity.systemIdentifier,
        serverVersion: identity.serverVersion,
        since: (context.now ?? new Date()).toISOString(),
      },
    ],
    createdBy: context.host,
  }
  // Two first writers at once: the one whose file is there wins, and the other is checked against it.
  const failed = await writeRepositoryFile(repository, created, context.signal, true).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  )
  const there = await readRepositoryFile(repository, context.signal)
  if (!there && failed !== undefined) throw failed
  const mismatch = there && clusterMismatch(repository, there, identity)
  if (!there || mismatch) throw new StepFailure(mismatch ?? `${REPOSITORY_FILE} vanished from ${repository.where} right after it was written`, 'run it again')
  return currentCluster(there)
}

/** The file with a new generation for `identity` appended (pure): what --new-archive writes. */
export function withNewGeneration(file: RepositoryFile, identity: ClusterIdentity, now: Date): RepositoryFile {
  const generations = file.clusters
    .filter((cluster) => cluster.archiveId.startsWith(`${identity.major}-`))
    .map((cluster) => Number(cluster.archiveId.split('-')[1]))
  const archiveId = `${identity.major}-${Math.max(0, ...generations) + 1}`
  return {
    ...file,
    clusters: [...file.clusters, { archiveId, systemIdentifier: identity.systemIdentifier, serverVersion: identity.serverVersion, since: now.toISOString() }],
  }
}

export async function writeRepositoryFile(repository: Repository, file: RepositoryFile, signal: AbortSignal, ifAbsent = false): Promise<void> {
  await repository.putBytes(REPOSITORY_FILE, Buffer.from(`${JSON.stringify(file, null, 2)}\n`), { signal, ifAbsent })
}
