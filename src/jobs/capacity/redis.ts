import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { fillForecast } from '../../lib/forecast.js'
import { closeRedis, connectRedis, redisFailure, redisInfo } from '../../systems/redis.js'
import { hintOf } from '../hints.js'
import type { CapacityHistory, RedisFacts } from './facts.js'
import { seriesGrowth } from './growth.js'

/** Redis memory against maxmemory, and its growth where saved reports give a history. */

export async function gatherRedis(config: Readonly<Config>, now: Date, history: CapacityHistory): Promise<RedisFacts> {
  const url = config.redis.url
  let client
  try {
    client = await connectRedis(config.redis)
  } catch (error) {
    const failure = redisFailure(error, config.redis)
    const hint = hintOf(failure)
    return { reachable: false, url, error: { message: failure.message, ...(hint ? { hint } : {}) } }
  }
  try {
    const info = await redisInfo(client)
    const keys = Object.entries(info)
      .filter(([k]) => /^db\d+$/.test(k))
      .reduce((sum, [, v]) => sum + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0)
    const used = Number(info.used_memory ?? 0)
    const max = Number(info.maxmemory ?? 0)
    const growth = seriesGrowth(history.redisUsedBytes, { at: now.getTime(), value: used }, null, config.capacity)
    return {
      reachable: true,
      url,
      version: info.redis_version,
      usedMemoryBytes: used,
      peakMemoryBytes: Number(info.used_memory_peak ?? 0),
      rssBytes: Number(info.used_memory_rss ?? 0),
      maxMemoryBytes: max,
      usedPercent: max > 0 ? Math.round((used / max) * 1000) / 10 : null,
      evictionPolicy: info.maxmemory_policy,
      evictedKeys: Number(info.evicted_keys ?? 0),
      keys,
      growth,
      forecast:
        max <= 0
          ? { state: 'unknown', reason: 'no maxmemory set' }
          : growth.perDay === null
            ? {
                state: 'unknown',
                reason: `growth needs ${config.capacity.minHistoryPoints} reports over ${config.capacity.minHistoryDays} days of history (${growth.history.points} so far)`,
              }
            : fillForecast({ capacity: max, used, perDay: growth.perDay, slopeError: growth.slopeError, now: now.getTime() }),
    }
  } catch (error) {
    return { reachable: false, url, error: { message: `Redis at ${url}: ${describeError(error)}`, hint: 'check that Redis is running and redis.url is right' } }
  } finally {
    closeRedis(client)
  }
}
