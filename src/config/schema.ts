import { z } from 'zod'

/**
 * The configuration file's shape. Every key has a default that matches the guide's
 * docker-compose deployment, so a site laid out like the guide needs no file. Objects are
 * strict: an unknown key is an error that names it, never silently ignored.
 */

const seconds = z.number().positive()
const percent = z.number().min(0).max(100)

export const RUNTIMES = ['docker', 'systemd', 'process'] as const
export const READINESS_CHECKS = ['http', 'postgres', 'redis', 'running'] as const

const serviceSchema = z
  .object({
    enabled: z.boolean().optional(),
    /** How the service runs; defaults to the top-level `runtime`. */
    runtime: z.enum(RUNTIMES).optional(),
    /** docker: container name (default: the service name). */
    container: z.string().min(1).optional(),
    /** docker: the compose service label, used when no container has the name. */
    composeService: z.string().min(1).optional(),
    /** systemd: the unit (default: network-probe-<service>.service). */
    unit: z.string().min(1).optional(),
    /** process: a pid file and the log file it writes. */
    pidFile: z.string().min(1).optional(),
    logFile: z.string().min(1).optional(),
    /** What "ready" means for this service. */
    readiness: z.enum(READINESS_CHECKS).optional(),
    /** For http readiness: the health URL. */
    url: z.string().url().optional(),
    dependsOn: z.array(z.string().min(1)).optional(),
    /** PostgreSQL: the data directory that must exist before a restart. */
    dataDir: z.string().min(1).optional(),
    /** process: the command that starts it (an argument list, never a shell string). */
    start: z.array(z.string().min(1)).min(1).optional(),
    /** How long recover waits for readiness after a start or restart. */
    readinessTimeoutSeconds: seconds.optional(),
    /** How long a stop waits before the runtime kills the service. */
    stopGraceSeconds: z.number().int().min(0).optional(),
    /** Silences recover sets while it works: each entry is a matcher set such as 'alertname=~"A|B", job="x"'. */
    silences: z.array(z.string().min(1)).optional(),
  })
  .strict()

const identifier = z.string().regex(/^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/i, 'a table or column name (schema.table allowed)')

const cleanupRule = z
  .object({
    /** The directory searched (recursively); symlinks are never followed. */
    path: z.string().min(1),
    /** A glob on the file name: * and ? */
    pattern: z.string().min(1),
    olderThanDays: z.number().positive(),
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
        timeoutSeconds: seconds.default(5),
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
        connectTimeoutSeconds: seconds.default(5),
        statementTimeoutSeconds: seconds.default(30),
      })
      .strict()
      .default({}),
    redis: z
      .object({
        /** redis://[:password@]host:port[/db]; $REDIS_URL when unset. */
        url: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
        timeoutSeconds: seconds.default(5),
      })
      .strict()
      .default({}),
    alertmanager: z
      .object({
        /** $ALERTMANAGER_URL when unset. */
        url: z.string().url().optional(),
        timeoutSeconds: seconds.default(5),
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
        /** Rows deleted per batch; each batch is its own short transaction. */
        batchRows: z.number().int().min(1).max(1_000_000).default(5000),
        /** A pause between batches, to leave room for the platform's own writes. */
        pauseMs: z.number().int().min(0).default(0),
        /** The whole step's time budget; what is left is deleted by the next run. */
        budgetSeconds: seconds.default(3600),
        /** How long a batch may wait for a row lock before it is retried. */
        lockTimeoutMs: z.number().int().positive().default(2000),
        /** The bound on one batch's statement. */
        batchTimeoutSeconds: seconds.default(30),
      })
      .strict()
      .default({}),
    reindex: z
      .object({
        /** An index with at least this much of its size wasted is rebuilt. */
        minBloatPercent: percent.default(30),
        /** Smaller indexes are left alone: rebuilding them gains nothing. */
        minIndexBytes: z.number().int().min(0).default(10 * 1024 * 1024),
        /** The bound on one rebuild. */
        timeoutSeconds: seconds.default(3600),
      })
      .strict()
      .default({}),
    alerts: z
      .object({
        /** How long a pushed alert stays firing unless pushed again (a daily job: a bit over a day). */
        ttlHours: z.number().positive().default(26),
      })
      .strict()
      .default({}),
    diagnose: z
      .object({
        /** How far back recent errors are read from service logs. */
        since: z.string().regex(/^\d+[smhd]$/, 'a duration such as 30m, 1h or 2d').default('1h'),
        /** Each check's own bound. */
        checkTimeoutSeconds: seconds.default(5),
        /** How many of the newest error lines each service shows. */
        errorLines: z.number().int().min(0).max(100).default(5),
        /** An HTTP check slower than this is a warning. */
        slowHttpMs: z.number().int().positive().default(1000),
      })
      .strict()
      .default({}),
  })
  .strict()

export type ConfigFile = z.input<typeof configSchema>
export type ParsedConfig = z.output<typeof configSchema>
export type ServiceFileEntry = z.output<typeof serviceSchema>
export type Runtime = (typeof RUNTIMES)[number]
export type ReadinessCheck = (typeof READINESS_CHECKS)[number]
