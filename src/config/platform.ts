import { z } from 'zod'
import { duration, percent, seconds } from './schema-units.js'
import { RANGES } from './ranges.js'

/** The keys of the platform beyond this host (issue 15): Loki, the monitoring stack's exporters, the agents. */

export const lokiSection = z
  .object({
    /** Loki's address (http://loki:3100): diagnose and `agents --agent` read recent errors through LogQL; '' (the default) reads local logs only. */
    url: z.union([z.literal(''), z.string().url()]).default(''),
    /** Basic auth: the user, and a file holding the password. */
    user: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    timeoutSeconds: seconds(RANGES.check).default(5),
    /** The most lines one query brings back: a flood of errors costs no more than this. */
    lineLimit: z.number().int().min(1).max(5000).default(1000),
  })
  .strict()
  .default({})

export const monitoringSection = z
  .object({
    /** The Prometheus jobs of the guide's exporters, checked by diagnose's monitoring step; '' checks none of that kind. */
    nodeExporterJob: z.string().default('node-exporter'),
    postgresExporterJob: z.string().default('postgres-exporter'),
    redisExporterJob: z.string().default('redis-exporter'),
  })
  .strict()
  .default({})

export const agentsSection = z
  .object({
    /** The Prometheus scrape job of the agents (one target per agent, labelled agent_id). */
    job: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, 'a Prometheus job name')
      .default('agents'),
    /** The window of task throughput, failure rate and heartbeats (--window). */
    window: duration(RANGES.window).default('5m'),
    /** A connected agent without a heartbeat for this long is stale (the guide alerts on a disconnect after 2m). */
    heartbeatStale: duration(RANGES.window).default('2m'),
    /** The platform database's agents: a query returning name, status and last_heartbeat; '' leaves the database out. */
    databaseQuery: z.string().default('select name, status, last_heartbeat from agents'),
    /** The guide's thresholds: CPU above, memory above, disk use above, task failures above (percent). */
    cpuPercent: percent.default(80),
    memoryPercent: percent.default(85),
    diskPercent: percent.default(90),
    failurePercent: percent.default(10),
  })
  .strict()
  .default({})
