import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'
import { diskFailureData, tableRows } from '../shared/backup-data.js'

/** The data of each backup step: what a script or dashboard reads of a backup taken, listed, verified or pruned. */

const backupKind = z.enum(['database', 'config', 'base'])
const count = z.number().int().nonnegative()

const incompleteUpload = z.strictObject({ key: z.string(), uploadId: z.string(), initiated: z.string().describe('When the upload started (ISO 8601).') })

/** A repository's S3 multipart uploads started over 24 h ago and never completed, or why that is unknown. */
const incompleteUploads = z
  .strictObject({
    checked: z.boolean().describe('false: the server cannot list them (s3rver, some gateways), or the listing failed: whether some are left is unknown.'),
    why: z.string().optional().describe('Why they were not checked.'),
    uploads: z.array(incompleteUpload).describe('Found (prune: aborted, or with --dry-run, to be aborted).'),
  })
  .describe('S3 repositories only.')

const sha256 = z.string().describe('SHA-256 of the plain data (what `age -d` gives back when encrypted).')

/** What every backup taken reports: its checksums, and where it was stored (design-14 §5.1). */
const taken = {
  id: z.string().describe('What restore and backup verify take.'),
  path: z.string().optional().describe('The data in the first local repository that holds it (absent when none does).'),
  bytes: count.describe('Size of the plain data.'),
  sha256,
  stored: z
    .strictObject({ bytes: count, sha256: z.string(), md5: z.string() })
    .optional()
    .describe('The bytes as every repository holds them, when they differ from the plain ones (encrypted).'),
  copies: z
    .array(
      z.strictObject({
        repository: z.string().describe('Its name in backup.repositories ("local" for backup.dir alone).'),
        committed: z.boolean().describe('The data is there, read back, with its manifest: a backup listed there.'),
        readBack: z
          .enum(['reread', 'etag', 'full'])
          .optional()
          .describe('How the stored bytes were checked: a local re-read, the ETag and size, or a full GET.'),
        error: z.string().optional().describe('Why it is not stored there.'),
      }),
    )
    .describe('One per repository, in configuration order: the step fails when one is not committed.'),
}

/** A database dump taken (backup database, maintain weekly). */
export const dumpData = z.union([
  z.strictObject({
    ...taken,
    format: z.enum(['custom', 'directory']),
    tables: tableRows.describe("Every table's exact row count, from the dump's own snapshot."),
    durationMs: z.number().nonnegative(),
  }),
  diskFailureData,
])
export type DumpData = z.infer<typeof dumpData>

/** A configuration archive taken (backup config, maintain weekly). */
export const archiveData = z.union([
  z.strictObject({
    ...taken,
    paths: z.array(z.string()).describe('backup.configPaths archived.'),
    missingPaths: z.array(z.string()).describe('backup.configPaths that do not exist (a warning).'),
  }),
  diskFailureData,
])
export type ArchiveData = z.infer<typeof archiveData>

export const baseData = z.union([
  z.strictObject({
    ...taken,
    consistentAt: z.string().describe('Point-in-time recovery from it can stop at any moment after this.'),
    wal: z
      .strictObject({ timeline: count, start: z.string(), stop: z.string() })
      .optional()
      .describe('The WAL segments it needs: recovery replays the archive from start on.'),
  }),
  diskFailureData,
])
export type BaseData = z.infer<typeof baseData>

export const settingsData = z.strictObject({
  commands: z.strictObject({
    archive: z.string().describe('The archive_command wanted: probe-ops wal push.'),
    restore: z.string().describe('The restore_command wanted: probe-ops wal fetch.'),
  }),
  current: z.strictObject({
    walLevel: z.string(),
    archiveMode: z.string(),
    archiveCommand: z.string(),
    restoreCommand: z.string(),
    archiveTimeout: z.string(),
    pendingRestart: z.array(z.string()).describe('Settings changed that wait for a restart.'),
    sources: z.record(z.string()).describe('Where each setting comes from (pg_settings.source): ALTER SYSTEM cannot change one set on the command line.'),
  }),
  changes: z
    .array(z.strictObject({ name: z.string(), from: z.string(), to: z.string(), needsRestart: z.boolean() }))
    .describe('What differs from what archiving needs.'),
})
export type SettingsData = z.infer<typeof settingsData>

