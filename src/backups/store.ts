import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { StepFailure, UsageError } from '../errors.js'
import { makeDirectories, writeFileAtomic } from '../lib/files.js'
import { pausepoint } from '../lib/failpoint.js'
import { isProcessAlive, processStart } from '../lib/process.js'
import type { DatabaseProperties } from './database-properties.js'

/**
 * The backup directory: each backup is its data (a dump file, a dump directory or a tar.gz)
 * and a manifest beside it, written last. Data is written under a temporary name and renamed
 * into place only when complete and fsynced, so a backup with a manifest is a whole backup.
 */

export type BackupKind = 'database' | 'config' | 'base'

export interface Verification {
  at: string
  ok: boolean
  method: 'checksum' | 'list' | 'restore-test'
  durationMs: number
  detail: string
}

export interface BackupManifest {
  manifestVersion: 1
  id: string
  kind: BackupKind
  /** Why it was taken: by hand or schedule, or as the safety copy before a restore. */
  reason: 'manual' | 'scheduled' | 'safety'
  format: 'custom' | 'directory' | 'tar.gz'
  /** The data's name inside the backup directory. */
  data: string
  bytes: number
  /** SHA-256 of the data; for a directory, of its files' "sha256  name" lines in name order. */
  sha256: string
  files?: { name: string; bytes: number; sha256: string }[]
  database?: string
  serverVersion?: string
  databaseBytes?: number
  tables?: { name: string; rows: number }[]
  /** Owner, locale, privileges and settings of the dumped database, for a restore to give back. */
  databaseProperties?: DatabaseProperties
  paths?: string[]
  missingPaths?: string[]
  /** Base backups: the moment after which point-in-time recovery from it can stop. */
  consistentAt?: string
  host: string
  toolVersion: string
  startedAt: string
  finishedAt: string
  durationMs: number
  verifications: Verification[]
}

