import { manifestSchema, type BackupKind, type BackupManifest } from '../../backups/manifest.js'
import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { formatDuration } from '../../lib/duration.js'
import { plural } from '../../lib/format.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { currentCluster, readRepositoryFile } from '../../repositories/cluster.js'
import { dataKeys, idOfManifestKey, isLegacyWalKey, manifestKey, parseWalKey, walNamePrefix, WAL_DIRECTORY } from '../../repositories/layout.js'
import { openRepositories } from '../../repositories/open.js'
import { readSmall, type Repository, type StoredObject } from '../../repositories/repository.js'
import { isSystemError } from '../../systems/errors.js'
import { BACKUP_KINDS, archiverFindings, interruptedRestoreFinding, parseBackupId, repositoryFindings } from './backups-findings.js'
import { lookAtPostgres, restoreNotes } from './backups-postgres.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { BackupsData } from './data.js'

/**
 * diagnose's look at the backups: in every repository at once, the newest backup of each kind
 * against backup.maxAge (one LIST per kind: ids carry the kind and the time), the last
 * verification the newest manifests record, and whether the WAL file PostgreSQL last archived is
 * there; PostgreSQL's archiver; the restores waiting for --cleanup. A repository that does not
 * answer within the check's bound is a finding with its error, never "no backups".
 */

type RepositoryLook = BackupsData['repositories'][number]
type KindLook = RepositoryLook['kinds'][number]

/** Manifests read per kind at most, looking back for the last verification (a week of nightly dumps, and some). */
const MANIFESTS_READ = 10
/** A manifest is a few kilobytes; one of a dump with hundreds of tables stays far below this. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024

interface Listed {
  /** Manifests of the kind, newest first. */
  backups: { id: string; takenAt: Date }[]
  /** Every object of the kind (data and manifests) by key: the data a manifest names is checked against it. */
  objects: Map<string, StoredObject>
}

async function listKind(repository: Repository, kind: BackupKind, signal: AbortSignal): Promise<Listed> {
  const objects = new Map<string, StoredObject>()
  const backups: Listed['backups'] = []
  for await (const object of repository.list(`${kind}-`, { signal })) {
    objects.set(object.key, object)
    const id = idOfManifestKey(object.key)
    const parsed = id === undefined ? undefined : parseBackupId(id)
    if (parsed?.kind === kind) backups.push({ id: id!, takenAt: parsed.takenAt })
  }
  backups.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime())
  return { backups, objects }
}

/** A manifest as written, or why it is not one; not there (pruned meanwhile): undefined. */
async function readManifest(repository: Repository, id: string, signal: AbortSignal): Promise<{ manifest: BackupManifest } | { refused: string } | undefined> {
  let body: Buffer
  try {
    body = await readSmall(repository, manifestKey(id), MAX_MANIFEST_BYTES, signal)
  } catch (error) {
    if (isSystemError(error, undefined, 'not-found')) return undefined
    if (error instanceof RangeError) return { refused: error.message }
    throw error
  }
  let raw: unknown
  try {
    raw = JSON.parse(body.toString('utf8'))
  } catch (error) {
    return { refused: `its manifest is not JSON: ${describeError(error)}` }
  }
  const parsed = manifestSchema.safeParse(raw)
  if (!parsed.success)
    return { refused: `its manifest is not valid: ${parsed.error.issues[0]?.path.join('.') || 'the file'}: ${parsed.error.issues[0]?.message}` }
  if (parsed.data.id !== id) return { refused: `its manifest names another id (${parsed.data.id})` }
  return { manifest: parsed.data }
}

/** Why the data a manifest names is not in the listing as recorded, or undefined (design-14 §2.2). */
function dataProblem(manifest: BackupManifest, objects: ReadonlyMap<string, StoredObject>): string | undefined {
  if (manifest.files?.length) {
    for (const [index, key] of dataKeys(manifest.data, manifest.files).entries()) {
      const file = manifest.files[index]!
      const bytes = file.stored?.bytes ?? file.bytes
      const found = objects.get(key)
      if (!found) return `its data ${key} is missing`
      if (found.bytes !== bytes) return `its data ${key} holds ${found.bytes} bytes, its manifest says ${bytes}`
    }
    return undefined
  }
  const found = objects.get(manifest.data)
  const bytes = manifest.stored?.bytes ?? manifest.bytes
  if (found) return found.bytes === bytes ? undefined : `its data ${manifest.data} holds ${found.bytes} bytes, its manifest says ${bytes}`
  // A legacy base backup is a directory of tar files its manifest does not list one by one.
  if ([...objects.keys()].some((key) => key.startsWith(`${manifest.data}/`))) return undefined
  return `its data ${manifest.data} is missing`
}

