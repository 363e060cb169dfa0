import { z } from 'zod'
import { fleetData } from '../agents/data.js'
import type { JobDataSchemas } from '../spec.js'

const cpu = z.strictObject({
  cores: z.number(),
  load1: z.number(),
  load5: z.number(),
  load15: z.number(),
  usagePercent: z.number().describe('Busy share of all cores over a short sample, probe-ops itself not counted.'),
})

const memory = z.strictObject({
  totalBytes: z.number(),
  availableBytes: z.number(),
  usedPercent: z.number(),
  swapTotalBytes: z.number(),
  swapUsedPercent: z.number(),
})

export const diskUsage = z.strictObject({
  path: z.string(),
  mount: z.string().optional(),
  sizeBytes: z.number().optional(),
  freeBytes: z.number().optional(),
  usedPercent: z.number().optional(),
  error: z.string().optional().describe('Why the path could not be measured.'),
})

export const hostData = z.strictObject({ cpu, memory, disks: z.array(diskUsage) })
export type HostData = z.infer<typeof hostData>

/** What runs a service: one schema for every job that reports it. */
export const serviceRuntime = z.enum(['docker', 'systemd', 'process'])

/** A service as its runtime shows it (systems/services.ts ServiceStatus). */
export const serviceStatus = z.strictObject({
  name: z.string(),
  runtime: serviceRuntime,
  target: z.string().describe('What the runtime calls it: container, unit or pid file.'),
  found: z.boolean(),
  running: z.boolean(),
  state: z.string(),
  health: z.string().optional(),
  restarts: z.number().optional(),
  startedAt: z.string().optional(),
  uptimeSeconds: z.number().optional(),
  pid: z.number().optional(),
  stoppedBySignal: z.boolean().optional().describe('A process stopped by a signal: it holds its port and answers nothing.'),
})

export const servicesData = z.strictObject({
  services: z
    .array(
      serviceStatus
        .extend({
          ready: z.boolean().describe('Running, and answering its readiness check.'),
          readiness: z.string().describe('What the readiness check asked and what it answered.'),
        })
        .strict(),
    )
    .describe('The services whose runtime could be read.'),
})
export type ServicesData = z.infer<typeof servicesData>

export const httpData = z.strictObject({
  endpoints: z.array(
    z.strictObject({
      service: z.string(),
      url: z.string().describe('Secrets in it redacted.'),
      ok: z.boolean(),
      status: z.number().optional(),
      latencyMs: z.number(),
      error: z.string().optional(),
      timedOut: z.boolean().optional(),
    }),
  ),
})
export type HttpData = z.infer<typeof httpData>

export const postgresData = z.strictObject({
  latencyMs: z.number().describe('SELECT 1, in ms.'),
  version: z.string(),
  maxConnections: z.number(),
  connections: z.record(z.string(), z.number()).describe("Other client connections by state ('active', 'idle', ...)."),
  databaseBytes: z.number(),
  cacheHitRatio: z.number().nullable(),
  blocksRead: z.number(),
  longestQuery: z.strictObject({ pid: z.number(), seconds: z.number(), query: z.string() }).nullable(),
  longestTransaction: z.strictObject({ pid: z.number(), seconds: z.number(), state: z.string() }).nullable(),
})
export type PostgresData = z.infer<typeof postgresData>

export const redisData = z.strictObject({
  latencyMs: z.number().describe('PING, in ms.'),
  version: z.string().optional(),
  usedMemoryBytes: z.number(),
  maxMemoryBytes: z.number().describe('0: no maxmemory.'),
  usedPercent: z.number().nullable(),
  evictionPolicy: z.string().optional(),
  connectedClients: z.number(),
  evictedKeys: z.number(),
  rejectedConnections: z.number(),
  lastSaveStatus: z.string().optional(),
  lastSaveAt: z.string().optional(),
})
export type RedisData = z.infer<typeof redisData>

const logEntry = z.strictObject({
  first: z.string().describe("The newest occurrence's first line."),
  count: z.number(),
  newestAt: z.string().optional(),
  lines: z.array(z.string()),
  moreLines: z.number().optional(),
})

export const logsData = z.strictObject({
  window: z.number().describe('How far back the logs were read, in ms.'),
  services: z.array(
    z.union([
      z.strictObject({
        service: z.string(),
        read: z.literal(true),
        errors: z.number(),
        distinct: z.number(),
        warnings: z.number(),
        entries: z.array(logEntry),
      }),
      z.strictObject({ service: z.string(), read: z.literal(false), error: z.string(), hint: z.string().optional() }),
    ]),
  ),
})
export type LogsData = z.infer<typeof logsData>

export const alertsData = z.strictObject({
  alertmanager: z.string().describe('alertmanager.url, credentials redacted.'),
  firing: z.array(
    z.strictObject({
      alertname: z.string(),
      severity: z.string(),
      instance: z.string().optional(),
      summary: z.string().optional(),
      startsAt: z.string(),
    }),
  ),
})
export type AlertsData = z.infer<typeof alertsData>

const reached = {
  url: z.string().describe('Its address, credentials redacted.'),
  ready: z.boolean().describe('It answered its readiness check.'),
  error: z.string().optional().describe('Why it is not ready, or could not be read.'),
}

