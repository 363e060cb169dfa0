import { describeError } from '../../errors.js'
import { describeForecast } from '../../lib/forecast.js'
import { formatCount, formatDelta, formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { textTable } from '../../report/table.js'
import type { CapacityContext } from './context.js'
import type { DatabaseData, DiskData, GrowthData, RecommendationsData, RedisData } from './data.js'
import type { MeasuredTable, TableSize } from './facts.js'
import { describeSource, perDay } from './growth.js'
import { diskFindings, growthFindings, measuredFindings, redisFindings } from './ratings.js'
import { recommend, recommendationFindings, type Figures } from './recommendations.js'

/** How many of the largest tables the report lists (the rest are counted). */
const LISTED_TABLES = 50

function tableLines(tables: readonly TableSize[]): string[] {
  if (tables.length === 0) return ['no tables']
  const shown = tables.slice(0, 10)
  const lines = textTable(
    ['table', 'rows', 'heap', 'index', 'toast', 'total', 'dead'],
    shown.map((t) => [
      `${t.name}${t.partitions ? ` (${t.partitions} partitions)` : ''}`,
      t.rows === null ? '?' : formatCount(t.rows),
      formatSize(t.heapBytes),
      formatSize(t.indexBytes),
      formatSize(t.toastBytes),
      formatSize(t.totalBytes),
      t.liveTuples + t.deadTuples > 0 ? `${Math.round((t.deadTuples / (t.liveTuples + t.deadTuples)) * 100)}%` : '-',
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
  if (tables.length > shown.length) lines.push(`... and ${tables.length - shown.length} smaller tables`)
  return lines
}

export function describeMeasured(m: MeasuredTable): string {
  if (m.state !== 'measured') return m.message ?? m.state
  const how = m.method === 'index-range-scan' ? `index range scan on ${m.column}` : `planner estimates${m.indexed ? '' : `: no index leads with ${m.column}`}`
  const perRow = m.bytesPerRow
    ? `, ${formatSize(m.bytesPerRow)}/row (heap ${formatSize(m.heapBytesPerRow ?? 0)}, indexes ${formatSize(m.indexBytesPerRow ?? 0)})`
    : ', bytes per row unknown (never analyzed)'
  return `${m.table}: ${formatCount(m.windowRows ?? 0)} rows in the last ${m.windowDays} days (${how}), ${formatCount(m.rowsPerDay ?? 0)} rows/day${perRow}; oldest row ${m.oldestRow?.slice(0, 10) ?? '?'}`
}

export const database: StepDefinition<CapacityContext, DatabaseData> = {
  async run({ facts }) {
    const found = await facts.database()
    const summary = [
      `${found.database} ${formatSize(found.databaseBytes)} in ${found.tables.length} tables`,
      ...found.measured.map((m) =>
        m.state === 'measured'
          ? `${m.table} ${formatCount(m.rowsPerDay ?? 0)} rows/day${m.bytesPerRow ? `, ${formatSize(m.bytesPerRow)}/row` : ''}`
          : m.message!,
      ),
    ].join('; ')
    return {
      summary,
      findings: measuredFindings(found.measured),
      details: [...tableLines(found.tables), ...found.measured.filter((m) => m.state === 'measured').map(describeMeasured)],
      data: { ...found, tableCount: found.tables.length, tables: found.tables.slice(0, LISTED_TABLES) },
    }
  },
}

export const growth: StepDefinition<CapacityContext, GrowthData> = {
  async run({ facts }) {
    const found = await facts.growth()
    const db = found.database
    const details = textTable(
      ['', 'size', 'growth', 'from'],
      [
        ['database', formatSize(db.bytes), perDay(db), describeSource(db)],
        ...found.tables.map((t) => [t.name, formatSize(t.totalBytes), perDay(t.growth), describeSource(t.growth)]),
      ],
      ['l', 'r', 'r', 'l'],
    )
    for (const r of found.retention) {
      details.push(
        `${r.table}: ${formatCount(r.rowsPerDay)} rows/day arrive${r.retentionDays === null ? ', no retention rule deletes any' : `, ${formatCount(r.leavingRowsPerDay)}/day age past the ${r.retentionDays}-day retention`}`,
      )
      if (r.steadyStateBytes !== null) {
        details.push(
          `  steady state under ${r.retentionDays} days: ${formatSize(r.steadyStateBytes)} (now ${formatSize(r.currentBytes ?? 0)})${r.pastRetentionRows ? `; ${formatCount(r.pastRetentionRows)} rows (~${formatSize(r.pastRetentionBytes ?? 0)}) already past it, deleted by the next maintain daily` : ''}`,
        )
      }
      if (r.options.length > 0)
        details.push(
          `  under other retentions: ${r.options.map((o) => `${o.days} d ${formatSize(o.steadyStateBytes)}${o.days === r.retentionDays ? ' (configured)' : ` (${formatDelta(o.changeBytes)})`}`).join(', ')}`,
        )
    }
    details.push(...found.notes)
    const steady = found.retention.find((r) => r.steadyStateBytes !== null)
    const summary = [
      db.perDay === null ? 'database growth unknown' : `database ${perDay(db)} (${describeSource(db)})`,
      ...(steady ? [`${steady.table} settles at ${formatSize(steady.steadyStateBytes!)} under ${steady.retentionDays}-day retention`] : []),
    ].join('; ')
    return { summary, findings: growthFindings(found), details, data: found }
  },
}

export const disk: StepDefinition<CapacityContext, DiskData> = {
  async run({ config, facts }) {
    const found = await facts.disks()
    const details = textTable(
      ['mount', 'holds', 'size', 'used', 'free', 'growth', 'from', 'forecast'],
      found.disks.map((d) => [
        d.mount,
        [...new Set(d.paths.map((p) => p.role))].join(','),
        formatSize(d.sizeBytes),
        `${d.usedPercent}%`,
        formatSize(d.freeBytes),
        perDay(d.growth),
        d.growth.source === 'measured' ? d.growth.components.join(' + ') : describeSource(d.growth),
        describeForecast(d.forecast),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'l'],
    )
    const b = found.backups
    details.push(
      b.exists
        ? `backups ${b.path}: ${formatSize(b.bytes)} in ${b.files} files${b.truncated ? ' (counted up to 200,000 entries)' : ''}, ${b.growth.source === 'history' ? `${formatDelta(b.growth.perDay!)}/day (${describeSource(b.growth)})` : 'growth needs a few days of history'}`
        : `backups ${b.path}: does not exist yet`,
    )
    for (const u of found.unmeasured) details.push(`${u.path} (${u.role}): ${u.error}`)
    details.push(...found.notes)
    const summary =
      found.disks.length === 0
        ? 'no disk could be measured'
        : found.disks
            .map((d) => `${d.mount} ${d.usedPercent}% used, ${d.forecast.state === 'unknown' ? 'no forecast yet' : describeForecast(d.forecast)}`)
            .join('; ')
    return { summary, findings: diskFindings(found, config.capacity), details, data: found }
  },
}

export const redis: StepDefinition<CapacityContext, RedisData> = {
  async run({ config, facts }) {
    const { capacity } = config
    const r = await facts.redis()
    // A capacity report is still worth having without Redis: a warning, not a failure.
    if (!r.reachable) return { summary: `not measured: ${r.error?.message}`, findings: redisFindings(r, '', capacity), data: r }
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
    return { summary, findings: redisFindings(r, summary, capacity), details, data: r }
  },
}

export const recommendations: StepDefinition<CapacityContext, RecommendationsData> = {
  async run({ config, facts }) {
    const missing: string[] = []
    const get = async <T>(what: string, work: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await work()
      } catch (error) {
        missing.push(`${what}: ${describeError(error)}`)
        return undefined
      }
    }
    const figures: Figures = {
      database: await get('database', facts.database),
      growth: await get('growth', facts.growth),
      disks: await get('disks', facts.disks),
      redis: await get('redis', facts.redis),
    }
    if (figures.redis && !figures.redis.reachable) missing.push(`redis: ${figures.redis.error?.message}`)
    const list = recommend(figures, config)
    const counts = (['high', 'medium', 'low'] as const).map((p) => [p, list.filter((r) => r.priority === p).length] as const).filter(([, n]) => n > 0)
    const summary =
      list.length === 0
        ? 'nothing to do'
        : `${list.length} recommendation${list.length === 1 ? '' : 's'} (${counts.map(([p, n]) => `${n} ${p}`).join(', ')}): ${list[0]!.message}`
    return {
      summary,
      findings: recommendationFindings(list),
      details: missing.map((m) => `not considered: ${m}`),
      data: { recommendations: list, ...(missing.length ? { missing } : {}) },
    }
  },
}