function latestVerification(manifest: BackupManifest): BackupManifest['verifications'][number] | undefined {
  return manifest.verifications.reduce<BackupManifest['verifications'][number] | undefined>(
    (latest, v) => (!latest || v.at > latest.at ? v : latest),
    undefined,
  )
}

/**
 * The newest backup of a kind, and the last verification found walking back from it: at most
 * MANIFESTS_READ manifests, and none taken before the verification's own maximum age (a
 * verification older than the backup it checks cannot be newer than that age).
 */
async function lookAtKind(repository: Repository, kind: BackupKind, config: Readonly<Config>, now: Date, signal: AbortSignal): Promise<KindLook> {
  const { backups, objects } = await listKind(repository, kind, signal)
  // Whether one must be there is known once PostgreSQL answered (base: only when WAL is archived).
  const look: KindLook = { kind, expected: true, backups: backups.length, maxAgeSeconds: config.backup.maxAge[kind] / 1000 }
  const horizon = now.getTime() - config.backup.maxAge.verification
  for (const [index, backup] of backups.slice(0, MANIFESTS_READ).entries()) {
    if (index > 0 && backup.takenAt.getTime() < horizon) break
    const read = await readManifest(repository, backup.id, signal)
    const manifest = read && 'manifest' in read ? read.manifest : undefined
    if (index === 0) {
      const damaged = read === undefined ? 'its manifest vanished while it was read' : 'refused' in read ? read.refused : dataProblem(read.manifest, objects)
      look.newest = {
        id: backup.id,
        takenAt: backup.takenAt.toISOString(),
        ageSeconds: Math.round((now.getTime() - backup.takenAt.getTime()) / 1000),
        ...(manifest ? { bytes: manifest.stored?.bytes ?? manifest.bytes } : {}),
        ...(damaged ? { damaged } : {}),
      }
    }
    const verification = manifest && latestVerification(manifest)
    if (verification) {
      look.lastVerification = { id: backup.id, at: verification.at, ok: verification.ok, method: verification.method, detail: verification.detail }
      break
    }
  }
  return look
}

/** Whether the repository holds the WAL file `name`: under its archive, or as a legacy plain copy. */
async function holdsWal(repository: Repository, archiveId: string | undefined, name: string, signal: AbortSignal): Promise<string | undefined> {
  if (archiveId !== undefined)
    for await (const object of repository.list(walNamePrefix(archiveId, name), { signal })) if (parseWalKey(object.key)?.name === name) return object.key
  const legacy = `${WAL_DIRECTORY}/${name}`
  if (isLegacyWalKey(legacy) && (await repository.head(legacy, { signal }))) return legacy
  return undefined
}

/** An error of a repository's request as the look records it: its code, and "no answer" when the bound cut it. */
function failure(repository: Repository, error: unknown, signal: AbortSignal, timeoutMs: number): { error: string; code: string } {
  if (signal.aborted) return { error: `no answer within ${formatDuration(timeoutMs)}`, code: 'no-answer' }
  // The S3 back end's messages start with the place, which the finding names already.
  const message = describeError(error)
  const own = message.startsWith(`${repository.where}: `) ? message.slice(repository.where.length + 2) : message
  return { error: own, code: isSystemError(error) ? error.code : 'failed' }
}

interface Round {
  config: Readonly<Config>
  now: Date
  timeoutMs: number
}

/** One repository's backups, bounded by its own signal. */
async function lookAtRepository(repository: Repository, round: Round): Promise<RepositoryLook> {
  const signal = AbortSignal.timeout(round.timeoutMs)
  const look: RepositoryLook = { name: repository.name, type: repository.kind, where: repository.where, reachable: true, kinds: [] }
  try {
    const [file, ...kinds] = await Promise.all([
      readRepositoryFile(repository, signal).catch((error: unknown) => {
        // Not ours, or damaged: the WAL is then looked for as legacy copies only.
        if (isSystemError(error)) throw error
        look.repositoryFile = describeError(error)
        return undefined
      }),
      ...BACKUP_KINDS.map((kind) => lookAtKind(repository, kind, round.config, round.now, signal)),
    ])
    if (file) look.archiveId = currentCluster(file).archiveId
    look.kinds = kinds
  } catch (error) {
    return { ...look, reachable: false, ...failure(repository, error, signal, round.timeoutMs) }
  }
  return look
}

