import type { Config } from '../../config/load.js'
import { enoughHistory, leastSquares, type Point } from '../../lib/forecast.js'
import { formatDelta, round1 } from '../../lib/format.js'
import type { DatabaseFacts, GrowthFacts, MeasuredTable, RetentionGrowth, SeriesGrowth } from './facts.js'

/**
 * Growth per day: of the database, of each large table, and of the tables rows age out of.
 * A line through the saved history when there is enough of it (capacity.minHistoryPoints
 * reports over capacity.minHistoryDays); before that, the measured rows per day times the
 * measured bytes per row, less the rows the retention will delete over the same days. Also
 * the size each such table settles at under its retention, and what another retention
 * would make of it.
 */

const RETENTION_OPTIONS = [7, 30, 60, 90, 180, 365]
/** The standard error given a measured net growth, as a share of what arrives: inflow and outflow within 5% are flat. */
const MEASURED_ERROR = 0.025

/** A measured rate and its standard error. */
export interface Measured {
  perDay: number
  error: number
}

function measuredOf(list: readonly RetentionGrowth[]): Measured | null {
  const known = list.filter((r) => r.netBytesPerDay !== null)
  if (known.length === 0) return null
  return { perDay: known.reduce((sum, r) => sum + r.netBytesPerDay!, 0), error: known.reduce((sum, r) => sum + MEASURED_ERROR * (r.inflowBytesPerDay ?? 0), 0) }
}

/** The growth of one series: its history line when long enough, else the measured rate. */
export function seriesGrowth(history: readonly Point[], current: Point | undefined, measured: Measured | null, config: Config['capacity']): SeriesGrowth {
  const measuredPerDay = measured?.perDay ?? null
  const points = current ? [...history, current] : [...history]
  const line = leastSquares(points)
  const summary = { points: points.length, spanDays: line ? round1(line.spanDays) : 0, perDay: line?.perDay ?? null, r2: line?.r2 ?? null }
  if (enoughHistory(line, config.minHistoryPoints, config.minHistoryDays))
    return { perDay: line.perDay, source: 'history', slopeError: line.slopeError, history: summary, measuredPerDay }
  if (measured) return { perDay: measured.perDay, source: 'measured', slopeError: measured.error, history: summary, measuredPerDay }
  return { perDay: null, source: 'none', slopeError: null, history: summary, measuredPerDay }
}

export function retentionGrowth(m: MeasuredTable): RetentionGrowth | undefined {
  if (m.state !== 'measured' || m.rowsPerDay === null || m.rowsPerDay === undefined) return undefined
  const bytesPerRow = m.bytesPerRow ?? null
  const leaving = m.leavingRowsPerDay ?? 0
  const net = m.rowsPerDay - leaving
  const steady = (days: number) => (bytesPerRow === null ? null : m.rowsPerDay! * days * bytesPerRow)
  const configured = m.retentionDays === null ? null : steady(m.retentionDays)
  const baseline = configured ?? m.totalBytes ?? 0
  const days = [...new Set([...RETENTION_OPTIONS, ...(m.retentionDays === null ? [] : [m.retentionDays])])].sort((a, b) => a - b)
  return {
    table: m.table,
    rowsPerDay: m.rowsPerDay,
    bytesPerRow,
    inflowBytesPerDay: bytesPerRow === null ? null : m.rowsPerDay * bytesPerRow,
    retentionDays: m.retentionDays,
    leavingRowsPerDay: leaving,
    netRowsPerDay: net,
    netBytesPerDay: bytesPerRow === null ? null : net * bytesPerRow,
    currentBytes: m.totalBytes ?? null,
    steadyStateBytes: configured,
    pastRetentionRows: m.pastRetentionRows ?? null,
    pastRetentionBytes: m.pastRetentionRows != null && bytesPerRow !== null ? m.pastRetentionRows * bytesPerRow : null,
    options: bytesPerRow === null ? [] : days.map((d) => ({ days: d, steadyStateBytes: steady(d)!, changeBytes: steady(d)! - baseline })),
  }
}

const bare = (name: string) => name.replace(/^public\./i, '').toLowerCase()

export function computeGrowth(
  facts: DatabaseFacts,
  history: { databaseBytes: Point[]; tableBytes: Map<string, Point[]> },
  config: Config['capacity'],
  now: Date,
): GrowthFacts {
  const at = now.getTime()
  const notes: string[] = []
  const retention = facts.measured.map(retentionGrowth).filter((r): r is RetentionGrowth => r !== undefined)
  for (const m of facts.measured) if (m.state !== 'measured') notes.push(m.message!)
  const database = { bytes: facts.databaseBytes, ...seriesGrowth(history.databaseBytes, { at, value: facts.databaseBytes }, measuredOf(retention), config) }

  const byTable = new Map(retention.map((r) => [bare(r.table), r]))
  const large = facts.tables.filter((t) => t.totalBytes >= (facts.databaseBytes * config.largeTablePercent) / 100 || byTable.has(bare(t.name)))
  const tables = large.map((t) => ({
    name: t.name,
    totalBytes: t.totalBytes,
    growth: seriesGrowth(
      history.tableBytes.get(t.name) ?? [],
      { at, value: t.totalBytes },
      measuredOf(byTable.has(bare(t.name)) ? [byTable.get(bare(t.name))!] : []),
      config,
    ),
  }))
  if (database.source === 'none')
    notes.push(
      `no growth figure yet: nothing measured, and ${database.history.points} of the ${config.minHistoryPoints} measurements over ${config.minHistoryDays} days a history line needs (reports.dir)`,
    )
  return { database, tables, retention, notes }
}

/** Growth within twice its standard error of zero: neither growing nor shrinking. */
export function isFlat(growth: SeriesGrowth): boolean {
  return growth.perDay !== null && Math.abs(growth.perDay) <= 2 * (growth.slopeError ?? 0)
}

/** "+1.2 GiB/day", "flat (-3 B/day)", "?" */
export function perDay(growth: SeriesGrowth): string {
  if (growth.perDay === null) return '?'
  const rate = `${formatDelta(growth.perDay)}/day`
  return isFlat(growth) ? `flat (${rate})` : rate
}

export function describeSource(growth: SeriesGrowth): string {
  if (growth.source === 'history') return `history: ${growth.history.points} measurements over ${growth.history.spanDays} days`
  if (growth.source === 'measured') return 'measured'
  return 'unknown'
}
