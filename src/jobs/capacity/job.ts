import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import type { Job } from '../../report/runner.js'
import { once, type CapacityContext } from './context.js'
import { databaseStep, gatherDatabase } from './database.js'
import { diskStep, gatherDisks } from './disk.js'
import { computeGrowth, growthStep } from './growth.js'
import { KIND, readCapacityHistory } from './history.js'
import { recommendationsStep } from './recommendations.js'
import { gatherRedis, redisStep } from './redis.js'

/** The kind of the saved reports: reports.dir/capacity-YYYY-MM-DD.json. */
export const CAPACITY_HISTORY = KIND

/**
 * capacity-planning.py, measured instead of assumed: sizes, rows and bytes per day, growth,
 * the day each disk fills, Redis memory, and what to do about it. Read-only; steps one after
 * another, each figure gathered once by the first step that needs it.
 */
export function capacityJob(config: Config, options: { days?: number; now?: Date } = {}): { job: Job<CapacityContext>; context: CapacityContext } {
  const now = options.now ?? new Date()
  const days = options.days ?? config.capacity.days
  const context: CapacityContext = {
    config,
    now,
    days,
    database: once(() => gatherDatabase(config, now, days)),
    history: once(() => readCapacityHistory(config, now, days)),
    growth: once(async () => computeGrowth(await context.database(), await context.history(), config.capacity, now)),
    disks: once(async () => {
      const history = await context.history()
      let why: string | undefined
      const database = await context.database().catch((error) => void (why = describeError(error)))
      const growth = database ? await context.growth().catch(() => undefined) : undefined
      return gatherDisks(config, now, history, database ?? undefined, growth, why)
    }),
    redis: once(async () => gatherRedis(config, now, await context.history())),
  }
  return {
    job: { command: 'capacity-report', concurrent: false, steps: [databaseStep, growthStep, diskStep, redisStep, recommendationsStep] },
    context,
  }
}
