import type { Config } from '../../config/load.js'
import type { CapacityHistory } from './history.js'
import type { DatabaseFacts } from './database.js'
import type { DiskFacts } from './disk.js'
import type { GrowthFacts } from './growth.js'
import type { RedisFacts } from './redis.js'

/**
 * What the capacity steps share. Each figure is gathered once, on first use, by whichever step
 * needs it first: `--only disk` still measures the database growth it forecasts with, and
 * the recommendations read every figure without measuring anything twice.
 */
export interface CapacityContext {
  config: Config
  /** The run's clock: every window and forecast counts from it. */
  now: Date
  /** The window of per-day counts and of history, in days. */
  days: number
  database(): Promise<DatabaseFacts>
  history(): Promise<CapacityHistory>
  growth(): Promise<GrowthFacts>
  disks(): Promise<DiskFacts>
  redis(): Promise<RedisFacts>
}

/** A function run at most once; every caller gets the same promise (and the same failure). */
export function once<T>(work: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined
  return () => {
    promise ??= work()
    // A failure is read by every step that needs the figure; unread, it must not crash the run.
    promise.catch(() => undefined)
    return promise
  }
}
