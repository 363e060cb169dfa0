import { z } from 'zod'
import { RANGES } from './ranges.js'
import { seconds } from './schema-units.js'

/** One entry of `services`: how the service runs, what "ready" means for it, how it is stopped and started. */

export const RUNTIMES = ['docker', 'systemd', 'process'] as const
export const READINESS_CHECKS = ['http', 'postgres', 'redis', 'running'] as const

export const serviceSchema = z
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
    /** For http readiness: the health URL (credentials in it are sent as basic auth and never shown). */
    url: z.string().url().optional(),
    /** Basic auth for the health URL: the user, and a file holding the password. */
    user: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    dependsOn: z.array(z.string().min(1)).optional(),
    /** PostgreSQL: the data directory that must exist before a restart. */
    dataDir: z.string().min(1).optional(),
    /** process: the command that starts it (an argument list, never a shell string). */
    start: z.array(z.string().min(1)).min(1).optional(),
    /** How long recover waits for readiness after a start or restart. */
    readinessTimeoutSeconds: seconds(RANGES.readiness).optional(),
    /** process: the signal that stops it (PostgreSQL: SIGINT, a fast shutdown). */
    stopSignal: z.enum(['SIGTERM', 'SIGINT', 'SIGQUIT']).optional(),
    /** How long a stop waits before the runtime kills the service. */
    stopGraceSeconds: z.number().int().min(0).max(3600).optional(),
    /** Silences recover sets while it works: each entry is a matcher set such as 'alertname=~"A|B", job="x"'. */
    silences: z.array(z.string().min(1)).optional(),
  })
  .strict()

export type ServiceFileEntry = z.output<typeof serviceSchema>
export type Runtime = (typeof RUNTIMES)[number]
export type ReadinessCheck = (typeof READINESS_CHECKS)[number]
