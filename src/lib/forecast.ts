/**
 * Growth and fill forecasts, pure: a least-squares line through a history of sizes, and the
 * day a size reaches its limit at that rate. A flat or shrinking series is "not filling",
 * never a date in the past; a rise smaller than the noise of the series is flat.
 */

import { round1 } from './format.js'

export const DAY_MS = 86_400_000

/** One measurement: when (epoch ms) and how much (bytes, rows, ...). */
export interface Point {
  at: number
  value: number
}

export interface Line {
  /** Growth per day (the slope). */
  perDay: number
  /** The line's value at `at` of the newest point. */
  valueAtLast: number
  /** Epoch ms of the newest point. */
  lastAt: number
  points: number
  /** Days between the oldest and the newest point. */
  spanDays: number
  /** Standard error of the slope, per day; null with two points (no residual to judge by). */
  slopeError: number | null
  /** Share of the variance the line explains (1: a perfect line); null when the series is constant. */
  r2: number | null
}

/**
 * The least-squares line through the points (x in days), or undefined when fewer than two
 * distinct times make no line. Points need not be sorted.
 */
export function leastSquares(points: readonly Point[]): Line | undefined {
  const usable = points.filter((p) => Number.isFinite(p.at) && Number.isFinite(p.value))
  if (usable.length < 2) return undefined
  const lastAt = Math.max(...usable.map((p) => p.at))
  const firstAt = Math.min(...usable.map((p) => p.at))
  if (lastAt === firstAt) return undefined
  const n = usable.length
  // Days before the newest point: small numbers, no loss of precision on epoch milliseconds.
  const xs = usable.map((p) => (p.at - lastAt) / DAY_MS)
  const ys = usable.map((p) => p.value)
  const meanX = xs.reduce((a, b) => a + b, 0) / n
  const meanY = ys.reduce((a, b) => a + b, 0) / n
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - meanX
    const dy = ys[i]! - meanY
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  const slope = sxy / sxx
  const intercept = meanY - slope * meanX
  let sse = 0
  for (let i = 0; i < n; i++) sse += (ys[i]! - (intercept + slope * xs[i]!)) ** 2
  return {
    perDay: slope,
    valueAtLast: intercept,
    lastAt,
    points: n,
    spanDays: (lastAt - firstAt) / DAY_MS,
    slopeError: n > 2 ? Math.sqrt(sse / (n - 2) / sxx) : null,
    r2: syy > 0 ? Math.max(0, 1 - sse / syy) : null,
  }
}

/** Whether a history is long enough to trust its line over a measured rate. */
export function enoughHistory(line: Line | undefined, minPoints: number, minDays: number): line is Line {
  return line !== undefined && line.points >= minPoints && line.spanDays >= minDays
}

export type Forecast =
  | { state: 'filling'; perDay: number; daysUntilFull: number; fillDate: string }
  | { state: 'full'; perDay: number; daysUntilFull: 0; fillDate: string }
  | { state: 'not-filling'; perDay: number; reason: 'flat' | 'shrinking' }
  | { state: 'unknown'; reason: string }

export interface FillInput {
  /** What there is room for (disk size, maxmemory). */
  capacity: number
  /** What is used now. */
  used: number
  /** Growth per day; null when unknown. */
  perDay: number | null
  /** The slope's standard error, when the rate comes from a line: a rise within 2 of them is noise. */
  slopeError?: number | null
  now: number
  /** A fill further away than this is "not filling" (flat): 10 years by default. */
  horizonDays?: number
}

/**
 * When `used` reaches `capacity` at `perDay`: free space divided by the growth, counted from
 * the current measurement. Zero or negative growth, growth within the noise, or a date beyond
 * the horizon is "not filling".
 */
export function fillForecast(input: FillInput): Forecast {
  const { capacity, used, perDay, now } = input
  const horizonDays = input.horizonDays ?? 3650
  if (perDay === null || !Number.isFinite(perDay)) return { state: 'unknown', reason: 'no growth rate' }
  if (!(capacity > 0)) return { state: 'unknown', reason: 'no capacity to fill' }
  if (used >= capacity) return { state: 'full', perDay, daysUntilFull: 0, fillDate: new Date(now).toISOString() }
  const noise = input.slopeError ? 2 * input.slopeError : 0
  if (perDay <= 0 || perDay <= noise) {
    return { state: 'not-filling', perDay, reason: perDay < 0 && perDay < -noise ? 'shrinking' : 'flat' }
  }
  const days = (capacity - used) / perDay
  if (days > horizonDays) return { state: 'not-filling', perDay, reason: 'flat' }
  return { state: 'filling', perDay, daysUntilFull: round1(days), fillDate: new Date(now + days * DAY_MS).toISOString() }
}

/** "fills in 12.3 days (2026-12-07)", "not filling (shrinking)", ... */
export function describeForecast(forecast: Forecast): string {
  switch (forecast.state) {
    case 'filling':
      return `fills in ${forecast.daysUntilFull} days (${forecast.fillDate.slice(0, 10)})`
    case 'full':
      return 'full now'
    case 'not-filling':
      return `not filling (${forecast.reason})`
    case 'unknown':
      return `no forecast: ${forecast.reason}`
  }
}

/** The rows-per-day rate of per-day counts: the slope of their running total. Empty leading days are left out. */
export function ratePerDay(counts: readonly { at: number; count: number }[]): Line | undefined {
  const first = counts.findIndex((c) => c.count > 0)
  if (first < 0) return undefined
  let total = 0
  const points: Point[] = []
  for (const c of counts.slice(first)) {
    total += c.count
    points.push({ at: c.at, value: total })
  }
  // The running total starts at zero where the first day with rows starts.
  return leastSquares([{ at: counts[first]!.at - DAY_MS, value: 0 }, ...points])
}
