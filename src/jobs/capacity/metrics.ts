/**
 * capacity-report's gauges: each mount's use, growth and when it fills, the database's size and
 * growth, Redis' memory. A figure the run could not make (a forecast without history, a mount not
 * filling) has no series rather than a made-up one. When a mount fills is a time, not days left:
 * the days are (time - time()) / 86400, right between runs too (promtool wants seconds as the unit).
 */

import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { DAY_SECONDS, finishedSeconds, stepData } from '../shared/metrics.js'
import { databaseData, diskData, growthData, redisData } from './data.js'

export const DISK_USED: MetricFamily = { name: 'probe_ops_disk_used_percent', help: 'How full the mount is, in percent, as the last run measured it.' }
const DISK_GROWTH: MetricFamily = { name: 'probe_ops_disk_growth_bytes_per_day', help: "The mount's growth, from capacity-report's history." }
const DISK_FULL: MetricFamily = {
  name: 'probe_ops_disk_full_timestamp_seconds',
  help: 'When the mount is full at its growth (the run itself: full); no series when it is not filling or has no forecast.',
}
const DATABASE_SIZE: MetricFamily = { name: 'probe_ops_database_size_bytes', help: "The platform database's size." }
const DATABASE_GROWTH: MetricFamily = { name: 'probe_ops_database_growth_bytes_per_day', help: "The platform database's growth." }
const REDIS_USED: MetricFamily = { name: 'probe_ops_redis_memory_used_bytes', help: "Redis' used memory." }
const REDIS_MAX: MetricFamily = { name: 'probe_ops_redis_memory_max_bytes', help: "Redis' maxmemory; no series when it has none." }
const REDIS_GROWTH: MetricFamily = { name: 'probe_ops_redis_memory_growth_bytes_per_day', help: "Redis' memory growth." }
const REDIS_FULL: MetricFamily = {
  name: 'probe_ops_redis_memory_full_timestamp_seconds',
  help: 'When Redis reaches its maxmemory at its growth; no series when it is not filling or has no forecast.',
}

type Forecast = { state: string; daysUntilFull?: number }

/** The run's time plus the forecast's days until full; undefined when it is not filling. */
function fullAt(report: Report, forecast: Forecast | undefined): number | undefined {
  if ((forecast?.state !== 'filling' && forecast?.state !== 'full') || forecast.daysUntilFull === undefined) return undefined
  return finishedSeconds(report) + Math.round(forecast.daysUntilFull * DAY_SECONDS)
}

/** A sample of each family whose value is known. */
function known(labels: Record<string, string>, values: readonly [MetricFamily, number | null | undefined][]): MetricSample[] {
  return values.flatMap(([family, value]) => (typeof value === 'number' && Number.isFinite(value) ? [{ family, labels, value }] : []))
}

function diskSamples(report: Report): MetricSample[] {
  const disk = stepData(report, 'disk', diskData)?.data
  return (disk?.disks ?? []).flatMap((mount) =>
    known({ mount: mount.mount }, [
      [DISK_USED, mount.usedPercent],
      [DISK_GROWTH, mount.growth.perDay],
      [DISK_FULL, fullAt(report, mount.forecast)],
    ]),
  )
}

function databaseSamples(report: Report): MetricSample[] {
  return known({}, [
    [DATABASE_SIZE, stepData(report, 'database', databaseData)?.data.databaseBytes],
    [DATABASE_GROWTH, stepData(report, 'growth', growthData)?.data.database.perDay],
  ])
}

function redisSamples(report: Report): MetricSample[] {
  const redis = stepData(report, 'redis', redisData)?.data
  if (!redis?.reachable) return []
  return known({}, [
    [REDIS_USED, redis.usedMemoryBytes],
    [REDIS_MAX, redis.maxMemoryBytes ? redis.maxMemoryBytes : undefined],
    [REDIS_GROWTH, redis.growth?.perDay],
    [REDIS_FULL, fullAt(report, redis.forecast)],
  ])
}

export const capacityMetrics: JobMetrics = {
  families: [DISK_USED, DISK_GROWTH, DISK_FULL, DATABASE_SIZE, DATABASE_GROWTH, REDIS_USED, REDIS_MAX, REDIS_GROWTH, REDIS_FULL],
  samples: (report) => [...diskSamples(report), ...databaseSamples(report), ...redisSamples(report)],
}