export const walRepositoriesData = z.strictObject({
  repositories: z.array(
    z.strictObject({
      name: z.string(),
      state: z
        .enum(['prepared', 'ready', 'not-prepared', 'other-cluster', 'new-archive'])
        .describe('prepared: its cluster file was written or checked by --apply; new-archive: --new-archive started a generation for this server.'),
      archiveId: z.string().optional().describe('The archive its WAL goes to (wal/<archiveId>/).'),
    }),
  ),
})
export type WalRepositoriesData = z.infer<typeof walRepositoriesData>

export const walCheckData = z.strictObject({
  segment: z.string().describe('The WAL segment switched to and found in the archive.'),
  ms: z.number().nonnegative(),
})
export type WalCheckData = z.infer<typeof walCheckData>

const walGap = z.strictObject({
  archiveId: z.string(),
  timeline: count,
  first: z.string().describe('The first segment missing.'),
  last: z.string().describe('The last segment missing.'),
  count: count,
})

/** A repository's recoverable windows and the gaps in its WAL (design-14 §4.5). */
export const walWindowsData = z.strictObject({
  windows: z
    .array(
      z.strictObject({
        base: z.string().describe('The base backup recovery starts from.'),
        archiveId: z.string(),
        from: z.string().describe('When the base is consistent: the earliest --target-time from it.'),
        to: z.string().describe('The archived time of the last segment its WAL chain reaches without a hole: the latest target from it.'),
        lastSegment: z.string().optional(),
        reachesStop: z.boolean().describe('false: the WAL it was taken over is not all archived (it recovers from its own pg_wal, to its end only).'),
        endsAtGap: walGap.optional().describe('The gap its chain stops at.'),
      }),
    )
    .describe('One per base backup that records its WAL, oldest first.'),
  gaps: z
    .array(walGap)
    .describe('Segments missing between the oldest base backup kept and the newest archived segment: point-in-time recovery cannot cross them.'),
  newest: z.strictObject({ segment: z.string(), archivedAt: z.string() }).optional().describe('The segment archived last.'),
  files: count.describe('WAL files the repository holds.'),
  bytes: count.describe('What they take as stored.'),
  unreadHistories: z.array(z.string()).describe('Timeline history files that could not be read: windows then stop where the timeline changed.'),
})
export type WalWindowsData = z.infer<typeof walWindowsData>

const leftover = z.strictObject({
  path: z.string().describe('A path, or s3://bucket/prefix/key.'),
  why: z.string(),
  repository: z.string().optional(),
  key: z.string().optional(),
})
const lastVerification = z.strictObject({ at: z.string(), ok: z.boolean(), method: z.enum(['checksum', 'list', 'restore-test']) }).nullable()

