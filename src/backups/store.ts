import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, lstat, readdir, realpath, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { StepFailure, UsageError } from '../errors.js'
import { TEMP_PREFIX, makeDirectories, writeFileAtomic } from '../lib/files.js'
import { pausepoint } from '../lib/failpoint.js'
import { isProcessAlive } from '../lib/process.js'
import { REPOSITORY_FILE } from '../repositories/layout.js'
import { MANIFEST, foreignData, readManifest, type BackupKind, type BackupManifest } from './manifest.js'

/**
 * The backup directory: each backup is its data (a dump file, a dump directory or a tar.gz)
 * and a manifest beside it, written last. Data is written under a temporary name and renamed
 * into place only when complete and fsynced, so a backup with a manifest is a whole backup.
 */

export { MANIFEST, type BackupKind, type BackupManifest, type Verification } from './manifest.js'

/** Data is renamed into place, then its manifest written: younger data without one may be mid-commit. */
const COMMIT_GRACE_MS = 120_000

/** Whether the process that named this temporary data (.partial-PID.START-name) still runs. */
function writerAlive(name: string): boolean {
  const [, pid, start] = /^\.partial-(\d+)(?:\.(\d+))?-/.exec(name) ?? []
  return pid !== undefined && isProcessAlive(Number(pid), start)
}