/** The monitoring step's (the agents step's is the `agents` command's fleetData). */
export const monitoringData = z.strictObject({
  prometheus: z.strictObject({
    ...reached,
    targets: z.number().optional().describe('Active scrape targets.'),
    downTargets: z.array(z.strictObject({ job: z.string(), instance: z.string(), error: z.string() })).optional(),
    ruleGroups: z.number().optional(),
    rules: z.number().optional(),
    failingRules: z.array(z.strictObject({ group: z.string(), rule: z.string(), error: z.string() })).optional(),
    exporters: z
      .array(
        z.strictObject({
          name: z.enum(['node', 'postgres', 'redis']),
          job: z.string(),
          state: z.enum(['up', 'down', 'absent']).describe('absent: Prometheus has no target in that job.'),
          reaches: z.boolean().optional().describe('pg_up / redis_up: the exporter reaches its server.'),
        }),
      )
      .optional(),
  }),
  alertmanager: z.strictObject({
    ...reached,
    receivers: z.array(z.strictObject({ name: z.string(), integrations: z.array(z.string()) })).optional(),
  }),
  loki: z
    .strictObject({ ...reached, detail: z.string().optional() })
    .optional()
    .describe("Absent when loki.url is ''."),
})
export type MonitoringData = z.infer<typeof monitoringData>

const backupKind = z.enum(['database', 'config', 'base'])

/** The backups step: each repository's newest backups and last verification, PostgreSQL's archiver, interrupted restores. */
export const backupsData = z.strictObject({
  repositories: z.array(
    z.strictObject({
      name: z.string(),
      type: z.enum(['local', 's3']),
      where: z.string().describe('Its place: a directory, or s3://bucket/prefix/ and the endpoint.'),
      reachable: z.boolean().describe('It answered every request; false: error says how it did not.'),
      error: z.string().optional(),
      code: z.string().optional().describe("The error's code: auth, dns, refused, no-answer, not-found, permission..."),
      archiveId: z.string().optional().describe('The WAL archive of its cluster (probe-ops-repository.json), when it has one.'),
      repositoryFile: z
        .string()
        .optional()
        .describe('Why its probe-ops-repository.json is not one probe-ops wrote: every writer refuses the repository until it is fixed.'),
      kinds: z.array(
        z.strictObject({
          kind: backupKind,
          expected: z.boolean().describe('Whether one must be there: base backups only when WAL is archived.'),
          backups: z.number().describe('Manifests of this kind.'),
          maxAgeSeconds: z.number(),
          newest: z
            .strictObject({
              id: z.string(),
              takenAt: z.string(),
              ageSeconds: z.number(),
              bytes: z.number().optional().describe('As stored, from its manifest.'),
              damaged: z.string().optional().describe('Why its manifest or data cannot be trusted.'),
            })
            .optional(),
          lastVerification: z
            .strictObject({
              id: z.string().describe('The backup verified.'),
              at: z.string(),
              ok: z.boolean(),
              method: z.string(),
              detail: z.string(),
            })
            .optional()
            .describe('The newest verification of the newest backups read; absent: none of them was verified.'),
        }),
      ),
      wal: z
        .strictObject({
          segment: z.string().describe("PostgreSQL's last archived WAL file."),
          found: z.boolean(),
          key: z.string().optional(),
        })
        .optional()
        .describe('Whether it holds the last archived WAL file; absent when nothing is archived.'),
    }),
  ),
  archiver: z.union([
    z.strictObject({
      read: z.literal(true),
      archiveMode: z.string(),
      archiveTimeoutSeconds: z.number().describe("PostgreSQL's archive_timeout; 0: off."),
      lagLimitSeconds: z
        .number()
        .describe('How long WAL may wait to be archived before it is a lag: twice archive_timeout, or backup.wal.archiveTimeoutSeconds when that is off.'),
      archivedCount: z.number(),
      failedCount: z.number(),
      lastArchivedWal: z.string().nullable(),
      lastArchivedAt: z.string().nullable(),
      lastFailedWal: z.string().nullable(),
      lastFailedAt: z.string().nullable(),
      statusDirectory: z.union([
        z.strictObject({
          read: z.literal(true),
          pending: z.number().describe('.ready files: segments waiting to be archived.'),
          oldestPendingSeconds: z.number().describe('Age of the oldest; 0 when none.'),
        }),
        z.strictObject({ read: z.literal(false), error: z.string() }),
      ]),
    }),
    z.strictObject({ read: z.literal(false), error: z.string() }),
  ]),
  interruptedRestores: z.array(z.strictObject({ what: z.string(), detail: z.string() })).describe('What waits for `probe-ops restore --cleanup`.'),
})
export type BackupsData = z.infer<typeof backupsData>

export const dataSchemas = {
  diagnose: {
    host: hostData,
    services: servicesData,
    http: httpData,
    postgres: postgresData,
    redis: redisData,
    logs: logsData,
    alerts: alertsData,
    monitoring: monitoringData,
    agents: fleetData,
    backups: backupsData,
  },
} satisfies JobDataSchemas