export const listData = z.strictObject({
  dir: z.string().describe('backup.dir'),
  repositories: z
    .array(
      z.strictObject({
        name: z.string(),
        where: z.string().describe('local PATH, or s3://bucket/prefix/ at host:port.'),
        backups: count.nullable().describe('null when it could not be read: what it holds is unknown, never 0.'),
        readable: z.boolean().describe('false: it could not be read, and what it holds is unknown (a high finding says why).'),
        incompleteUploads: incompleteUploads.optional(),
        wal: walWindowsData
          .optional()
          .describe(
            'Its recoverable windows and WAL gaps; absent when it holds no base backup that records its WAL (wal/ is then not read), or wal/ could not be read (a finding says why).',
          ),
      }),
    )
    .describe('The repositories read (backup.repositories, or those --repository picks).'),
  backups: z
    .array(
      z.strictObject({
        id: z.string().describe('What restore and backup verify take.'),
        kind: backupKind,
        reason: z.enum(['manual', 'scheduled', 'safety']).describe('safety: taken by a restore before it changed anything.'),
        path: z.string().describe("The first copy's data: a dump file, a dump or base backup directory, a tar.gz, or s3://bucket/prefix/key."),
        manifest: z.string().describe("The first copy's manifest (JSON: checksums, tables and row counts, verifications)."),
        age: z.string(),
        startedAt: z.string(),
        bytes: count,
        sha256: z.string(),
        encrypted: z.boolean().describe('Encrypted with age: restoring it needs backup.encryption.identityFile.'),
        lastVerification: lastVerification.describe('The newest verification of any copy.'),
        copies: z
          .array(z.strictObject({ repository: z.string(), path: z.string(), manifest: z.string(), lastVerification }))
          .describe('One per repository that holds it whole, in configuration order.'),
      }),
    )
    .describe('Newest first.'),
  leftovers: z.array(leftover).describe('What interrupted backups left: restore --cleanup removes them.'),
  unreadable: z.array(leftover).describe('Manifests and files refused: never acted on.'),
  databaseLeftovers: z
    .array(
      z.strictObject({
        database: z.string(),
        kind: z.enum(['unfinished-restore', 'pre-restore', 'verify-scratch', 'connections-disabled']),
        what: z.string(),
      }),
    )
    .describe('Databases interrupted restores and verifications left, and the ones kept from before restores.'),
})
export type ListData = z.infer<typeof listData>

export const checksumData = z.strictObject({
  id: z.string().describe('The backup verified (named, since "latest" may have chosen it).'),
  sha256: z.string(),
  copies: z
    .array(
      z.strictObject({
        repository: z.string(),
        ok: z.boolean(),
        plainChecked: z.boolean().describe('false: encrypted, and only its stored bytes were checked (no identityFile on this host).'),
        error: z.string().optional(),
      }),
    )
    .describe('Each copy checked, in configuration order.'),
})
export type ChecksumData = z.infer<typeof checksumData>

export const readArchiveData = z.strictObject({ entries: count.describe('Entries pg_restore --list reads.'), tables: count.describe('Tables with data.') })
export type ReadArchiveData = z.infer<typeof readArchiveData>

/** What every restore test reports, passed or failed: which copy, and when the test began. */
const restoreTestCopy = {
  kind: z.enum(['database', 'base']).describe('What was restored: a dump into a scratch database, or a base backup into a scratch cluster.'),
  repository: z.string().describe('The repository whose copy was restored.'),
  startedAt: z.string().describe('When the test began (ISO 8601): the moment the data-loss window is measured at.'),
}

/** The figures of a restore test that passed (design-14 §7.3). */
const restoreTestFigures = {
  rtoSeconds: z.number().nonnegative().describe('The achieved restore time: from reading the copy until the data was restored and checked.'),
  rpoSeconds: z
    .number()
    .describe('The data-loss window: a loss at the start of the test would have lost everything since recoveredTo (or the newest WAL replayed).'),
  recoveredTo: z.string().nullable().describe("The newest moment the restore gave back (ISO 8601): the dump's start, or the last transaction replayed."),
  objectives: z
    .strictObject({ rtoSeconds: z.number().optional(), rpoSeconds: z.number().optional() })
    .describe('backup.objectives the figures were held to: above one, a medium finding.'),
}

export const restoreTestData = z.union([
  z.strictObject({
    ...restoreTestCopy,
    ...restoreTestFigures,
    kind: z.literal('database'),
    scratchDatabase: z.string().describe('The database it was restored into, and dropped.'),
    restoreMs: z.number().nonnegative().describe('How long the restore took (pg_restore, without the count check).'),
    tablesCompared: count,
  }),
  z.strictObject({
    ...restoreTestCopy,
    ...restoreTestFigures,
    kind: z.literal('base'),
    scratchDirectory: z.string().describe('The data directory in backup.dir it was unpacked into, started on a side port, and removed.'),
    port: z.number().int().min(1).describe('The side port the scratch cluster ran on.'),
    lastSegment: z.string().optional().describe("The last WAL segment recovery replayed (from the promoted timeline's history file)."),
    lastSegmentArchivedAt: z.string().optional().describe('When that segment was archived, in the first repository that holds it.'),
    tables: count.describe('Tables of the configured database in the recovered cluster (counted as the check).'),
    rows: count,
  }),
  z.strictObject({ ...restoreTestCopy, failed: z.literal(true) }).describe('The restore test failed: its error says why; no figures.'),
])
export type RestoreTestData = z.infer<typeof restoreTestData>

