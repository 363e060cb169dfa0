/**
 * The figures capacity-report's steps share, each gathered once by the first step that needs it
 * (context.ts): the types only, so that the modules that gather them and the steps that read
 * them import each other's types from here, never from one another.
 */

import type { Point } from '../../lib/forecast.js'
import type { DatabaseData, DiskData, GrowthData, RedisData } from './data.js'

export type { MeasuredTable, MountCapacity, Recommendation, RetentionGrowth, SeriesGrowth, TableSize } from './data.js'

/** The kind of the saved reports: reports.dir/capacity-YYYY-MM-DD.json. */
export const CAPACITY_HISTORY = 'capacity'

/** The database's side: its size, every table's, and the rows per day of the tables rows age out of. */
export type DatabaseFacts = Omit<DatabaseData, 'tableCount'>
/** Growth per day of the database, its large tables and the tables under retention. */
export type GrowthFacts = GrowthData
/** The disks the platform lives on, each with the day it fills, and the backup directory. */
export type DiskFacts = DiskData
/** Redis memory against maxmemory, and its growth. */
export type RedisFacts = RedisData

/**
 * The series the forecasts fit their lines through, read from the capacity reports saved in
 * the reports directory.
 */
export interface CapacityHistory {
  dir: string | null
  /** Reports read (the day of this run left out: this run replaces it). */
  reports: number
  unreadable: string[]
  databaseBytes: Point[]
  /** By table name, as the database step names tables. */
  tableBytes: Map<string, Point[]>
  /** Used bytes by mount point. */
  diskUsed: Map<string, Point[]>
  backupBytes: Point[]
  redisUsedBytes: Point[]
}

/** Each figure on first use; every caller gets the same promise (and the same failure). Properties: they are passed on as values. */
export interface CapacityFacts {
  readonly database: () => Promise<DatabaseFacts>
  readonly history: () => Promise<CapacityHistory>
  readonly growth: () => Promise<GrowthFacts>
  readonly disks: () => Promise<DiskFacts>
  readonly redis: () => Promise<RedisFacts>
}
