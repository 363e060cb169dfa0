import { lstat, readlink, realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { z } from 'zod'
import { describeError } from '../errors.js'
import { readOwnFile } from '../lib/files.js'
import { isSegmentName } from '../wal/names.js'
import { databasePropertiesSchema } from './database-properties.js'

/**
 * A backup's manifest, as written beside its data and as checked when read: a manifest is input
 * like any file (an older version's, a half-edited one, a forged one), and prune deletes what it
 * names as root. Every field must have its type, and every path it names must be a plain name
 * that resolves inside the backup directory.
 */

export const MANIFEST = '.manifest.json'

/** One level inside the backup directory: no "/", no "..", so no way out of it. */
const plainName = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (name) => name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0'),
    'must be a plain name inside the backup directory (no "/", not "..")',
  )
/** As toISOString() writes it (UTC): newest-first orders compare these as strings. */
const time = z.string().datetime({ message: 'must be a UTC time (ISO 8601, e.g. 2026-11-25T03:00:00.000Z)' })
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex')
const count = z.number().int().nonnegative()

export const verificationSchema = z.object({
  at: time,
  ok: z.boolean(),
  method: z.enum(['checksum', 'list', 'restore-test']),
  durationMs: z.number().nonnegative(),
  detail: z.string(),
})

/** The bytes as a repository holds them, when they differ from the plain ones (encrypted): the same in every repository. */
const storedSchema = z.object({ bytes: count, sha256, md5: z.string().regex(/^[0-9a-f]{32}$/, 'must be an MD5 in hex') }).strict()
const segment = z.string().refine((name) => isSegmentName(name), 'must be a WAL segment name (24 hex digits)')
const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/, 'must be an LSN like 0/68000028')

/** Base backups (v2): what recovery needs, and where the recoverable window starts. */
export const baseWalSchema = z
  .object({
    /** The repository's archive id of the cluster (PostgreSQL version and system identifier's generation). */
    archiveId: z.string().regex(/^\d+-\d+$/, 'must be like 15-1'),
    timeline: z.number().int().positive(),
    start: segment,
    stop: segment,
    startLsn: lsn,
    stopLsn: lsn,
    segmentBytes: z.number().int().positive(),
    systemIdentifier: z.string().regex(/^\d+$/, 'must be a decimal system identifier'),
  })
  .strict()

export const manifestSchema = z
  .object({
    /** 1: a backup in backup.dir as probe-ops before repositories wrote it; 2: in a repository (both read). */
    manifestVersion: z.union([z.literal(1), z.literal(2)]),
    id: plainName,
    kind: z.enum(['database', 'config', 'base']),
    /** Why it was taken: by hand or schedule, or as the safety copy before a restore. */
    reason: z.enum(['manual', 'scheduled', 'safety']),
    /** tar.zst: a base backup as a v2 manifest records it (pg_basebackup's client-side zstd). */
    format: z.enum(['custom', 'directory', 'tar.gz', 'tar.zst']),
    /** The data's name inside the backup directory. */
    data: plainName,
    bytes: count,
    /** SHA-256 of the plain data (what `age -d` gives back); for a directory, of its files' "sha256  name" lines in name order. */
    sha256,
    stored: storedSchema.optional(),
    /** Encrypted with age to these public keys: the identity of one of them restores it. */
    encryption: z
      .object({ format: z.literal('age'), recipients: z.array(z.string().regex(/^age1[0-9a-z]{58}$/)).min(1) })
      .strict()
      .optional(),
    files: z.array(z.object({ name: plainName, bytes: count, sha256, stored: storedSchema.optional() })).optional(),
    wal: baseWalSchema.optional(),
    database: z.string().min(1).optional(),
    serverVersion: z.string().optional(),
    databaseBytes: count.optional(),
    tables: z.array(z.object({ name: z.string(), rows: count })).optional(),
    /** Owner, locale, privileges and settings of the dumped database, for a restore to give back. */
    databaseProperties: databasePropertiesSchema.optional(),
    paths: z.array(z.string()).optional(),
    missingPaths: z.array(z.string()).optional(),
    /** Base backups: the moment after which point-in-time recovery from it can stop. */
    consistentAt: time.optional(),
    host: z.string(),
    toolVersion: z.string(),
    startedAt: time,
    finishedAt: time,
    durationMs: z.number().nonnegative(),
    verifications: z.array(verificationSchema),
  })
  // A newer version's fields survive this one recording a verification.
  .passthrough()

