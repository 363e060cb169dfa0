import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

/*
 * What capacity-report's steps report, and the facts they share (facts.ts names them): saved
 * reports are the history later runs fit their growth lines through (history.ts reads the
 * database's databaseBytes and tables, the disk's disks and backups, and Redis' usedMemoryBytes).
 */

const bytesPerDay = z.number().nullable()

export const tableSize = z
  .object({
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
  .strict()

export const measuredTable = z
  .object({
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
    perDay: z
      .array(z.object({ from: z.string().describe('The start of the 24-hour period; the last one ends at the run.'), rows: z.number() }).strict())
      .optional(),
    rowsPerDay: z.number().nullable().optional().describe('Least squares over the window: the slope of the running total of rows.'),
    retentionDays: z.number().nullable().describe("The retention rule's days, or null when no rule ages this table's rows."),
    pastRetentionRows: z.number().nullable().optional().describe('Rows already older than the retention: the next maintain daily deletes them.'),
    leavingRowsPerDay: z.number().nullable().optional().describe('Rows per day that age past the retention over the coming days.'),
  })
  .strict()

export const dataDirectory = z
  .object({ path: z.string(), source: z.enum(['capacity.dataPath', 'restore.dataDirPath', 'server']) })
  .strict()
  .describe("PostgreSQL's data directory on this host, and how it was found.")

export const databaseData = z
  .object({
    database: z.string(),
    where: z.string(),
    databaseBytes: z.number(),
    dataDirectory: dataDirectory.nullable(),
    tableCount: z.number(),
    tables: z.array(tableSize).describe('The 50 largest.'),
    measured: z.array(measuredTable).describe("task_results and every retention rule's table: rows per day and bytes per row."),
  })
  .strict()

const forecast = z.discriminatedUnion('state', [
  z.object({ state: z.literal('filling'), perDay: z.number(), daysUntilFull: z.number(), fillDate: z.string() }).strict(),
  z.object({ state: z.literal('full'), perDay: z.number(), daysUntilFull: z.literal(0), fillDate: z.string() }).strict(),
  z.object({ state: z.literal('not-filling'), perDay: z.number(), reason: z.enum(['flat', 'shrinking']) }).strict(),
  z.object({ state: z.literal('unknown'), reason: z.string() }).strict(),
])

export const seriesGrowth = z
  .object({
    perDay: bytesPerDay.describe('The growth used, in bytes per day; null when neither history nor measurement has one.'),
    source: z.enum(['history', 'measured', 'none']),
    slopeError: z.number().nullable().describe("The rate's standard error."),
    history: z.object({ points: z.number(), spanDays: z.number(), perDay: bytesPerDay, r2: z.number().nullable() }).strict(),
    measuredPerDay: bytesPerDay,
  })
  .strict()

export const retentionGrowth = z
  .object({
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
      .array(z.object({ days: z.number(), steadyStateBytes: z.number(), changeBytes: z.number() }).strict())
      .describe('The steady size under other retentions, and the change against the configured one (or against today without a rule).'),
  })
  .strict()

export const growthData = z
  .object({
    database: seriesGrowth.extend({ bytes: z.number() }).strict(),
    tables: z.array(z.object({ name: z.string(), totalBytes: z.number(), growth: seriesGrowth }).strict()),
    retention: z.array(retentionGrowth),
    notes: z.array(z.string()).describe('Why a figure is missing.'),
  })
  .strict()

const role = z.enum(['data', 'backups', 'logs', 'disk'])

export const mountCapacity = z
  .object({
    mount: z.string(),
    paths: z.array(z.object({ path: z.string(), role, exists: z.boolean() }).strict()),
    sizeBytes: z.number(),
    usedBytes: z.number(),
    freeBytes: z.number(),
    usedPercent: z.number(),
    growth: seriesGrowth.extend({ components: z.array(z.string()).describe('What is known to grow here, when the own history is too short.') }).strict(),
    forecast,
  })
  .strict()

export const diskData = z
  .object({
    disks: z.array(mountCapacity),
    backups: z
      .object({
        path: z.string(),
        exists: z.boolean(),
        bytes: z.number(),
        files: z.number(),
        truncated: z.boolean().describe('The walk stopped at its bound.'),
        growth: seriesGrowth,
      })
      .strict(),
    unmeasured: z.array(z.object({ path: z.string(), role, error: z.string() }).strict()).describe('Paths that could not be measured, and why.'),
    notes: z.array(z.string()),
  })
  .strict()

export const redisData = z
  .object({
    reachable: z.boolean(),
    error: z.object({ message: z.string(), hint: z.string().optional() }).strict().optional().describe('Why Redis could not be measured, with what to do.'),
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
  .strict()

export const recommendation = z
  .object({
    id: z.string().describe('Stable from run to run: disk-fills:/var/lib/docker, dead-tuples:task_results.'),
    priority: z.enum(['high', 'medium', 'low']),
    message: z.string(),
    figure: z.string().describe('The figure it rests on.'),
    action: z.string(),
  })
  .strict()

export const recommendationsData = z
  .object({
    recommendations: z.array(recommendation),
    missing: z.array(z.string()).optional().describe('Figures that could not be had, and why: what the recommendations do not consider.'),
  })
  .strict()

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
