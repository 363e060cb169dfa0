import type { Config } from '../../config/load.js'
import { describeForecast } from '../../lib/forecast.js'
import { formatCount, formatDelta, formatSize } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'
import type { DatabaseFacts, DiskFacts, GrowthFacts, Recommendation, RedisFacts } from './facts.js'

/** What to do about the capacity figures, each with its priority and the figure behind it. */

type Priority = Recommendation['priority']

const RANK: Record<Priority, number> = { high: 0, medium: 1, low: 2 }
/** Room left on a disk when a retention is sized to fit it. */
const HEADROOM = 0.8
const DEAD_ROWS_MIN = 10_000

export interface Figures {
  database?: DatabaseFacts
  growth?: GrowthFacts
  disks?: DiskFacts
  redis?: RedisFacts
}

export function recommend(figures: Figures, config: Readonly<Config>): Recommendation[] {
  const out: Recommendation[] = []
  const { capacity } = config
  const { database, growth, disks, redis } = figures

  for (const d of disks?.disks ?? []) {
    const f = d.forecast
    const holds = [...new Set(d.paths.map((p) => p.role))].join(', ')
    if (f.state === 'full' || (f.state === 'filling' && f.daysUntilFull < 90)) {
      const soon = f.state === 'full' || f.daysUntilFull < capacity.fillWarningDays
      out.push({
        id: `disk-fills:${d.mount}`,
        priority: soon ? 'high' : 'medium',
        message: `${d.mount} (${holds}) ${describeForecast(f)}`,
        figure: `${formatSize(d.freeBytes)} free of ${formatSize(d.sizeBytes)}, growing ${formatDelta(d.growth.perDay ?? 0)}/day (${d.growth.source})`,
        action: 'grow the disk, or free space: shorter retention, `probe-ops backup prune`, old logs',
      })
    }
  }

  const dataDisk = disks?.disks.find((d) => d.paths.some((p) => p.role === 'data'))
  for (const r of growth?.retention ?? []) {
    const perDayBytes = r.bytesPerRow === null ? null : r.rowsPerDay * r.bytesPerRow
    if (r.retentionDays === null) {
      if ((r.netBytesPerDay ?? 0) > 0) {
        out.push({
          id: `no-retention:${r.table}`,
          priority: 'medium',
          message: `${r.table} has no retention rule: it grows without end`,
          figure: `${formatCount(r.rowsPerDay)} rows/day, ${formatDelta(r.netBytesPerDay!)}/day`,
          action: `add a retention rule (retention.rules: { table: ${r.table}, column: ..., days: 90 }) and run probe-ops maintain daily`,
        })
      }
      continue
    }
    if (r.steadyStateBytes !== null && dataDisk && perDayBytes && perDayBytes > 0) {
      const more = r.steadyStateBytes - (r.currentBytes ?? 0)
      if (more > dataDisk.freeBytes * HEADROOM) {
        const fits = Math.floor(((r.currentBytes ?? 0) + dataDisk.freeBytes * HEADROOM) / perDayBytes)
        out.push({
          id: `retention-too-long:${r.table}`,
          priority: 'high',
          message: `the ${r.retentionDays}-day retention of ${r.table} does not fit on ${dataDisk.mount}`,
          figure: `steady state ${formatSize(r.steadyStateBytes)} needs ${formatSize(more)} more; ${formatSize(dataDisk.freeBytes)} free`,
          action:
            fits >= 1
              ? `shorten retention.rules ${r.table} to ${fits} days or less, or grow ${dataDisk.mount}`
              : `grow ${dataDisk.mount}: not even one day of ${r.table} fits`,
        })
      }
    }
    const pastShare = r.pastRetentionRows && r.rowsPerDay > 0 ? r.pastRetentionRows / r.rowsPerDay : 0
    if (pastShare >= 1) {
      out.push({
        id: `retention-behind:${r.table}`,
        priority: pastShare >= 7 ? 'medium' : 'low',
        message: `${r.table} holds rows past its ${r.retentionDays}-day retention`,
        figure: `${formatCount(r.pastRetentionRows!)} rows (~${formatSize(r.pastRetentionBytes ?? 0)}, ${Math.round(pastShare)} days' worth)`,
        action: 'run `probe-ops maintain daily --only retention,vacuum`, and make sure it runs from cron',
      })
    }
  }

  for (const t of database?.tables ?? []) {
    if (t.deadTuples >= DEAD_ROWS_MIN && t.deadTuples > t.liveTuples) {
      out.push({
        id: `dead-tuples:${t.name}`,
        priority: 'medium',
        message: `${t.name} is mostly dead tuples`,
        figure: `${formatCount(t.deadTuples)} dead, ${formatCount(t.liveTuples)} live (${Math.round((t.deadTuples / (t.deadTuples + t.liveTuples)) * 100)}%), last vacuum ${t.lastVacuum?.slice(0, 10) ?? 'never'}`,
        action: `VACUUM it: probe-ops maintain daily --only vacuum; if dead tuples come back, look for long transactions holding vacuum back (probe-ops diagnose)`,
      })
    }
    if (t.rows === null && t.totalBytes >= 100 * 1024 * 1024) {
      out.push({
        id: `never-analyzed:${t.name}`,
        priority: 'low',
        message: `${t.name} has never been analyzed`,
        figure: `${formatSize(t.totalBytes)}, no planner statistics`,
        action: `ANALYZE ${t.name} (probe-ops maintain daily --only vacuum)`,
      })
    }
  }

  if (redis?.reachable) {
    const f = redis.forecast
    if (redis.usedPercent != null && redis.usedPercent >= 90) {
      out.push({
        id: 'redis-memory',
        priority: 'high',
        message: 'Redis is close to its maxmemory',
        figure: `${formatSize(redis.usedMemoryBytes!)} of ${formatSize(redis.maxMemoryBytes!)} (${redis.usedPercent}%), policy ${redis.evictionPolicy}`,
        action: 'raise maxmemory, or find the large keys: redis-cli --bigkeys',
      })
    } else if (f && (f.state === 'full' || (f.state === 'filling' && f.daysUntilFull < 90))) {
      out.push({
        id: 'redis-memory',
        priority: f.state === 'filling' && f.daysUntilFull >= capacity.fillWarningDays ? 'medium' : 'high',
        message: `Redis memory ${describeForecast(f)}`,
        figure: `${formatSize(redis.usedMemoryBytes!)} of ${formatSize(redis.maxMemoryBytes!)}, ${formatDelta(redis.growth?.perDay ?? 0)}/day`,
        action: 'raise maxmemory before then, or find what keeps growing: redis-cli --bigkeys',
      })
    }
    if (redis.maxMemoryBytes === 0) {
      out.push({
        id: 'redis-maxmemory',
        priority: 'low',
        message: 'Redis has no maxmemory',
        figure: `${formatSize(redis.usedMemoryBytes!)} used, no limit`,
        action: 'set maxmemory and a maxmemory-policy, so that Redis cannot take the host down with it',
      })
    }
  }

  if (!config.reports.dir) {
    out.push({
      id: 'history-off',
      priority: 'low',
      message: 'reports.dir is empty: no history is kept',
      figure: 'forecasts rest on measured task_results growth only',
      action: 'set reports.dir so the next forecasts can fit a line through past reports',
    })
  }
  return out.sort((a, b) => RANK[a.priority] - RANK[b.priority] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/**
 * The recommendations as findings, each under its own id: a high priority is a warning (medium),
 * as it always made the step; the others are worth knowing, not a warning (info).
 */
export function recommendationFindings(recommendations: readonly Recommendation[]): Finding[] {
  return recommendations.map((r) => ({
    id: r.id,
    severity: r.priority === 'high' ? 'medium' : 'info',
    message: `[${r.priority}] ${r.message} (${r.figure})`,
    fix: r.action,
  }))
}
