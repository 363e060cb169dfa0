import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

const VERDICT = z.enum(['down', 'disconnected', 'stale', 'failing', 'overloaded', 'no-data', 'disagreement', 'maintenance', 'healthy'])

const source = z.strictObject({
  read: z.boolean().describe('Whether the source answered; a source not configured is absent.'),
  url: z.string().optional().describe('prometheus.url, credentials redacted.'),
  error: z.string().optional().describe('Why it was not read.'),
})

const protocolTasks = z.strictObject({
  protocol: z.string(),
  perSecond: z.number().describe('Tasks per second over the window.'),
  failureRate: z.number().nullable().describe('The share of them that failed, 0..1; null without tasks.'),
})

export const agentData = z.strictObject({
  id: z.string().describe('The agent_id label of its scrape target (else its instance), or its name in the agents table.'),
  verdict: VERDICT.describe('The worst of its reasons.'),
  reasons: z.array(z.string()).describe('Every reason, worst first; none for a healthy agent.'),
  instance: z.string().optional().describe("Its scrape target's host:port."),
  scrape: z.enum(['up', 'down', 'unknown']).optional().describe("Prometheus's last scrape of it."),
  scrapeError: z.string().optional().describe('The last scrape error of a down target.'),
  connected: z.boolean().nullable().describe('agent_connection_status, else the agents table status online; null when neither says.'),
  heartbeatAgeSeconds: z.number().nullable().describe('Seconds since its last heartbeat; null when none within the window (or none recorded).'),
  tasksPerSecond: z.number().nullable(),
  failureRate: z.number().nullable().describe('The share of its tasks over the window that failed, 0..1.'),
  protocols: z.array(protocolTasks),
  cpuPercent: z.number().nullable(),
  memoryPercent: z.number().nullable(),
  diskPercent: z.number().nullable(),
  database: z
    .strictObject({ status: z.string(), heartbeatAgeSeconds: z.number().nullable() })
    .optional()
    .describe('Its row in the agents table, when the database was read and lists it.'),
})
export type AgentData = z.infer<typeof agentData>

export const fleetData = z.strictObject({
  windowMs: z.number().describe('The window of throughput, failure rate and heartbeats.'),
  sources: z.strictObject({ prometheus: source.optional(), database: source.optional() }),
  counts: z.record(VERDICT, z.number()).describe('Agents by verdict.'),
  agents: z.array(agentData).describe('Every agent either source knows, worst verdict first.'),
})
export type FleetData = z.infer<typeof fleetData>

export const agentLogsData = z.strictObject({
  agent: z.string().optional(),
  loki: z.string().optional().describe('loki.url, credentials redacted; absent when Loki is not configured.'),
  windowMs: z.number(),
  lines: z.number().describe('Lines Loki returned (at most loki.lineLimit).'),
  errors: z.number(),
  warnings: z.number(),
  entries: z.array(z.strictObject({ first: z.string(), count: z.number(), newestAt: z.string().optional() })),
})
export type AgentLogsData = z.infer<typeof agentLogsData>

export const dataSchemas = {
  agents: { fleet: fleetData, logs: agentLogsData },
} satisfies JobDataSchemas