/** Creates the backup directory private (0700), or checks an existing one is not world-readable. */
export async function prepareBackupDir(dir: string): Promise<void> {
  try {
    await makeDirectories(dir, 0o700)
    const info = await stat(dir)
    if (!info.isDirectory()) throw new UsageError(`backup.dir ${dir} is not a directory`, 'set backup.dir to a directory')
    if (info.mode & 0o007) await chmod(dir, info.mode & 0o770)
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new StepFailure(
      `cannot prepare the backup directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      'check backup.dir and its permissions',
    )
  }
}

/** Ids go to the millisecond: two backups in one second must never share a name. */
export function backupId(kind: BackupKind, at: Date, database?: string): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.(\d+)Z$/, '$1Z')
  return [kind, database, stamp].filter(Boolean).join('-')
}

/** Counts bytes and computes SHA-256 of what streams through it. */
export class Checksum extends Transform {
  readonly #hash = createHash('sha256')
  bytes = 0

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk)
    this.bytes += chunk.length
    // Tests hold a backup here, half written, with its producer blocked behind it.
    const pause = this.bytes === chunk.length ? pausepoint('backup-writing') : undefined
    if (!pause) return callback(null, chunk)
    this.push(chunk)
    pause.then(() => callback(), callback)
  }

  digest(): string {
    return this.#hash.digest('hex')
  }
}

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return { sha256: hash.digest('hex'), bytes }
}

/** Checksums of a dump directory's files, and one checksum over them all. */
export async function sha256Directory(path: string): Promise<{ sha256: string; bytes: number; files: { name: string; bytes: number; sha256: string }[] }> {
  const names = (await readdir(path)).sort()
  const files = []
  for (const name of names) {
    // What a backup holds is regular files; a link would be followed out of the backup directory.
    if (!(await lstat(join(path, name))).isFile())
      throw new StepFailure(
        `${join(path, name)} is not a regular file: not part of a backup probe-ops wrote`,
        'the backup cannot be trusted; choose another (probe-ops backup list)',
      )
    files.push({ name, ...(await sha256File(join(path, name))) })
  }
  const listing = files.map((f) => `${f.sha256}  ${f.name}\n`).join('')
  return { sha256: createHash('sha256').update(listing).digest('hex'), bytes: files.reduce((s, f) => s + f.bytes, 0), files }
}

export async function writeManifest(dir: string, manifest: BackupManifest): Promise<void> {
  await writeFileAtomic(manifestPath(dir, manifest.id), `${JSON.stringify(manifest, null, 2)}\n`, 0o600)
}

export interface StoredBackup {
  manifest: BackupManifest
  /** The data's full path. */
  path: string
}

export interface Leftover {
  path: string
  why: string
}

/** A point-in-time recovery's data directory, made in backup.dir when the live one is not visible. */
const RECOVERED_DIR = /^pitr-\d{8}T\d{6}Z$/

/**
 * Every backup with a whole manifest, newest first, and what does not belong. A manifest that is
 * malformed, or names data outside the directory (a path, a link out of it), is `unreadable`:
 * listed as a problem and never acted on, and the data it stands for is not a leftover either.
 * Recovered data directories are listed apart: a side cluster may run on one, so they are never
 * leftovers to remove.
 */
export async function listBackups(dir: string): Promise<{ backups: StoredBackup[]; leftovers: Leftover[]; unreadable: Leftover[]; recovered: string[] }> {
  let names: string[]
  let realDir: string
  try {
    names = await readdir(dir)
    realDir = await realpath(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { backups: [], leftovers: [], unreadable: [], recovered: [] }
    throw new StepFailure(`cannot read the backup directory ${dir}: ${(error as NodeJS.ErrnoException).code}`, 'check backup.dir and its permissions')
  }
  const backups: StoredBackup[] = []
  const unreadable: Leftover[] = []
  const claimed = new Set<string>()
  /** Name prefixes of the data of refused manifests (`ID.`): their data is not a leftover either. */
  const stems: string[] = []
  for (const name of names.filter((n) => n.endsWith(MANIFEST))) {
    claimed.add(name)
    const read = await readManifest(dir, realDir, name)
    if ('refused' in read) {
      unreadable.push({ path: join(dir, name), why: read.refused })
      for (const claim of read.claims) claimed.add(claim)
      const stem = name.slice(0, -MANIFEST.length)
      if (stem) stems.push(`${stem}.`)
      continue
    }
    backups.push(read)
    claimed.add(read.manifest.data)
  }
  // Another run may be writing a backup right now (cron's, or a restore's safety backup): its
  // temporary data names a live process, and its data lacks a manifest only for a moment.
  const leftovers: Leftover[] = []
  const recovered = names.filter((n) => RECOVERED_DIR.test(n)).map((n) => join(dir, n))
  for (const n of names) {
    // The repository file says which cluster the directory's backups are of: never a leftover.
    if (claimed.has(n) || stems.some((stem) => n.startsWith(stem)) || RECOVERED_DIR.test(n) || n === REPOSITORY_FILE) continue
    if (n.startsWith('.') && !n.startsWith(TEMP_PREFIX)) continue
    const found = await lstat(join(dir, n)).catch(() => undefined)
    if (!found) continue
    // Only files and directories are what a backup run leaves; a link or anything else is not removed.
    if (!found.isFile() && !found.isDirectory()) {
      unreadable.push({
        path: join(dir, n),
        why: `${found.isSymbolicLink() ? 'a symbolic link' : 'not a file or directory'} probe-ops did not make: left alone`,
      })
      continue
    }
    if (n.startsWith(TEMP_PREFIX)) {
      if (!writerAlive(n)) leftovers.push({ path: join(dir, n), why: 'a backup that never finished (probe-ops was stopped while writing it)' })
      continue
    }
    if (Date.now() - found.mtimeMs < COMMIT_GRACE_MS) continue
    leftovers.push({ path: join(dir, n), why: 'data without a manifest' })
  }
  backups.sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt))
  return { backups, leftovers, unreadable, recovered }
}

/** Not known to be bad: never verified, or its last verification passed. */
export function isGood(manifest: BackupManifest): boolean {
  const last = manifest.verifications.at(-1)
  return last === undefined || last.ok
}

/**
 * What `latest` names: the newest backup of the kind wanted that has not failed a verification
 * (what nightly verification and most restores want); for dumps, the newest of this database a
 * backup took (a restore's safety backup is named by its id).
 */
export const LATEST = 'latest'

const KIND_NAMES: Record<BackupKind, string> = { database: 'database dump', base: 'base backup', config: 'configuration archive' }

/**
 * The backup a command names: its id, its data (file or directory) or manifest file name, a path
 * to either (relative to the working directory, with or without a trailing slash), or `latest`
 * (see LATEST; a database dump unless `kind` says otherwise), and the manifests that were refused
 * on the way (the command reports them). A name that matches nothing, only a refused manifest, or
 * a backup of another kind than the command needs, is the user's mistake: exit 2 with what exists.
 */
export async function findBackup(dir: string, name: string, database: string, kind?: BackupKind): Promise<{ backup: StoredBackup; unreadable: Leftover[] }> {
  const { backups, unreadable } = await listBackups(dir)
  const fileName = name === LATEST ? name : await backupFileName(dir, name)
  const backup = chooseBackup(backups, fileName, {
    database,
    kind,
    place: dir,
    given: name,
    refused: (stem) => unreadable.find((u) => u.path === manifestPath(dir, stem)),
  })
  return { backup, unreadable }
}

/**
 * The backup among `backups` (newest first) that `fileName` names: an id, a data or manifest file
 * name, or LATEST. `place` says where they were looked for; `refused` finds the refused manifest
 * of a stem, to say why that one cannot be used.
 */
export function chooseBackup<T extends { manifest: BackupManifest }>(
  backups: readonly T[],
  fileName: string,
  options: { database: string; kind?: BackupKind | undefined; place: string; given?: string; refused: (stem: string) => Leftover | undefined },
): T {
  const { database, kind, place } = options
  const ofKind = (wanted: BackupKind) => backups.filter((b) => b.manifest.kind === wanted)
  if (fileName === LATEST) {
    const wanted = kind ?? 'database'
    const candidates = ofKind(wanted).filter((b) => wanted !== 'database' || (b.manifest.database === database && b.manifest.reason !== 'safety'))
    // One that failed its last verification is passed over while an older one has not.
    const newest = candidates.find((b) => isGood(b.manifest)) ?? candidates[0]
    if (newest) return newest
    throw new UsageError(
      `no ${wanted === 'database' ? `dump of database ${database}` : KIND_NAMES[wanted]} in ${place}`,
      `take one first: probe-ops backup ${wanted}`,
      'unknown-backup',
    )
  }
  const found = backups.find(matches(fileName))
  if (!found) {
    const refused = options.refused(fileName.replace(MANIFEST, ''))
    if (refused)
      throw new UsageError(
        `backup "${options.given ?? fileName}" cannot be used: ${refused.path} is ${refused.why}`,
        'choose another backup (probe-ops backup list)',
        'unknown-backup',
      )
    const newest = (kind ? ofKind(kind) : backups).slice(0, 3).map((b) => b.manifest.id)
    throw new UsageError(
      `no backup "${options.given ?? fileName}" in ${place}`,
      newest.length
        ? `probe-ops backup list shows them; the newest: ${newest.join(', ')}`
        : `there are no ${kind ? `${KIND_NAMES[kind]}s` : 'backups'} yet: probe-ops backup ${kind ?? 'database'}`,
      'unknown-backup',
    )
  }
  if (kind && found.manifest.kind !== kind) {
    const others = ofKind(kind)
      .slice(0, 3)
      .map((b) => b.manifest.id)
    throw new UsageError(
      `${found.manifest.id} is a ${KIND_NAMES[found.manifest.kind]}, not a ${KIND_NAMES[kind]}`,
      others.length ? `the newest ${KIND_NAMES[kind]}s: ${others.join(', ')}` : `there is no ${KIND_NAMES[kind]} yet: probe-ops backup ${kind}`,
      'unknown-backup',
    )
  }
  return found
}

/**
 * The file name inside the backup directory that a name given on the command line stands for.
 * A path is resolved from the working directory and must lead into the backup directory: a file
 * elsewhere that happens to share a backup's name is not that backup.
 */
export async function backupFileName(dir: string, name: string): Promise<string> {
  const trimmed = name.replace(/\/+$/, '')
  if (!trimmed.includes('/')) return trimmed
  const path = resolve(trimmed)
  const [parent, home] = await Promise.all([realpath(dirname(path)).catch(() => dirname(path)), realpath(dir).catch(() => resolve(dir))])
  if (parent !== home)
    throw new UsageError(
      `${name} is not in the backup directory ${dir}`,
      'name a backup that probe-ops backup list shows (its id or its path in backup.dir)',
      'unknown-backup',
    )
  return basename(path)
}

function matches(fileName: string): (backup: { manifest: BackupManifest }) => boolean {
  return ({ manifest }) => fileName === manifest.id || fileName === manifest.data || fileName === `${manifest.id}${MANIFEST}`
}

/** The manifest's path: scripts get it from backup list rather than rebuild it. */
export function manifestPath(dir: string, id: string): string {
  return join(dir, `${id}${MANIFEST}`)
}

export async function removeBackup(dir: string, backup: StoredBackup): Promise<void> {
  // Checked again just before: what is deleted recursively, as root, must still be inside the directory.
  const foreign = await foreignData(dir, await realpath(dir), backup.manifest.data)
  if (foreign || backup.path !== join(dir, backup.manifest.data))
    throw new StepFailure(
      `backup ${backup.manifest.id} was not removed: ${foreign ?? `${backup.path} is not its data`}`,
      'inspect it; remove it by hand if it is not needed',
    )
  // The manifest goes first: data without a manifest is a leftover, never a backup that looks whole.
  await rm(manifestPath(dir, backup.manifest.id), { force: true })
  await rm(backup.path, { recursive: true, force: true })
}

export async function removeLeftover(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true })
}

/** The fields every manifest shares: who wrote it, when, and no verification yet. */
export function manifestStamp(
  host: string,
  toolVersion: string,
  started: Date,
  finished = new Date(),
): Pick<BackupManifest, 'manifestVersion' | 'host' | 'toolVersion' | 'startedAt' | 'finishedAt' | 'durationMs' | 'verifications'> {
  return {
    manifestVersion: 1,
    host,
    toolVersion,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    verifications: [],
  }
}
