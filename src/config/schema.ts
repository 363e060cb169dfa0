import { z } from 'zod'
import { agentsSection, lokiSection, monitoringSection } from './platform.js'
import { RANGES } from './ranges.js'
import { backupSection, restoreSection } from './schema-backup.js'
import { certificatesSchema, securitySchema } from './schema-checks.js'
import { RUNTIMES, serviceSchema } from './schema-services.js'
import { days, duration, hours, milliseconds, percent, seconds } from './schema-units.js'

export { READINESS_CHECKS, RUNTIMES, type ReadinessCheck, type Runtime, type ServiceFileEntry } from './schema-services.js'

/**
 * The configuration file's shape. Every key has a default that matches the guide's
 * docker-compose deployment, so a site laid out like the guide needs no file. Objects are
 * strict: an unknown key is an error that names it, never silently ignored.
 */

const identifier = z.string().regex(/^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/i, 'a table or column name (schema.table allowed)')

const cleanupRule = z
  .object({
    /** The directory searched (recursively); symlinks are never followed. */
    path: z.string().min(1),
    /** A glob on the file name: * and ? */
    pattern: z.string().min(1),
    olderThanDays: days.positive(),
  })
  .strict()

const retentionRule = z
  .object({
    table: identifier,
    /** The timestamp column rows age by. */
    column: identifier,
    days: z.number().int().positive(),
  })
  .strict()