const MANIFEST = '.manifest.json'
const TEMP_PREFIX = '.partial-'
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
    throw new StepFailure(`cannot prepare the backup directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, 'check backup.dir and its permissions')
  }
}

/** Ids go to the millisecond: two backups in one second must never share a name. */
export function backupId(kind: BackupKind, at: Date, database?: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z')
  return [kind, database, stamp].filter(Boolean).join('-')
}

export function temporaryPath(dir: string, name: string): string {
  return join(dir, `${TEMP_PREFIX}${process.pid}.${processStart(process.pid) ?? 0}-${name}`)
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
  for (const name of names) files.push({ name, ...(await sha256File(join(path, name))) })
  const listing = files.map((f) => `${f.sha256}  ${f.name}\n`).join('')
  return { sha256: createHash('sha256').update(listing).digest('hex'), bytes: files.reduce((s, f) => s + f.bytes, 0), files }
}

/** A directory a program wrote (pg_dump -Fd, pg_basebackup): made private, fsynced, checksummed. */
export async function sealDirectory(path: string): Promise<{ sha256: string; bytes: number; files: { name: string; bytes: number; sha256: string }[] }> {
  await chmod(path, 0o700)
  for (const name of await readdir(path)) {
    await chmod(join(path, name), 0o600)
    await syncPath(join(path, name))
  }
  await syncPath(path)
  return sha256Directory(path)
}

/** fsync a file or directory, so a rename after it survives a crash. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Moves finished data into place and writes its manifest: the backup exists from this moment. */
export async function commitBackup(dir: string, temporary: string, manifest: BackupManifest): Promise<void> {
  // Never over an existing backup: a rename would replace it silently.
  const taken = await stat(join(dir, manifest.data)).then(() => true, () => false)
  if (taken) {
    await rm(temporary, { recursive: true, force: true })
    throw new StepFailure(`a backup named ${manifest.data} already exists`, 'run the backup again')
  }
  await rename(temporary, join(dir, manifest.data))
  try {
    await syncPath(dir)
    await writeManifest(dir, manifest)
  } catch (error) {
    // Data without its manifest is no backup (and the disk may be full): it goes.
    await rm(join(dir, manifest.data), { recursive: true, force: true }).catch(() => undefined)
    throw error
  }
}

export async function writeManifest(dir: string, manifest: BackupManifest): Promise<void> {
  await writeFileAtomic(join(dir, `${manifest.id}${MANIFEST}`), `${JSON.stringify(manifest, null, 2)}\n`, 0o600)
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
 * Every backup with a readable manifest, newest first, and what does not belong. Recovered data
 * directories are listed apart: a side cluster may run on one, so they are never leftovers to remove.
 */
export async function listBackups(dir: string): Promise<{ backups: StoredBackup[]; leftovers: Leftover[]; unreadable: Leftover[]; recovered: string[] }> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { backups: [], leftovers: [], unreadable: [], recovered: [] }
    throw new StepFailure(`cannot read the backup directory ${dir}: ${(error as NodeJS.ErrnoException).code}`, 'check backup.dir and its permissions')
  }
  const backups: StoredBackup[] = []
  const unreadable: Leftover[] = []
  const claimed = new Set<string>()
  for (const name of names.filter((n) => n.endsWith(MANIFEST))) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, name), 'utf8')) as BackupManifest
      if (manifest.manifestVersion !== 1 || !manifest.id || !manifest.data) throw new Error('not a probe-ops manifest')
      backups.push({ manifest, path: join(dir, manifest.data) })
      claimed.add(name).add(manifest.data)
    } catch (error) {
      unreadable.push({ path: join(dir, name), why: `manifest unreadable: ${(error as Error).message}` })
      claimed.add(name)
    }
  }
  // Another run may be writing a backup right now (cron's, or a restore's safety backup): its
  // temporary data names a live process, and its data lacks a manifest only for a moment.
  const leftovers: Leftover[] = names
    .filter((n) => n.startsWith(TEMP_PREFIX) && !writerAlive(n))
    .map((n) => ({ path: join(dir, n), why: 'a backup that never finished (probe-ops was stopped while writing it)' }))
  const recovered = names.filter((n) => RECOVERED_DIR.test(n)).map((n) => join(dir, n))
  for (const n of names) {
    if (claimed.has(n) || n.startsWith(TEMP_PREFIX) || n.startsWith('.') || RECOVERED_DIR.test(n)) continue
    const changed = await stat(join(dir, n)).then((s) => s.mtimeMs, () => 0)
    if (Date.now() - changed < COMMIT_GRACE_MS) continue
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
 * What `latest` names: the newest dump of this database that a backup took and that has not
 * failed a verification (what nightly verification and most restores want); a restore's safety
 * backup is named by its id.
 */
export const LATEST = 'latest'

/**
 * The backup a command names: its id, its data or manifest file name, a path to either, or
 * `latest` (see LATEST). A name that matches nothing is the user's
 * mistake: exit 2 with what exists.
 */
export async function findBackup(dir: string, name: string, database: string): Promise<StoredBackup> {
  const { backups } = await listBackups(dir)
  if (name === LATEST) {
    const dumps = backups.filter((b) => b.manifest.kind === 'database' && b.manifest.database === database && b.manifest.reason !== 'safety')
    // One that failed its last verification is passed over while an older one has not.
    const newest = dumps.find((b) => isGood(b.manifest)) ?? dumps[0]
    if (newest) return newest
    throw new UsageError(`no dump of database ${database} in ${dir}`, 'take one first: probe-ops backup database')
  }
  const base = name.replace(/\/+$/, '').split('/').at(-1)!.replace(MANIFEST, '')
  const found = backups.find((b) => b.manifest.id === base || b.manifest.data === base || b.path === name)
  if (found) return found
  const newest = backups.slice(0, 3).map((b) => b.manifest.id)
  throw new UsageError(`no backup "${name}" in ${dir}`, newest.length ? `probe-ops backup list shows them; the newest: ${newest.join(', ')}` : 'there are no backups yet: probe-ops backup database')
}

export async function removeBackup(dir: string, backup: StoredBackup): Promise<void> {
  // The manifest goes first: data without a manifest is a leftover, never a backup that looks whole.
  await rm(join(dir, `${backup.manifest.id}${MANIFEST}`), { force: true })
  await rm(backup.path, { recursive: true, force: true })
}

export async function removeLeftover(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true })
}

/** The fields every manifest shares: who wrote it, when, and no verification yet. */
export function manifestStamp(host: string, toolVersion: string, started: Date, finished = new Date()): Pick<BackupManifest, 'manifestVersion' | 'host' | 'toolVersion' | 'startedAt' | 'finishedAt' | 'durationMs' | 'verifications'> {
  return { manifestVersion: 1, host, toolVersion, startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime(), verifications: [] }
}
