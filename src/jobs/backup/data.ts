import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'
import { diskFailureData, tableRows } from '../shared/backup-data.js'

/** The data of each backup step: what a script or dashboard reads of a backup taken, listed, verified or pruned. */

const backupKind = z.enum(['database', 'config', 'base'])
const count = z.number().int().nonnegative()

/** A database dump taken (backup database, maintain weekly). */
export const dumpData = z.union([
  z
    .object({
      id: z.string().describe('What restore and backup verify take.'),
      path: z.string().describe('The dump: a file (custom format) or a directory (directory format).'),
      bytes: count,
      sha256: z.string(),
      format: z.enum(['custom', 'directory']),
      tables: tableRows.describe("Every table's exact row count, from the dump's own snapshot."),
      durationMs: z.number().nonnegative(),
    })
    .strict(),
  diskFailureData,
])
export type DumpData = z.infer<typeof dumpData>

/** A configuration archive taken (backup config, maintain weekly). */
export const archiveData = z.union([
  z
    .object({
      id: z.string(),
      path: z.string().describe('The tar.gz.'),
      bytes: count,
      sha256: z.string(),
      paths: z.array(z.string()).describe('backup.configPaths archived.'),
      missingPaths: z.array(z.string()).describe('backup.configPaths that do not exist (a warning).'),
    })
    .strict(),
  diskFailureData,
])
export type ArchiveData = z.infer<typeof archiveData>

export const baseData = z.union([
  z
    .object({
      id: z.string(),
      path: z.string().describe("The base backup's directory (pg_basebackup's tar files)."),
      bytes: count,
      consistentAt: z.string().describe('Point-in-time recovery from it can stop at any moment after this.'),
    })
    .strict(),
  diskFailureData,
])
export type BaseData = z.infer<typeof baseData>

export const settingsData = z
  .object({
    commands: z
      .object({
        archive: z.string().describe('The archive_command wanted: probe-ops wal push.'),
        restore: z.string().describe('The restore_command wanted: probe-ops wal fetch.'),
      })
      .strict(),
    current: z
      .object({
        walLevel: z.string(),
        archiveMode: z.string(),
        archiveCommand: z.string(),
        restoreCommand: z.string(),
        archiveTimeout: z.string(),
        pendingRestart: z.array(z.string()).describe('Settings changed that wait for a restart.'),
        sources: z.record(z.string()).describe('Where each setting comes from (pg_settings.source): ALTER SYSTEM cannot change one set on the command line.'),
      })
      .strict(),
    changes: z
      .array(z.object({ name: z.string(), from: z.string(), to: z.string(), needsRestart: z.boolean() }).strict())
      .describe('What differs from what archiving needs.'),
  })
  .strict()
export type SettingsData = z.infer<typeof settingsData>

export const walRepositoriesData = z
  .object({
    repositories: z.array(
      z
        .object({
          name: z.string(),
          state: z.enum(['prepared', 'ready', 'not-prepared', 'other-cluster']).describe('prepared: its cluster file was written or checked by --apply.'),
          archiveId: z.string().optional().describe('The archive its WAL goes to (wal/<archiveId>/).'),
        })
        .strict(),
    ),
  })
  .strict()
export type WalRepositoriesData = z.infer<typeof walRepositoriesData>

export const walCheckData = z
  .object({ segment: z.string().describe('The WAL segment switched to and found in the archive.'), ms: z.number().nonnegative() })
  .strict()
export type WalCheckData = z.infer<typeof walCheckData>

const leftover = z.object({ path: z.string(), why: z.string() }).strict()

export const listData = z
  .object({
    dir: z.string().describe('backup.dir'),
    backups: z
      .array(
        z
          .object({
            id: z.string().describe('What restore and backup verify take.'),
            kind: backupKind,
            reason: z.enum(['manual', 'scheduled', 'safety']).describe('safety: taken by a restore before it changed anything.'),
            path: z.string().describe("The backup's data: a dump file, a dump or base backup directory, or a tar.gz."),
            manifest: z.string().describe('Its manifest (JSON: checksums, tables and row counts, verifications).'),
            age: z.string(),
            startedAt: z.string(),
            bytes: count,
            sha256: z.string(),
            lastVerification: z
              .object({ at: z.string(), ok: z.boolean(), method: z.enum(['checksum', 'list', 'restore-test']) })
              .strict()
              .nullable(),
          })
          .strict(),
      )
      .describe('Newest first.'),
    leftovers: z.array(leftover).describe('What interrupted backups left: restore --cleanup removes them.'),
    unreadable: z.array(leftover).describe('Manifests and files refused: never acted on.'),
    databaseLeftovers: z
      .array(
        z
          .object({
            database: z.string(),
            kind: z.enum(['unfinished-restore', 'pre-restore', 'verify-scratch', 'connections-disabled']),
            what: z.string(),
          })
          .strict(),
      )
      .describe('Databases interrupted restores and verifications left, and the ones kept from before restores.'),
  })
  .strict()
export type ListData = z.infer<typeof listData>

export const checksumData = z
  .object({ id: z.string().describe('The backup verified (named, since "latest" may have chosen it).'), sha256: z.string() })
  .strict()
export type ChecksumData = z.infer<typeof checksumData>

export const readArchiveData = z.object({ entries: count.describe('Entries pg_restore --list reads.'), tables: count.describe('Tables with data.') }).strict()
export type ReadArchiveData = z.infer<typeof readArchiveData>

export const restoreTestData = z
  .object({
    scratchDatabase: z.string().describe('The database it was restored into, and dropped.'),
    restoreMs: z.number().nonnegative().describe('How long the restore took.'),
    tablesCompared: count,
  })
  .strict()
export type RestoreTestData = z.infer<typeof restoreTestData>

export const pruneData = z
  .object({
    keep: z.array(z.object({ id: z.string(), reasons: z.array(z.string()) }).strict()),
    remove: z.array(z.string()).describe('Removed (or, with --dry-run, to be removed).'),
    bytes: count.describe('What they took.'),
    policy: z.object({ last: count, daily: count, weekly: count, monthly: count }).strict().describe('backup.keep'),
  })
  .strict()
export type PruneData = z.infer<typeof pruneData>

export const dataSchemas = {
  'backup-database': { dump: dumpData },
  'backup-config': { archive: archiveData },
  'backup-base': { base: baseData },
  'backup-wal-setup': { settings: settingsData, repositories: walRepositoriesData, check: walCheckData },
  'backup-list': { list: listData },
  'backup-verify': { checksum: checksumData, archive: readArchiveData, 'restore-test': restoreTestData },
  'backup-prune': { prune: pruneData },
} satisfies JobDataSchemas