/** The second round: the last archived WAL file in each repository that answered, each bounded again. */
async function lookForWal(look: RepositoryLook, repository: Repository, segment: string, timeoutMs: number): Promise<RepositoryLook> {
  if (!look.reachable) return look
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const key = await holdsWal(repository, look.archiveId, segment, signal)
    return { ...look, wal: { segment, found: key !== undefined, ...(key ? { key } : {}) } }
  } catch (error) {
    return { ...look, reachable: false, ...failure(repository, error, signal, timeoutMs) }
  }
}

function describeRepository(look: RepositoryLook): string {
  if (!look.reachable) return `${look.name} (${look.where}): no answer: ${look.error}`
  const kinds = look.kinds.map((kind) => {
    if (!kind.newest) return `${kind.kind} none`
    const verified = kind.lastVerification ? `, verified ${kind.lastVerification.ok ? 'ok' : 'FAILED'} ${kind.lastVerification.at}` : ', not verified'
    return `${kind.kind} ${kind.newest.id} (${formatDuration(kind.newest.ageSeconds * 1000)} old${verified})`
  })
  const wal = look.wal ? `; last archived ${look.wal.segment} ${look.wal.found ? 'there' : 'MISSING'}` : ''
  return `${look.name} (${look.where}): ${kinds.join('; ')}${wal}`
}

function describeArchiver(archiver: BackupsData['archiver']): string {
  if (!archiver.read) return `archiver not read: ${archiver.error}`
  if (archiver.archiveMode === 'off') return 'archive_mode off: WAL is not archived'
  const queue = archiver.statusDirectory.read ? `${plural(archiver.statusDirectory.pending, 'file')} waiting` : 'waiting files not counted (pg_monitor needed)'
  return `archiver: last archived ${archiver.lastArchivedWal ?? 'nothing'} ${archiver.lastArchivedAt ?? ''}, ${plural(archiver.failedCount, 'failure')}, ${queue}`
}

export const backups: StepDefinition<DiagnoseContext, BackupsData> = {
  // The repositories' listings and PostgreSQL at once, then the last archived WAL file in each: two rounds.
  timeoutMs: (context) => checkBound(context) + context.checkTimeoutMs,
  async run({ config, checkTimeoutMs }) {
    const repositories = openRepositories(config.backup)
    const round: Round = { config, now: new Date(), timeoutMs: checkTimeoutMs }
    const [looked, { archiver, leftovers }, notes] = await Promise.all([
      Promise.all(repositories.map((repository) => lookAtRepository(repository, round))),
      lookAtPostgres(config, checkTimeoutMs),
      restoreNotes(config),
    ])
    const archiving = archiver.read && archiver.archiveMode !== 'off'
    const segment = archiving ? archiver.lastArchivedWal : null
    const looks = await Promise.all(
      looked.map(async (look, index) => {
        const judged = { ...look, kinds: look.kinds.map((kind) => ({ ...kind, expected: kind.kind !== 'base' || archiving })) }
        return segment ? lookForWal(judged, repositories[index]!, segment, checkTimeoutMs) : judged
      }),
    )
    const interrupted = [...notes.interrupted, ...(leftovers ?? [])]
    const verificationMaxAge = config.backup.maxAge.verification / 1000
    const findings: Finding[] = [
      ...looks.flatMap((look) => repositoryFindings(look, verificationMaxAge)),
      ...archiverFindings(archiver),
      ...interruptedRestoreFinding(interrupted),
      ...notes.findings,
    ]
    const unreachable = looks.filter((look) => !look.reachable).length
    const problems = findings.filter((finding) => finding.severity !== 'info' && finding.severity !== 'low').length
    return {
      summary: `${plural(looks.length, 'repository', 'repositories')} looked at${unreachable ? ` (${unreachable} not answering)` : ''}: ${problems === 0 ? 'all well' : `${plural(problems, 'problem')}`}`,
      findings,
      details: [...looks.map(describeRepository), describeArchiver(archiver), ...interrupted.map((entry) => `interrupted restore: ${entry.detail}`)],
      data: { repositories: looks, archiver, interruptedRestores: interrupted },
    }
  },
}
