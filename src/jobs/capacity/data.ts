import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

/*
 * What capacity-report's steps report, and the facts they share (facts.ts names them): saved
 * reports are the history later runs fit their growth lines through (history.ts reads the
 * database's databaseBytes and tables, the disk's disks and backups, and Redis' usedMemoryBytes).
 */

const bytesPerDay = z.number().nullable()

export const tableSize = z.strictObject({
  name: z.string().describe('schema.table, or just table in the public schema.'),
  kind: z.enum(['table', 'partitioned', 'materialized view']),
  partitions: z.number(),
  rows: z.number().nullable().describe("The planner's row count (reltuples, or live tuples where never analyzed); null when unknown."),
  heapBytes: z.number(),
  indexBytes: z.number(),
  toastBytes: z.number(),
  totalBytes: z.number(),
  liveTuples: z.number(),
  deadTuples: z.number(),
  lastVacuum: z.string().nullable(),
})

export const measuredTable = z.strictObject({
  table: z.string(),
  column: z.string(),
  state: z.enum(['missing', 'not-a-timestamp', 'empty', 'no-recent-rows', 'measured']),
  message: z.string().optional().describe('For every state but measured: the line the report shows.'),
  method: z.enum(['index-range-scan', 'planner-estimate']).optional().describe('How the per-day counts were made.'),
  indexed: z.boolean().optional(),
  rows: z.number().nullable().optional(),
  totalBytes: z.number().optional(),
  bytesPerRow: z.number().nullable().optional().describe("Table, TOAST and index bytes over the planner's row count: what one more row costs on disk."),
  heapBytesPerRow: z.number().nullable().optional(),
  indexBytesPerRow: z.number().nullable().optional(),
  oldestRow: z.string().nullable().optional(),
  newestRow: z.string().nullable().optional(),
  windowDays: z.number(),
  windowRows: z.number().optional(),
  perDay: z.array(z.strictObject({ from: z.string().describe('The start of the 24-hour period; the last one ends at the run.'), rows: z.number() })).optional(),
  rowsPerDay: z.number().nullable().optional().describe('Least squares over the window: the slope of the running total of rows.'),
  retentionDays: z.number().nullable().describe("The retention rule's days, or null when no rule ages this table's rows."),
  pastRetentionRows: z.number().nullable().optional().describe('Rows already older than the retention: the next maintain daily deletes them.'),
  leavingRowsPerDay: z.number().nullable().optional().describe('Rows per day that age past the retention over the coming days.'),
})

export const dataDirectory = z
  .strictObject({ path: z.string(), source: z.enum(['capacity.dataPath', 'restore.dataDirPath', 'server']) })
  .describe("PostgreSQL's data directory on this host, and how it was found.")

export const databaseData = z.strictObject({
  database: z.string(),
  where: z.string(),
  databaseBytes: z.number(),
  dataDirectory: dataDirectory.nullable(),
  tableCount: z.number(),
  tables: z.array(tableSize).describe('The 50 largest.'),
  measured: z.array(measuredTable).describe("task_results and every retention rule's table: rows per day and bytes per row."),
})

const forecast = z.discriminatedUnion('state', [
  z.strictObject({ state: z.literal('filling'), perDay: z.number(), daysUntilFull: z.number(), fillDate: z.string() }),
  z.strictObject({ state: z.literal('full'), perDay: z.number(), daysUntilFull: z.literal(0), fillDate: z.string() }),
  z.strictObject({ state: z.literal('not-filling'), perDay: z.number(), reason: z.enum(['flat', 'shrinking']) }),
  z.strictObject({ state: z.literal('unknown'), reason: z.string() }),
])

export const seriesGrowth = z.strictObject({
  perDay: bytesPerDay.describe('The growth used, in bytes per day; null when neither history nor measurement has one.'),
  source: z.enum(['history', 'measured', 'none']),
  slopeError: z.number().nullable().describe("The rate's standard error."),
  history: z.strictObject({ points: z.number(), spanDays: z.number(), perDay: bytesPerDay, r2: z.number().nullable() }),
  measuredPerDay: bytesPerDay,
})