export const walChainData = z.strictObject({
  base: z.string(),
  wal: z.strictObject({ archiveId: z.string(), timeline: count, start: z.string(), stop: z.string() }),
  repositories: z
    .array(
      z.strictObject({
        name: z.string(),
        missing: z.array(z.string()).describe('Segments from start to stop that are not archived there.'),
        recoverable: walWindowsData,
      }),
    )
    .describe('Each repository that holds the base backup and whose wal/ could be read.'),
})
export type WalChainData = z.infer<typeof walChainData>

const keepPolicy = z.strictObject({ last: count, daily: count, weekly: count, monthly: count })

const walExpiryData = z.strictObject({
  floor: z
    .strictObject({ archiveId: z.string(), segment: z.string(), base: z.string() })
    .optional()
    .describe("Where the kept WAL starts: the oldest kept base backup's first segment; absent when no base backup is kept (nothing is removed)."),
  files: count.describe('WAL files older than the floor (with --dry-run or prune: false, to be removed).'),
  bytes: count.describe('What they take as stored.'),
  archivesRemoved: z.array(z.string()).describe('Archive generations older than the floor, removed whole.'),
  removed: count.describe('WAL files removed by this run.'),
  failed: z.array(z.strictObject({ key: z.string(), error: z.string() })).describe('WAL files the repository refused to delete.'),
  note: z.string().optional().describe('Why nothing is removed by setting (prune: false).'),
  after: walWindowsData.optional().describe('The recoverable windows and WAL gaps with what this run keeps.'),
})

export const pruneData = z.strictObject({
  keep: z.array(z.strictObject({ id: z.string(), reasons: z.array(z.string()) })),
  remove: z.array(z.string()).describe('Removed (or, with --dry-run, to be removed).'),
  bytes: count.describe('What they took.'),
  policy: keepPolicy.describe('backup.keep'),
  repositories: z
    .array(
      z.strictObject({
        name: z.string(),
        pruned: z.boolean().describe('false: prune: false in its configuration (retention is left to a bucket lifecycle rule).'),
        policy: keepPolicy.describe("The repository's keep, else backup.keep."),
        keep: z.array(z.strictObject({ id: z.string(), reasons: z.array(z.string()) })),
        remove: z.array(z.string()),
        failed: z.array(z.strictObject({ id: z.string(), error: z.string() })).describe('Backups or keys the repository refused to delete.'),
        leftoversRemoved: z.array(z.string()).describe('S3 data without a manifest older than 24 h, removed (or, with --dry-run, to be removed).'),
        incompleteUploads: incompleteUploads.optional().describe('S3 repositories with prune enabled: incomplete uploads over 24 h old, aborted.'),
        wal: walExpiryData.optional().describe('The WAL no kept base backup needs; absent when wal/ could not be read (a finding says why).'),
      }),
    )
    .describe('Each repository pruned, in configuration order.'),
})
export type PruneData = z.infer<typeof pruneData>

export const dataSchemas = {
  'backup-database': { dump: dumpData },
  'backup-config': { archive: archiveData },
  'backup-base': { base: baseData },
  'backup-wal-setup': { settings: settingsData, repositories: walRepositoriesData, check: walCheckData },
  'backup-list': { list: listData },
  'backup-verify': { checksum: checksumData, archive: readArchiveData, 'restore-test': restoreTestData, wal: walChainData },
  'backup-prune': { prune: pruneData },
} satisfies JobDataSchemas
