import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

const statement = z.strictObject({
  queryId: z.string().nullable(),
  query: z.string().describe('On one line, cut at 160 characters.'),
  calls: z.number(),
  totalMs: z.number(),
  meanMs: z.number(),
  rows: z.number(),
  cacheHitRatio: z.number().nullable().describe('Shared buffer hits over hits and reads; null when it read no blocks.'),
})
export type Statement = z.infer<typeof statement>

export const statementsData = z.union([
  z.strictObject({ installed: z.literal(false) }),
  z.strictObject({ installed: z.literal(true), loaded: z.literal(false), version: z.string() }),
  z.strictObject({
    installed: z.literal(true),
    loaded: z.literal(true),
    version: z.string(),
    since: z.string().nullable().describe('When pg_stat_statements was last reset.'),
    statements: z.number(),
    totalMs: z.number(),
    byTotalTime: z.array(statement),
    byMeanTime: z.array(statement),
  }),
])
export type StatementsData = z.infer<typeof statementsData>

const ratio = z.number().nullable().describe('Blocks found in shared buffers over all blocks asked for; null when none were.')

export const cacheData = z.strictObject({
  databaseRatio: ratio,
  tableRatio: ratio,
  indexRatio: ratio,
  blocksHit: z.number(),
  blocksRead: z.number(),
  warningBelow: z.number(),
  tablesReadingMost: z.array(z.strictObject({ table: z.string(), heapRead: z.number(), heapHit: z.number(), ratio })),
})
export type CacheData = z.infer<typeof cacheData>

export const connectionsData = z.strictObject({
  maxConnections: z.number(),
  reserved: z.number().describe('superuser_reserved_connections'),
  used: z.number(),
  usedRatio: z.number().describe('Connections in use over the usable ones (max_connections less the reserved).'),
  byState: z.record(z.number()),
  topHolders: z.array(z.strictObject({ user: z.string().nullable(), application: z.string(), database: z.string().nullable(), count: z.number() })),
  waitingOnLocks: z.number(),
  idleInTransaction: z.number(),
})
export type ConnectionsData = z.infer<typeof connectionsData>

const tableStatistics = z.strictObject({
  table: z.string(),
  seqScans: z.number(),
  seqRowsRead: z.number(),
  rowsPerSeqScan: z.number(),
  indexScans: z.number().nullable(),
  liveTuples: z.number(),
  deadTuples: z.number(),
  deadRatio: z.number(),
  lastVacuum: z.string().nullable(),
  lastAnalyze: z.string().nullable(),
})
export type TableStatistics = z.infer<typeof tableStatistics>

export const tablesData = z.strictObject({
  bySequentialScans: z.array(tableStatistics),
  byDeadTuples: z.array(tableStatistics),
})
export type TablesData = z.infer<typeof tablesData>

const protocolThroughput = z.strictObject({
  protocol: z.string(),
  perSecond: z.number(),
  perMinute: z.number(),
  failedPerSecond: z.number(),
  failureRate: z.number(),
})
export type ProtocolThroughput = z.infer<typeof protocolThroughput>

const AGENT_STATE = z.enum(['connected', 'disconnected', 'down', 'no-data'])
export type AgentState = z.infer<typeof AGENT_STATE>

const agentStatus = z.strictObject({
  agent: z.string().describe('The agent_id label of its scrape target (else its instance), or of its agent_connection_status series in another job.'),
  connected: z.boolean().describe('agent_connection_status is 1.'),
  state: AGENT_STATE.describe(
    'connected or disconnected by agent_connection_status; down when Prometheus cannot scrape its exporter; no-data when its target exports no agent_connection_status.',
  ),
  instance: z.string().optional().describe("Its scrape target's host:port (an agent of the agents job)."),
  scrapeError: z.string().optional().describe('The last scrape error of a down agent.'),
})
export type AgentStatus = z.infer<typeof agentStatus>

const agentCounts = z.strictObject({
  connected: z.number(),
  total: z
    .number()
    .describe("Every agent: the targets of the agents job (agents.job), down ones included, and agents other jobs' agent_connection_status names."),
  disconnected: z.number(),
  down: z.number().describe('Targets whose exporter Prometheus cannot scrape.'),
  noData: z.number().describe('Targets that export no agent_connection_status.'),
  job: z.string().describe("agents.job: the agents' scrape job."),
  list: z.array(agentStatus),
})

export const prometheusData = z.union([
  z.strictObject({ configured: z.literal(false) }),
  z.strictObject({ configured: z.literal(true), url: z.string(), reachable: z.literal(false) }),
  z.strictObject({
    configured: z.literal(true),
    url: z.string(),
    reachable: z.literal(true),
    version: z.string().nullable(),
    window: z.string().describe("The window of Prometheus's rates: 10s, 1d, 1w."),
    tasksPerSecond: z.number(),
    failureRate: z.number().nullable(),
    protocols: z.array(protocolThroughput),
    httpP95Seconds: z.number().nullable(),
    slowestEndpoints: z.array(z.strictObject({ endpoint: z.string(), p95Seconds: z.number() })),
    agents: agentCounts,
    missing: z.array(z.string()).describe("The platform's metrics Prometheus does not have."),
  }),
])
export type PrometheusData = z.infer<typeof prometheusData>

export const dataSchemas = {
  'performance-report': { statements: statementsData, cache: cacheData, connections: connectionsData, tables: tablesData, prometheus: prometheusData },
} satisfies JobDataSchemas
