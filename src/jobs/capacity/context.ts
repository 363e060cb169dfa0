import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import type { CapacityFacts } from './facts.js'

/** What `capacity-report`'s flags ask of the job. */
export interface CapacityOptions {
  /** Days of rows per day and of saved history the growth is measured over; capacity.days when not given. */
  days?: number
}

/**
 * What the capacity steps share. Each figure is gathered once, on first use, by whichever step
 * needs it first: `--only disk` still measures the database growth it forecasts with, and
 * the recommendations read every figure without measuring anything twice.
 */
export interface CapacityContext {
  config: Readonly<Config>
  /** The run's clock: every window and forecast counts from it. */
  now: Date
  /** The window of per-day counts and of history, in days. */
  days: number
  facts: CapacityFacts
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

/** The facts, each loaded with the code that gathers it (and the client it needs) on first use. */
export function capacityContext(config: Readonly<Config>, options: CapacityOptions, now = new Date()): CapacityContext {
  const days = options.days ?? config.capacity.days
  const facts: CapacityFacts = {
    database: once(async () => (await import('./database-queries.js')).gatherDatabase(config, now, days)),
    history: once(async () => (await import('./history.js')).readCapacityHistory(config, now, days)),
    growth: once(async () => (await import('./growth.js')).computeGrowth(await facts.database(), await facts.history(), config.capacity, now)),
    disks: once(async () => {
      const history = await facts.history()
      let why: string | undefined
      const database = await facts.database().catch((error) => void (why = describeError(error)))
      const growth = database ? await facts.growth().catch(() => undefined) : undefined
      return (await import('./disk.js')).gatherDisks(config, now, history, database ?? undefined, growth, why)
    }),
    redis: once(async () => (await import('./redis.js')).gatherRedis(config, now, await facts.history())),
  }
  return { config, now, days, facts }
}
