import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'
// The same measurement as diagnose's host step, with one schema.
import { diskUsage, serviceRuntime } from '../diagnose/data.js'

export const cleanData = z.strictObject({
  files: z.number().describe('Files deleted (a dry run: that would be).'),
  bytes: z.number(),
  rules: z.array(
    z.strictObject({
      path: z.string(),
      pattern: z.string(),
      olderThanDays: z.number(),
      missing: z.boolean().describe('The directory does not exist.'),
      files: z.number(),
    }),
  ),
  keptOpen: z.array(z.string()).describe('Old files left alone because a process has them open for writing.'),
  wouldDelete: z.array(z.string()).optional().describe('A dry run: the first 100 files it would delete.'),
  errors: z.array(z.string()).optional().describe('The first 20 files that could not be deleted, and why.'),
})
export type CleanData = z.infer<typeof cleanData>

const lockHolder = z
  .strictObject({ pid: z.number(), application: z.string(), state: z.string().nullable(), transactionSeconds: z.number().nullable() })
  .describe('A session that held a lock on the table (no query text: it may carry data).')

const ruleResult = z.strictObject({
  table: z.string(),
  column: z.string(),
  cutoff: z.string().describe('Rows older than this go.'),
  deleted: z.number(),
  batches: z.number(),
  longestBatchMs: z.number(),
  largestBatchRows: z.number().describe('The most rows one committed batch deleted: at most twice retention.batchRows.'),
  retriedBatches: z.number().describe('Windows rolled back (over twice batchRows) or retried after a timeout.'),
  partitionsDropped: z.array(z.string()),
  partitionRowsDropped: z.number().describe("The dropped partitions' rows by the planner's count."),
  partitionBytesDropped: z.number(),
  blockedDrop: z
    .strictObject({
      partition: z.string(),
      stage: z.enum(['detached', 'detach pending']),
      lockedTable: z.string(),
      attempts: z.number(),
      waitedMs: z.number(),
      holders: z.array(lockHolder),
    })
    .optional()
    .describe('A partition detached (or left detach pending) but not dropped: a lock it needed stayed held; the next run drops it.'),
  partitionsLeftAttached: z.array(z.string()).describe('Expired partitions not detached this run because a drop was blocked.'),
  pendingDetachLeftAlone: z.array(z.string()).describe('Partitions someone else left "detach pending": not touched.'),
  detachedMark: z.string().optional().describe('The comment that marks a partition of this table as detached by retention, to be dropped.'),
  error: z.string().optional().describe('Why this rule failed; the other rules still ran.'),
  unmarkedDetachedTables: z.array(z.string()).describe('Unmarked tables that look like partitions an older probe-ops detached: pointed out, not dropped.'),
  reusableBytes: z.number(),
  stoppedBy: z.enum(['budget', 'timeout']).optional(),
  wouldDelete: z.number().optional(),
  wouldDropPartitions: z.array(z.string()).optional(),
  wouldDropRows: z.number().optional(),
  wouldDropBytes: z.number().optional(),
})

export const retentionData = z.strictObject({ rules: z.array(ruleResult) })
export type RetentionData = z.infer<typeof retentionData>
export type RuleResult = RetentionData['rules'][number]

const deadRows = z.strictObject({ table: z.string(), dead: z.number(), live: z.number() })
const clearedRows = z.strictObject({ table: z.string(), deadBefore: z.number(), deadAfter: z.number(), removed: z.number() })

export const vacuumData = z.strictObject({
  tables: z.number(),
  deadRows: z.number().optional().describe('A dry run: dead rows in all tables.'),
  durationMs: z.number().optional(),
  deadRowsCleared: z.number().optional(),
  top: z.array(z.union([deadRows, clearedRows])).describe('The five tables with the most dead rows (a dry run) or the most cleared.'),
})
export type VacuumData = z.infer<typeof vacuumData>

export const reindexData = z.strictObject({
  method: z.enum(['pgstattuple', 'estimate']).describe('How bloat was measured: exactly with pgstattuple, or estimated from the statistics.'),
  leftovers: z.array(z.string()).describe('Invalid indexes an interrupted REINDEX CONCURRENTLY left.'),
  otherInvalid: z.array(z.string()),
  bloated: z.array(z.strictObject({ index: z.string(), table: z.string(), bytes: z.number(), bloatPercent: z.number() })),
  dropped: z.array(z.string()).optional(),
  rebuilt: z.array(z.strictObject({ index: z.string(), ms: z.number(), bytesBefore: z.number(), bytesAfter: z.number() })).optional(),
  bytesSaved: z.number().optional(),
  failures: z.array(z.string()).optional(),
})
export type ReindexData = z.infer<typeof reindexData>

export const statsResetData = z.strictObject({ installed: z.boolean(), version: z.string().optional() })
export type StatsResetData = z.infer<typeof statsResetData>

export const diskData = z.strictObject({
  warningPercent: z.number(),
  criticalPercent: z.number(),
  disks: z.array(diskUsage),
  alertsWouldFire: z.array(z.string()).optional().describe('A dry run: the alerts it would push.'),
})
export type DiskData = z.infer<typeof diskData>

export const servicesData = z.strictObject({
  services: z.array(
    z.strictObject({
      service: z.string(),
      runtime: serviceRuntime,
      state: z.string().describe("The runtime's state, or unknown and why."),
      running: z.boolean(),
      ready: z.boolean(),
      readiness: z.string(),
      problem: z.string().optional().describe('What is wrong, when it is not ready.'),
    }),
  ),
})
export type ServicesData = z.infer<typeof servicesData>

export const dataSchemas = {
  'maintain-daily': {
    'clean-logs': cleanData,
    'clean-temp': cleanData,
    retention: retentionData,
    vacuum: vacuumData,
    reindex: reindexData,
    'stats-reset': statsResetData,
    disk: diskData,
    services: servicesData,
  },
} satisfies JobDataSchemas