export const configSchema = z
  .object({
    /** The name reports and alerts give this machine (default: the host name). */
    host: z.string().min(1).optional(),
    /** The runtime of services that do not name their own. */
    runtime: z.enum(RUNTIMES).default('docker'),
    docker: z
      .object({
        /** unix:///path or tcp://host:port; $DOCKER_HOST when unset. */
        host: z.string().min(1).optional(),
        /** Only containers of this compose project are considered, when set. */
        composeProject: z.string().min(1).optional(),
        timeoutSeconds: seconds(RANGES.check).default(5),
      })
      .strict()
      .default({}),
    systemd: z
      .object({
        /** Each systemctl and journalctl call of a systemd service's look (state, logs). */
        timeoutSeconds: seconds(RANGES.check).default(5),
      })
      .strict()
      .default({}),
    postgres: z
      .object({
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65535).optional(),
        user: z.string().min(1).optional(),
        database: z.string().min(1).optional(),
        /** A file holding the password; $PGPASSWORD otherwise. */
        passwordFile: z.string().min(1).optional(),
        sslmode: z.enum(['disable', 'prefer', 'require', 'verify-full']).default('disable'),
        connectTimeoutSeconds: seconds(RANGES.check).default(5),
        statementTimeoutSeconds: seconds(RANGES.statement).default(30),
      })
      .strict()
      .default({}),
    redis: z
      .object({
        /** redis://[[user]:password@]host:port[/db] (a user: a Redis 6 ACL user); $REDIS_URL when unset. */
        url: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
        timeoutSeconds: seconds(RANGES.check).default(5),
      })
      .strict()
      .default({}),
    alertmanager: z
      .object({
        /** $ALERTMANAGER_URL when unset. */
        url: z.string().url().optional(),
        /** Basic auth (AlertManager's web.config.file, or a proxy in front of it): the user, and a file holding the password. */
        user: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
        timeoutSeconds: seconds(RANGES.check).default(5),
      })
      .strict()
      .default({}),
    services: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'service names are lower-case words'), serviceSchema).default({}),
    disk: z
      .object({
        paths: z.array(z.string().min(1)).min(1).default(['/']),
        warningPercent: percent.default(80),
        criticalPercent: percent.default(90),
      })
      .strict()
      .default({}),
    log: z
      .object({
        /** The JSON-lines maintenance log Promtail reads; empty string turns it off. */
        file: z.string().default('/var/log/network-probe/maintenance.log'),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        /** node_exporter's textfile collector directory; unset writes no metrics. */
        textfileDir: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    lock: z
      .object({
        dir: z.string().min(1).default('/run/lock/probe-ops'),
      })
      .strict()
      .default({}),
    cleanup: z
      .object({
        logs: z.array(cleanupRule).default([
          { path: '/var/log/network-probe', pattern: '*.log', olderThanDays: 30 },
          { path: '/var/log/network-probe', pattern: '*.log.*', olderThanDays: 7 },
        ]),
        temp: z.array(cleanupRule).default([{ path: '/tmp', pattern: 'network-probe-*', olderThanDays: 1 }]),
      })
      .strict()
      .default({}),
    retention: z
      .object({
        rules: z.array(retentionRule).default([{ table: 'task_results', column: 'execution_time', days: 90 }]),
        /**
         * The rows a batch aims at (each batch is its own short transaction); none commits more than
         * twice this. 20000: about 1.14x the single DELETE's cost with batches of ~10 ms on the issue-3
         * benchmark, against 1.34x at 5000 (docs/benchmarks.md).
         */
        batchRows: z.number().int().min(1).max(1_000_000).default(20000),
        /** The duration a batch aims at: a batch's time window narrows when the last one took longer. */
        batchTargetMs: milliseconds({ ...RANGES.batch, min: 1 }).default(500),
        /** A pause between batches, to leave room for the platform's own writes. */
        pauseMs: milliseconds(RANGES.batch).default(0),
        /** The whole step's time budget; what is left is deleted by the next run. */
        budgetSeconds: seconds(RANGES.budget).default(3600),
        /** How long a batch may wait for a row lock before it is retried. */
        lockTimeoutMs: milliseconds({ ...RANGES.batch, min: 1 }).default(2000),
        /** The bound on one batch's statement. */
        batchTimeoutSeconds: seconds(RANGES.statement).default(30),
      })
      .strict()
      .default({}),
    reindex: z
      .object({
        /** An index with at least this much of its size wasted is rebuilt. */
        minBloatPercent: percent.default(30),
        /** Smaller indexes are left alone: rebuilding them gains nothing. */
        minIndexBytes: z
          .number()
          .int()
          .min(0)
          .default(10 * 1024 * 1024),
        /** The bound on one rebuild. */
        timeoutSeconds: seconds(RANGES.budget).default(3600),
      })
      .strict()
      .default({}),
    backup: backupSection,
    restore: restoreSection,
    alerts: z
      .object({
        /** How long a pushed alert stays firing unless pushed again (a daily job: a bit over a day). */
        ttlHours: hours(RANGES.year).default(26),
      })
      .strict()
      .default({}),
    diagnose: z
      .object({
        /** How far back recent errors are read from service logs. */
        since: duration(RANGES.since).default('1h'),
        /** Each check's own bound. */
        checkTimeoutSeconds: seconds(RANGES.check).default(5),
        /** How many of the newest error lines each service shows. */
        errorLines: z.number().int().min(0).max(100).default(5),
        /** An HTTP check slower than this is a warning. */
        slowHttpMs: milliseconds({ ...RANGES.check, min: 1 }).default(1000),
      })
      .strict()
      .default({}),
    reports: z
      .object({
        /** Where capacity-report and report performance keep their reports, one file per day (dashboards and forecasts read them); '' keeps none. */
        dir: z.string().default('/var/lib/probe-ops/reports'),
      })
      .strict()
      .default({}),
    prometheus: z
      .object({
        /** The Prometheus the performance report queries; $PROMETHEUS_URL when unset, else http://localhost:9090; '' leaves Prometheus out. */
        url: z.union([z.literal(''), z.string().url()]).optional(),
        /** Basic auth: the user, and a file holding the password. */
        user: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
        timeoutSeconds: seconds(RANGES.check).default(5),
      })
      .strict()
      .default({}),
    loki: lokiSection,
    monitoring: monitoringSection,
    agents: agentsSection,
    capacity: z
      .object({
        /** Days of per-day row counts and of saved history the growth lines are fitted over (--days). */
        days: z.number().int().min(2).max(3650).default(30),
        /** Where PostgreSQL keeps its data on this host (default: restore.dataDirPath, or the server's data_directory when it is on this host). */
        dataPath: z.string().min(1).optional(),
        /** A disk that fills within this many days is a warning ... */
        fillWarningDays: days.positive().default(30),
        /** ... and within this many, a failed step. */
        fillCriticalDays: days.positive().default(7),
        /** Saved history is trusted over measured growth once it has this many reports ... */
        minHistoryPoints: z.number().int().min(2).default(3),
        /** ... spanning this many days. */
        minHistoryDays: days.positive().default(7),
        /** More rows than this in the window: per-day counts come from planner statistics, not an index range scan. */
        maxScanRows: z.number().int().positive().default(20_000_000),
        /** Tables of at least this share of the database get their own growth line. */
        largeTablePercent: percent.default(5),
      })
      .strict()
      .refine((c) => c.fillCriticalDays <= c.fillWarningDays, { message: 'must not be more than fillWarningDays', path: ['fillCriticalDays'] })
      .default({}),
    performance: z
      .object({
        /** The Prometheus window of throughput, failure rate and latency: 30m, 1d, 7d. */
        window: duration(RANGES.window).default('1d'),
        /** How many statements and tables each list shows. */
        top: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .default({}),
    certificates: certificatesSchema,
    security: securitySchema,
  })
  .strict()

export type ConfigFile = z.input<typeof configSchema>
export type ParsedConfig = z.output<typeof configSchema>
