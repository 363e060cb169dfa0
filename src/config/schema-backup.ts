import { z } from 'zod'
import { recipientProblem } from '../systems/age-keys.js'
import { RANGES } from './ranges.js'
import { absolutePath, checkBackupPlaces, repositoriesSchema } from './repositories.js'
import { duration, seconds } from './schema-units.js'

/** The `backup` and `restore` sections: where backups go, how they are kept and checked, and how a restore runs. */

const recipient = z.string().superRefine((value, context) => {
  const problem = recipientProblem(value.trim(), 'the recipient')
  if (problem !== undefined) context.addIssue({ code: z.ZodIssueCode.custom, message: problem.message })
})

export const encryptionSchema = z
  .object({
    /** age public keys (age1…): every backup and WAL segment is encrypted to all of them. */
    recipients: z.array(recipient).min(1, 'must list at least one age public key (age-keygen prints it)'),
    /** The secret keys, only on hosts that restore (never needed to back up); a regular file, not world-readable. */
    identityFile: absolutePath.optional(),
    /** auto: the age program when installed (about ten times faster), else the library. */
    program: z.enum(['auto', 'program', 'library']).default('auto'),
  })
  .strict()

export const backupSection = z
  .object({
    /** Where backups live; made 0700 when probe-ops creates it. */
    dir: z.string().min(1).default('/var/backups/network-probe'),
    /** pg_dump on this host, or inside the postgres service's container (docker exec). */
    runner: z.enum(['host', 'container']).default('host'),
    /** Where pg_dump, pg_restore and psql are, on the host or in the container. */
    binDir: z.string().min(1).default('/usr/lib/postgresql/15/bin'),
    /** custom: one file; directory: one file per table, dumped and restored with `jobs` workers. */
    format: z.enum(['custom', 'directory']).default('custom'),
    jobs: z.number().int().min(1).max(64).default(2),
    /**
     * Compression level of the dump (0-9). 1 halves dump time against 6 for a dump about a
     * fifth larger (docs/benchmarks.md, issue 4), and every restore takes a safety dump.
     */
    compress: z.number().int().min(0).max(9).default(1),
    /** The WAL archive PostgreSQL copies finished segments into (archive_command); default DIR/wal. */
    walDir: z.string().min(1).optional(),
    /** What `backup config` archives. */
    configPaths: z
      .array(z.string().min(1))
      .default(['/etc/network-probe', '/opt/network-probe/docker-compose.yml', '/opt/network-probe/.env', '/etc/prometheus', '/etc/alertmanager']),
    keep: z
      .object({
        /**
         * The newest N of each kind whatever their day (restic's --keep-last, pgBackRest's count
         * retention), beside the day/week/month buckets, which keep one per day: with 3, a dump
         * taken by hand before an upgrade outlives the nightly dump of that day and the next two
         * nights. It only ever keeps more than the buckets alone (0: the buckets alone).
         */
        last: z.number().int().min(0).default(3),
        daily: z.number().int().min(0).default(7),
        weekly: z.number().int().min(0).default(4),
        monthly: z.number().int().min(0).default(6),
      })
      .strict()
      .default({}),
    /** Where backups and WAL are kept, in order of preference; without it, backup.dir is the one local repository. */
    repositories: repositoriesSchema.optional(),
    /** At-rest encryption with age: a backup host needs only the public keys. */
    encryption: encryptionSchema.optional(),
    wal: z
      .object({
        /** How `wal push` compresses a segment (zstd: a fifth of gzip's time for the same size). */
        compress: z.enum(['zstd', 'gzip', 'none']).default('zstd'),
        /** The bound on one whole push: then it exits 1 and PostgreSQL tries again. */
        pushTimeoutSeconds: seconds(RANGES.budget).default(60),
        /** The archive_timeout `backup wal-setup` sets: how much is lost at most while the database is idle. */
        archiveTimeoutSeconds: seconds(RANGES.budget).default(300),
        /** The program PostgreSQL runs, as its words (default: this Node and this probe-ops). */
        command: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
    /** How old the newest backup of each kind, and the last verification, may be before diagnose says so. */
    maxAge: z
      .object({
        database: duration(RANGES.year).default('26h'),
        base: duration(RANGES.year).default('8d'),
        config: duration(RANGES.year).default('8d'),
        verification: duration(RANGES.year).default('8d'),
      })
      .strict()
      .default({}),
    /** What `backup verify --restore-test` holds the rehearsal to: a longer restore or data-loss window is a warning. */
    objectives: z
      .object({
        rtoSeconds: seconds(RANGES.budget).optional(),
        rpoSeconds: seconds(RANGES.budget).optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((backup, context) => checkBackupPlaces(backup, context))
  .default({})

export const restoreSection = z
  .object({
    /** Services stopped for the swap and started after it. */
    stopServices: z.array(z.string().min(1)).default(['management']),
    /** Free space that must remain on the database's disk after a restore. */
    reserveBytes: z
      .number()
      .int()
      .min(0)
      .default(1024 * 1024 * 1024),
    /** The disk checked for that: PostgreSQL's data directory, when probe-ops can see it. */
    dataDirPath: z.string().min(1).optional(),
    /** Point-in-time recovery: the port the recovered cluster starts on beside the live one (0: any free port). */
    pitrPort: z.number().int().min(0).max(65535).default(0),
    /** WAL segments fetched ahead of replay during a physical restore. */
    walPrefetch: z.number().int().min(1).max(256).default(8),
    /** Segments fetched at once. */
    walFetchConcurrency: z.number().int().min(1).max(32).default(4),
    /** The bound on replaying WAL after a base backup is unpacked. */
    recoveryTimeoutSeconds: seconds(RANGES.budget).default(3600),
  })
  .strict()
  .default({})
