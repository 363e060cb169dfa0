/**
 * The names of things in a repository, the same in a local directory and under an S3 prefix
 * (design-14 §2.1). Pure: a key is checked and read here, and stored by a back end.
 *
 *   probe-ops-repository.json                      which cluster the repository belongs to
 *   <data>, <id>.dir/<file>                        a backup's data (today's names)
 *   <id>.manifest.json                             written last: the only thing that lists a backup
 *   wal/<archiveId>/<TL+log>/<name>-<sha256>.<ext> a WAL file, content-addressed
 *   wal/<archiveId>/history/<TL>.history-<sha256>.<ext>
 *   wal/<segment>                                  legacy plain copies (today's archive_command)
 */
import { parseWalFileName, timelineLog } from '../wal/names.js'

export const REPOSITORY_FILE = 'probe-ops-repository.json'
export const MANIFEST_SUFFIX = '.manifest.json'
export const WAL_DIRECTORY = 'wal'

/** S3's limit on a key, less room for a prefix. */
const MAX_KEY_BYTES = 900

/** A point-in-time recovery's data directory in backup.dir: host state, never repository content. */
const RECOVERED_DIRECTORY = /^pitr-\d{8}T\d{6}Z$/

/**
 * Why `key` cannot name something in a repository, or undefined. Keys are relative, "/"-separated,
 * with no empty, "." or ".." part, and no part starting with "." (dotfiles are host state:
 * temporaries, run notes), so that a key maps into a local repository and never out of it.
 */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'an empty key'
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `a key longer than ${MAX_KEY_BYTES} bytes`
  if (key.includes('\0') || key.includes('\\')) return `"${key}" holds a NUL or a backslash`
  const parts = key.split('/')
  if (parts.some((part) => part === '' || part.startsWith('.'))) return `"${key}" has an empty part or a part starting with "."`
  return undefined
}

export function isRepositoryKey(key: string): boolean {
  return keyProblem(key) === undefined
}

/** Whether a top-level name in a local repository is host state rather than repository content. */
export function isHostState(name: string): boolean {
  return name.startsWith('.') || RECOVERED_DIRECTORY.test(name)
}

export function manifestKey(id: string): string {
  return `${id}${MANIFEST_SUFFIX}`
}

/** The id of a manifest's key (top level only), or undefined. */
export function idOfManifestKey(key: string): string | undefined {
  if (!key.endsWith(MANIFEST_SUFFIX) || key.includes('/')) return undefined
  const id = key.slice(0, -MANIFEST_SUFFIX.length)
  return id === '' ? undefined : id
}

/** The keys of a backup's data: one object, or one per file of a directory-format dump. */
export function dataKeys(data: string, files?: readonly { name: string }[]): string[] {
  return files?.length ? files.map((file) => `${data}/${file.name}`) : [data]
}

export type WalCompression = 'zst' | 'gz' | 'none'

export interface WalKey {
  archiveId: string
  /** The file's name as PostgreSQL gave it: a segment, a .history, a .backup or a .partial. */
  name: string
  /** sha256 of the plain file, before compression and encryption. */
  sha256: string
  compression: WalCompression
  encrypted: boolean
}

const ARCHIVE_ID = /^\d+-\d+$/
const SHA256 = /^[0-9a-f]{64}$/
const WAL_KEY = /^wal\/(\d+-\d+)\/([0-9A-F]{16}|history)\/([0-9A-Za-z.]+)-([0-9a-f]{64})(\.zst|\.gz)?(\.age)?$/

/** The directory a WAL file's key lives in, under its archive: TL+log, or history/. */
function walFolder(name: string): string {
  const file = parseWalFileName(name)
  if (!file) throw new RangeError(`${name} is not a WAL file name`)
  return file.kind === 'history' ? 'history' : timelineLog(name)
}

/** Where every copy of the WAL file `name` lives: list this prefix to find them. */
export function walNamePrefix(archiveId: string, name: string): string {
  if (!ARCHIVE_ID.test(archiveId)) throw new RangeError(`${archiveId} is not an archive id (like 15-1)`)
  return `${WAL_DIRECTORY}/${archiveId}/${walFolder(name)}/${name}-`
}

export function walKey(key: WalKey): string {
  if (!SHA256.test(key.sha256)) throw new RangeError('a WAL key needs the sha256 of the plain file')
  const compression = key.compression === 'none' ? '' : `.${key.compression}`
  return `${walNamePrefix(key.archiveId, key.name)}${key.sha256}${compression}${key.encrypted ? '.age' : ''}`
}

/** A WAL key read back; undefined for any other key (a legacy wal/<segment> among them). */
export function parseWalKey(key: string): WalKey | undefined {
  const match = WAL_KEY.exec(key)
  if (!match) return undefined
  const [, archiveId, folder, name, sha256, compression, age] = match
  const file = parseWalFileName(name!)
  if (!file || (file.kind === 'history') !== (folder === 'history')) return undefined
  if (file.kind !== 'history' && timelineLog(name!) !== folder) return undefined
  return {
    archiveId: archiveId!,
    name: name!,
    sha256: sha256!,
    compression: compression === undefined ? 'none' : (compression.slice(1) as WalCompression),
    encrypted: age !== undefined,
  }
}

/** A plain copy today's `cp` archive_command left: wal/<file name>. */
export function isLegacyWalKey(key: string): boolean {
  return key.startsWith(`${WAL_DIRECTORY}/`) && parseWalFileName(key.slice(WAL_DIRECTORY.length + 1)) !== undefined
}

export interface ListedObject {
  key: string
  bytes: number
  modifiedAt: Date
}

export interface Leftover {
  key: string
  why: string
}

/**
 * The data keys no manifest claims and that are older than `graceMs` (a younger one may be
 * mid-commit: data is written before its manifest). `claimed` holds the data keys of every
 * manifest read, refused ones included (their data is not a leftover to remove). Manifests, the
 * repository file and WAL are never leftovers here: WAL has its own expiry.
 */
export function leftovers(objects: Iterable<ListedObject>, claimed: ReadonlySet<string>, now: Date, graceMs: number): Leftover[] {
  const found: Leftover[] = []
  for (const object of objects) {
    const { key } = object
    if (key === REPOSITORY_FILE || idOfManifestKey(key) !== undefined || key.startsWith(`${WAL_DIRECTORY}/`)) continue
    if (claimed.has(key) || claimed.has(key.split('/')[0]!)) continue
    if (now.getTime() - object.modifiedAt.getTime() < graceMs) continue
    found.push({ key, why: 'data without a manifest (a backup that never finished)' })
  }
  return found
}
