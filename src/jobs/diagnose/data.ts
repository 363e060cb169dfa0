import { z } from 'zod'
import { fleetData } from '../agents/data.js'
import type { JobDataSchemas } from '../spec.js'

const cpu = z
  .object({
    cores: z.number(),
    load1: z.number(),
    load5: z.number(),
    load15: z.number(),
    usagePercent: z.number().describe('Busy share of all cores over a short sample, probe-ops itself not counted.'),
  })
  .strict()

const memory = z
  .object({
    totalBytes: z.number(),
    availableBytes: z.number(),
    usedPercent: z.number(),
    swapTotalBytes: z.number(),
    swapUsedPercent: z.number(),
  })
  .strict()

export const diskUsage = z
  .object({
    path: z.string(),
    mount: z.string().optional(),
    sizeBytes: z.number().optional(),
    freeBytes: z.number().optional(),
    usedPercent: z.number().optional(),
    error: z.string().optional().describe('Why the path could not be measured.'),
  })
  .strict()

export const hostData = z.object({ cpu, memory, disks: z.array(diskUsage) }).strict()
export type HostData = z.infer<typeof hostData>

/** What runs a service: one schema for every job that reports it. */
export const serviceRuntime = z.enum(['docker', 'systemd', 'process'])

/** A service as its runtime shows it (systems/services.ts ServiceStatus). */
export const serviceStatus = z
  .object({
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
  .strict()

export const servicesData = z
  .object({
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
  .strict()
export type ServicesData = z.infer<typeof servicesData>

export const httpData = z
  .object({
    endpoints: z.array(
      z
        .object({
          service: z.string(),
          url: z.string().describe('Secrets in it redacted.'),
          ok: z.boolean(),
          status: z.number().optional(),
          latencyMs: z.number(),
          error: z.string().optional(),
          timedOut: z.boolean().optional(),
        })
        .strict(),
    ),
  })
  .strict()
export type HttpData = z.infer<typeof httpData>

export const postgresData = z
  .object({
    latencyMs: z.number().describe('SELECT 1, in ms.'),
    version: z.string(),
    maxConnections: z.number(),
    connections: z.record(z.string(), z.number()).describe("Other client connections by state ('active', 'idle', ...)."),
    databaseBytes: z.number(),
    cacheHitRatio: z.number().nullable(),
    blocksRead: z.number(),
    longestQuery: z.object({ pid: z.number(), seconds: z.number(), query: z.string() }).strict().nullable(),
    longestTransaction: z.object({ pid: z.number(), seconds: z.number(), state: z.string() }).strict().nullable(),
  })
  .strict()
export type PostgresData = z.infer<typeof postgresData>

export const redisData = z
  .object({
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
  .strict()
export type RedisData = z.infer<typeof redisData>

const logEntry = z
  .object({
    first: z.string().describe("The newest occurrence's first line."),
    count: z.number(),
    newestAt: z.string().optional(),
    lines: z.array(z.string()),
    moreLines: z.number().optional(),
  })
  .strict()

export const logsData = z
  .object({
    window: z.number().describe('How far back the logs were read, in ms.'),
    services: z.array(
      z.union([
        z
          .object({
            service: z.string(),
            read: z.literal(true),
            errors: z.number(),
            distinct: z.number(),
            warnings: z.number(),
            entries: z.array(logEntry),
          })
          .strict(),
        z.object({ service: z.string(), read: z.literal(false), error: z.string(), hint: z.string().optional() }).strict(),
      ]),
    ),
  })
  .strict()
export type LogsData = z.infer<typeof logsData>

export const alertsData = z
  .object({
    alertmanager: z.string().describe('alertmanager.url, credentials redacted.'),
    firing: z.array(
      z
        .object({
          alertname: z.string(),
          severity: z.string(),
          instance: z.string().optional(),
          summary: z.string().optional(),
          startsAt: z.string(),
        })
        .strict(),
    ),
  })
  .strict()
export type AlertsData = z.infer<typeof alertsData>

const reached = {
  url: z.string().describe('Its address, credentials redacted.'),
  ready: z.boolean().describe('It answered its readiness check.'),
  error: z.string().optional().describe('Why it is not ready, or could not be read.'),
}

/** The monitoring step's (the agents step's is the `agents` command's fleetData). */
export const monitoringData = z
  .object({
    prometheus: z
      .object({
        ...reached,
        targets: z.number().optional().describe('Active scrape targets.'),
        downTargets: z.array(z.object({ job: z.string(), instance: z.string(), error: z.string() }).strict()).optional(),
        ruleGroups: z.number().optional(),
        rules: z.number().optional(),
        failingRules: z.array(z.object({ group: z.string(), rule: z.string(), error: z.string() }).strict()).optional(),
        exporters: z
          .array(
            z
              .object({
                name: z.enum(['node', 'postgres', 'redis']),
                job: z.string(),
                state: z.enum(['up', 'down', 'absent']).describe('absent: Prometheus has no target in that job.'),
                reaches: z.boolean().optional().describe('pg_up / redis_up: the exporter reaches its server.'),
              })
              .strict(),
          )
          .optional(),
      })
      .strict(),
    alertmanager: z
      .object({
        ...reached,
        receivers: z.array(z.object({ name: z.string(), integrations: z.array(z.string()) }).strict()).optional(),
      })
      .strict(),
    loki: z
      .object({ ...reached, detail: z.string().optional() })
      .strict()
      .optional()
      .describe("Absent when loki.url is ''."),
  })
  .strict()
export type MonitoringData = z.infer<typeof monitoringData>

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
  },
} satisfies JobDataSchemas