export const retentionGrowth = z.strictObject({
  table: z.string(),
  rowsPerDay: z.number(),
  bytesPerRow: z.number().nullable(),
  inflowBytesPerDay: bytesPerDay,
  retentionDays: z.number().nullable(),
  leavingRowsPerDay: z.number(),
  netRowsPerDay: z.number(),
  netBytesPerDay: bytesPerDay,
  currentBytes: z.number().nullable(),
  steadyStateBytes: z.number().nullable().describe('The size under the configured retention: rows per day x retention days x bytes per row.'),
  pastRetentionRows: z.number().nullable(),
  pastRetentionBytes: z.number().nullable(),
  options: z
    .array(z.strictObject({ days: z.number(), steadyStateBytes: z.number(), changeBytes: z.number() }))
    .describe('The steady size under other retentions, and the change against the configured one (or against today without a rule).'),
})

export const growthData = z.strictObject({
  database: seriesGrowth.extend({ bytes: z.number() }).strict(),
  tables: z.array(z.strictObject({ name: z.string(), totalBytes: z.number(), growth: seriesGrowth })),
  retention: z.array(retentionGrowth),
  notes: z.array(z.string()).describe('Why a figure is missing.'),
})

const role = z.enum(['data', 'backups', 'logs', 'disk'])

export const mountCapacity = z.strictObject({
  mount: z.string(),
  paths: z.array(z.strictObject({ path: z.string(), role, exists: z.boolean() })),
  sizeBytes: z.number(),
  usedBytes: z.number(),
  freeBytes: z.number(),
  usedPercent: z.number(),
  growth: seriesGrowth.extend({ components: z.array(z.string()).describe('What is known to grow here, when the own history is too short.') }).strict(),
  forecast,
})

export const diskData = z.strictObject({
  disks: z.array(mountCapacity),
  backups: z.strictObject({
    path: z.string(),
    exists: z.boolean(),
    bytes: z.number(),
    files: z.number(),
    truncated: z.boolean().describe('The walk stopped at its bound.'),
    growth: seriesGrowth,
  }),
  unmeasured: z.array(z.strictObject({ path: z.string(), role, error: z.string() })).describe('Paths that could not be measured, and why.'),
  notes: z.array(z.string()),
})

export const redisData = z.strictObject({
  reachable: z.boolean(),
  error: z.strictObject({ message: z.string(), hint: z.string().optional() }).optional().describe('Why Redis could not be measured, with what to do.'),
  url: z.string(),
  version: z.string().optional(),
  usedMemoryBytes: z.number().optional(),
  peakMemoryBytes: z.number().optional(),
  rssBytes: z.number().optional(),
  maxMemoryBytes: z.number().optional(),
  usedPercent: z.number().nullable().optional(),
  evictionPolicy: z.string().optional(),
  evictedKeys: z.number().optional(),
  keys: z.number().optional(),
  growth: seriesGrowth.optional(),
  forecast: forecast.optional(),
})

export const recommendation = z.strictObject({
  id: z.string().describe('Stable from run to run: disk-fills:/var/lib/docker, dead-tuples:task_results.'),
  priority: z.enum(['high', 'medium', 'low']),
  message: z.string(),
  figure: z.string().describe('The figure it rests on.'),
  action: z.string(),
})

export const recommendationsData = z.strictObject({
  recommendations: z.array(recommendation),
  missing: z.array(z.string()).optional().describe('Figures that could not be had, and why: what the recommendations do not consider.'),
})

export type TableSize = z.infer<typeof tableSize>
export type MeasuredTable = z.infer<typeof measuredTable>
export type DatabaseData = z.infer<typeof databaseData>
export type SeriesGrowth = z.infer<typeof seriesGrowth>
export type RetentionGrowth = z.infer<typeof retentionGrowth>
export type GrowthData = z.infer<typeof growthData>
export type MountCapacity = z.infer<typeof mountCapacity>
export type DiskData = z.infer<typeof diskData>
export type RedisData = z.infer<typeof redisData>
export type Recommendation = z.infer<typeof recommendation>
export type RecommendationsData = z.infer<typeof recommendationsData>

export const dataSchemas = {
  'capacity-report': { database: databaseData, growth: growthData, disk: diskData, redis: redisData, recommendations: recommendationsData },
} satisfies JobDataSchemas