export type BackupManifest = z.infer<typeof manifestSchema>
export type BackupKind = BackupManifest['kind']
export type Verification = z.infer<typeof verificationSchema>

/** A manifest holds a few hundred table names at most: a bigger file is not one, and is not read. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024

export type ManifestReading =
  | { manifest: BackupManifest; path: string }
  /** Refused: why, and the names in the directory it may stand for (never leftovers to remove). */
  | { refused: string; claims: string[] }

function describeIssues(error: z.ZodError): string {
  const issues = error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || 'the file'}: ${issue.message}`)
  return `${issues.join('; ')}${error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : ''}`
}

/**
 * Why `name` in the backup directory is not data a manifest may name, or undefined: it must be
 * missing (verify says so) or there, not a link, and inside the directory once resolved.
 */
export async function foreignData(dir: string, realDir: string, name: string): Promise<string | undefined> {
  if (!plainName.safeParse(name).success) return `its data "${name}" is not a plain name inside the backup directory`
  const path = join(dir, name)
  let found
  try {
    found = await lstat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    return `its data ${path} cannot be looked at: ${describeError(error)}`
  }
  if (found.isSymbolicLink()) return `its data ${path} is a symbolic link (to ${await readlink(path).catch(() => '?')}), not data inside the backup directory`
  if (!found.isFile() && !found.isDirectory()) return `its data ${path} is neither a file nor a directory`
  const real = await realpath(path).catch(() => undefined)
  if (!real || !real.startsWith(`${realDir}${sep}`)) return `its data ${path} resolves outside the backup directory${real ? ` (${real})` : ''}`
  return undefined
}

/** A manifest read as text, checked: its schema, and an id equal to its file's stem. */
export type CheckedManifest = { manifest: BackupManifest } | { refused: string; claims: string[] }

/**
 * Checks a manifest's text (`stem`: its file or key name without .manifest.json), wherever it was
 * read from. Anything that is not a whole manifest probe-ops wrote is refused, with the names it
 * may stand for (never leftovers to remove): its stem, and its `data` when that is a plain name.
 */
export function checkManifest(text: string | (() => string), stem: string): CheckedManifest {
  // Its data keeps its name whatever the manifest's state: a damaged manifest must not turn a whole dump into a leftover.
  const claims = stem ? [stem] : []
  let raw: unknown
  try {
    raw = JSON.parse(typeof text === 'string' ? text : text())
  } catch (error) {
    return { refused: `not a manifest probe-ops wrote: ${describeError(error)}`, claims }
  }
  const data = (raw as { data?: unknown } | null)?.data
  if (typeof data === 'string' && plainName.safeParse(data).success) claims.push(data)
  const parsed = manifestSchema.safeParse(raw)
  if (!parsed.success) return { refused: `not a valid manifest: ${describeIssues(parsed.error)}`, claims }
  // Verification rewrites the manifest under its id: an id other than the file's name would write elsewhere.
  if (parsed.data.id !== stem) return { refused: `a foreign manifest: its id "${parsed.data.id}" is not its file name`, claims }
  return { manifest: parsed.data }
}

/**
 * Reads and checks the manifest `name` in `dir` (`realDir`: its resolved path). Anything that is
 * not a whole manifest probe-ops wrote for data inside the directory is refused: the caller lists
 * it as a problem and never acts on it.
 */
export async function readManifest(dir: string, realDir: string, name: string): Promise<ManifestReading> {
  const stem = name.slice(0, -MANIFEST.length)
  let text: string
  try {
    text = await readOwnFile(join(dir, name), MAX_MANIFEST_BYTES)
  } catch (error) {
    return checkManifest(() => {
      throw error
    }, stem) as ManifestReading
  }
  const checked = checkManifest(text, stem)
  if ('refused' in checked) return checked
  const { manifest } = checked
  const foreign = await foreignData(dir, realDir, manifest.data)
  if (foreign) return { refused: `a foreign manifest: ${foreign}`, claims: [stem, manifest.data] }
  return { manifest, path: join(dir, manifest.data) }
}
