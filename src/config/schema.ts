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
