import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { describeForecast, fillForecast, type Forecast } from '../../lib/forecast.js'
import type { Step, StepOutcome } from '../../report/runner.js'
import { formatCount, formatSize } from '../../report/table.js'
import { closeRedis, connectRedis, redisFailure, redisInfo } from '../../systems/redis.js'
import { hintOf } from '../hints.js'
import type { CapacityContext } from './context.js'
import type { CapacityHistory } from './history.js'
import { describeSource, perDay, seriesGrowth, type SeriesGrowth } from './growth.js'

/** Redis memory against maxmemory, and its growth where saved reports give a history. */

export interface RedisFacts {
  reachable: boolean
  /** Why Redis could not be measured, with what to do. */
  error?: { message: string; hint?: string }
  url: string
  version?: string
  usedMemoryBytes?: number
  peakMemoryBytes?: number
  rssBytes?: number
  maxMemoryBytes?: number
  usedPercent?: number | null
  evictionPolicy?: string
  evictedKeys?: number
  keys?: number
  growth?: SeriesGrowth
  forecast?: Forecast
}

export async function gatherRedis(config: Config, now: Date, history: CapacityHistory): Promise<RedisFacts> {
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

export const redisStep: Step<CapacityContext> = {
  id: 'redis',
  title: 'Redis memory',
  async run(context): Promise<StepOutcome> {
    const { capacity } = context.config
    const r = await context.redis()
    if (!r.reachable) {
      // A capacity report is still worth having without Redis: a warning, not a failure.
      return { status: 'warning', summary: `not measured: ${r.error!.message}`, data: { ...r }, error: r.error! }
    }
    const used = r.usedMemoryBytes!
    const max = r.maxMemoryBytes!
    const forecast = r.forecast!
    const details = [
      `${r.url}: Redis ${r.version}, ${formatCount(r.keys ?? 0)} keys, used ${formatSize(used)} (peak ${formatSize(r.peakMemoryBytes!)}, RSS ${formatSize(r.rssBytes!)})`,
      max > 0
        ? `maxmemory ${formatSize(max)} (${r.usedPercent}% used), policy ${r.evictionPolicy}, ${formatCount(r.evictedKeys ?? 0)} keys evicted`
        : 'no maxmemory: Redis grows until the host runs out of memory',
      r.growth!.source === 'history'
        ? `growth ${perDay(r.growth!)} (${describeSource(r.growth!)})${max > 0 ? `, ${describeForecast(forecast)}` : ''}`
        : `growth: needs ${capacity.minHistoryPoints} saved reports over ${capacity.minHistoryDays} days (${r.growth!.history.points - 1} so far)`,
    ]
    const summary = `${formatSize(used)}${max > 0 ? ` of ${formatSize(max)} (${r.usedPercent}%)` : ' (no maxmemory)'}${forecast.state !== 'unknown' ? `, ${describeForecast(forecast)}` : ''}`
    const data = { ...r, details }
    const soon = forecast.state === 'full' || (forecast.state === 'filling' && forecast.daysUntilFull < capacity.fillWarningDays)
    const high = r.usedPercent !== null && r.usedPercent !== undefined && r.usedPercent >= 90
    if (soon || high) {
      // With an eviction policy a full Redis drops keys; with noeviction it refuses writes.
      const critical =
        r.evictionPolicy === 'noeviction' && (forecast.state === 'full' || (forecast.state === 'filling' && forecast.daysUntilFull < capacity.fillCriticalDays))
      return {
        status: critical ? 'failed' : 'warning',
        summary,
        data,
        error: { message: `Redis memory ${summary}`, hint: 'raise maxmemory, or find the large keys: redis-cli --bigkeys' },
      }
    }
    return { summary, data }
  },
}
