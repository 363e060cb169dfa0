/**
 * What the capacity figures mean for each step, as findings. Pure: the figures go in. A disk or
 * a Redis that fills before capacity.fillCriticalDays fails its step; one that fills before
 * capacity.fillWarningDays, and any figure that could not be measured, is a warning: a capacity
 * report is still worth having without it.
 */

import type { Config } from '../../config/load.js'
import { describeForecast, type Forecast } from '../../lib/forecast.js'
import { formatDelta } from '../../lib/format.js'
import type { Finding, Severity } from '../../report/outcome.js'
import type { DiskFacts, GrowthFacts, MeasuredTable, RedisFacts } from './facts.js'

type Thresholds = Pick<Config['capacity'], 'fillWarningDays' | 'fillCriticalDays'>

/** A table whose rows per day could not be counted, and where to look. */
export function measuredFindings(measured: readonly MeasuredTable[]): Finding[] {
  return measured
    .filter((m) => m.state !== 'measured')
    .map((m) => ({
      id: `growth-not-measured:${m.table}`,
      severity: 'medium',
      subject: m.table,
      message: m.message ?? `${m.table}: ${m.state}`,
      fix:
        m.state === 'missing'
          ? 'is this the platform database? check postgres.database / PGDATABASE'
          : m.state === 'not-a-timestamp'
            ? 'fix retention.rules'
            : 'check that the platform is writing results (probe-ops diagnose)',
    }))
}

/** No growth figure for the database: nothing to forecast with. */
export function growthFindings(growth: GrowthFacts): Finding[] {
  if (growth.database.perDay !== null) return []
  return [
    {
      id: 'growth-unknown',
      severity: 'medium',
      message: growth.notes.join('; ') || 'no growth figure',
      fix: 'the forecast needs task_results rows or a few days of saved reports (reports.dir)',
    },
  ]
}

/** Full, or filling before the critical days: high; before the warning days: medium. */
export function fillSeverity(forecast: Forecast, thresholds: Thresholds): Severity | undefined {
  if (forecast.state === 'full') return 'high'
  if (forecast.state !== 'filling') return undefined
  if (forecast.daysUntilFull < thresholds.fillCriticalDays) return 'high'
  if (forecast.daysUntilFull < thresholds.fillWarningDays) return 'medium'
  return undefined
}

export function diskFindings(facts: DiskFacts, thresholds: Thresholds): Finding[] {
  if (facts.disks.length === 0)
    return [
      {
        id: 'disks-not-measured',
        severity: 'medium',
        message: facts.unmeasured.map((u) => `${u.path}: ${u.error}`).join('; ') || 'no disk could be measured',
        fix: 'check disk.paths and backup.dir',
      },
    ]
  const findings: Finding[] = []
  for (const d of facts.disks) {
    const severity = fillSeverity(d.forecast, thresholds)
    if (!severity) continue
    findings.push({
      id: `disk-fills:${d.mount}`,
      severity,
      subject: d.mount,
      message: `${d.mount} (${d.paths.map((p) => p.role).join(', ')}) ${describeForecast(d.forecast)} at ${formatDelta(d.growth.perDay ?? 0)}/day`,
      fix: 'free space or grow the disk; see the recommendations below',
    })
  }
  return findings
}

/**
 * Redis not reachable: a warning. Memory at 90% of maxmemory, or filling before the warning days:
 * a warning; and when Redis then refuses writes (noeviction) and is full or fills before the
 * critical days, high: with an eviction policy a full Redis drops keys instead.
 */
export function redisFindings(redis: RedisFacts, summary: string, thresholds: Thresholds): Finding[] {
  if (!redis.reachable)
    return [
      {
        id: 'redis-not-measured',
        severity: 'medium',
        message: redis.error?.message ?? `Redis at ${redis.url} could not be measured`,
        ...(redis.error?.hint ? { fix: redis.error.hint } : {}),
      },
    ]
  const forecast = redis.forecast
  const filling = forecast ? fillSeverity(forecast, thresholds) : undefined
  const nearlyFull = redis.usedPercent != null && redis.usedPercent >= 90
  if (!filling && !nearlyFull) return []
  const refusesWrites = redis.evictionPolicy === 'noeviction' && filling === 'high'
  return [
    {
      id: 'redis-memory',
      severity: refusesWrites ? 'high' : 'medium',
      message: `Redis memory ${summary}`,
      fix: 'raise maxmemory, or find the large keys: redis-cli --bigkeys',
    },
  ]
}
