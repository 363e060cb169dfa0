import { describe, expect, it } from 'vitest'
import { DAY_MS, describeForecast, enoughHistory, fillForecast, leastSquares, ratePerDay, type Point } from '../../src/lib/forecast.js'
import { seriesGrowth } from '../../src/jobs/capacity/growth.js'

const GB = 1024 ** 3
const NOW = Date.parse('2026-11-25T06:00:00Z')
const capacityConfig = {
  days: 30,
  fillWarningDays: 30,
  fillCriticalDays: 7,
  minHistoryPoints: 3,
  minHistoryDays: 7,
  maxScanRows: 20_000_000,
  largeTablePercent: 5,
}

/** A deterministic PRNG (mulberry32) and a normal deviate from it. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

/** `days` daily measurements ending now of a disk growing `perDay` from `start`, with noise of sd `noise`. */
function history(start: number, perDay: number, days: number, noise: number, rand: () => number): Point[] {
  return Array.from({ length: days }, (_, i) => {
    const daysAgo = days - 1 - i
    return { at: NOW - daysAgo * DAY_MS, value: start + perDay * (days - 1 - daysAgo) + noise * normal(rand) }
  })
}

describe('least squares', () => {
  it('finds the slope and the level of an exact line', () => {
    const line = leastSquares([0, 1, 2, 3, 4].map((d) => ({ at: NOW - (4 - d) * DAY_MS, value: 100 + 25 * d })))!
    expect(line.perDay).toBeCloseTo(25, 9)
    expect(line.valueAtLast).toBeCloseTo(200, 9)
    expect(line.spanDays).toBe(4)
    expect(line.slopeError).toBeCloseTo(0, 9)
    expect(line.r2).toBeCloseTo(1, 9)
  })

  it('makes no line of fewer than two distinct times', () => {
    expect(leastSquares([])).toBeUndefined()
    expect(leastSquares([{ at: NOW, value: 1 }])).toBeUndefined()
    expect(
      leastSquares([
        { at: NOW, value: 1 },
        { at: NOW, value: 2 },
      ]),
    ).toBeUndefined()
  })

  it('trusts a history only with enough points over enough days', () => {
    const pts = (n: number, spacingDays: number) => Array.from({ length: n }, (_, i) => ({ at: NOW - i * spacingDays * DAY_MS, value: i }))
    expect(enoughHistory(leastSquares(pts(3, 4)), 3, 7)).toBe(true)
    expect(enoughHistory(leastSquares(pts(2, 10)), 3, 7)).toBe(false)
    expect(enoughHistory(leastSquares(pts(5, 1)), 3, 7)).toBe(false)
  })
})

describe('fill forecast', () => {
  it('predicts the fill date within 1 day of the truth on noisy synthetic histories with known growth', () => {
    const rand = random(7)
    for (let run = 0; run < 200; run++) {
      const capacity = (100 + rand() * 900) * GB
      const perDay = (0.2 + rand() * 20) * GB
      const truthDays = 3 + rand() * 120
      // The truth: the noise-free disk is `truthDays` from full now.
      const usedNow = capacity - truthDays * perDay
      const days = 14 + Math.floor(rand() * 30)
      const start = usedNow - perDay * (days - 1)
      // Day-to-day jitter of a twentieth of a day's growth (temp files, logs rotating).
      const points = history(start, perDay, days, 0.05 * perDay, rand)
      const current = points.pop()!
      const growth = seriesGrowth(points, current, null, capacityConfig)
      expect(growth.source).toBe('history')
      const forecast = fillForecast({ capacity, used: current.value, perDay: growth.perDay, slopeError: growth.slopeError, now: current.at })
      expect(forecast.state, JSON.stringify({ run, forecast })).toBe('filling')
      const predicted = Date.parse((forecast as { fillDate: string }).fillDate)
      const truth = NOW + truthDays * DAY_MS
      expect(Math.abs(predicted - truth) / DAY_MS, `run ${run}: growth ${perDay / GB} GB/day, ${days} days`).toBeLessThan(1)
    }
  })

  it('says "not filling", never a date in the past, for a flat or shrinking disk', () => {
    const rand = random(11)
    const capacity = 500 * GB
    const flat = history(300 * GB, 0, 30, 0.5 * GB, rand)
    const flatGrowth = seriesGrowth(flat.slice(0, -1), flat.at(-1), null, capacityConfig)
    const flatForecast = fillForecast({ capacity, used: flat.at(-1)!.value, perDay: flatGrowth.perDay, slopeError: flatGrowth.slopeError, now: NOW })
    expect(flatForecast).toMatchObject({ state: 'not-filling', reason: 'flat' })
    expect(describeForecast(flatForecast)).toBe('not filling (flat)')

    const shrinking = history(400 * GB, -2 * GB, 30, 0.3 * GB, rand)
    const shrinkGrowth = seriesGrowth(shrinking.slice(0, -1), shrinking.at(-1), null, capacityConfig)
    const shrinkForecast = fillForecast({ capacity, used: shrinking.at(-1)!.value, perDay: shrinkGrowth.perDay, slopeError: shrinkGrowth.slopeError, now: NOW })
    expect(shrinkForecast).toMatchObject({ state: 'not-filling', reason: 'shrinking' })
    expect(shrinkForecast).not.toHaveProperty('fillDate')
  })

  it('calls growth within the noise, or a fill beyond the horizon, flat', () => {
    expect(fillForecast({ capacity: 100, used: 50, perDay: 0.1, slopeError: 1, now: NOW })).toMatchObject({ state: 'not-filling', reason: 'flat' })
    expect(fillForecast({ capacity: 100 * GB, used: 50 * GB, perDay: 1024, now: NOW })).toMatchObject({ state: 'not-filling', reason: 'flat' })
    expect(fillForecast({ capacity: 100, used: 50, perDay: 0, now: NOW })).toMatchObject({ state: 'not-filling', reason: 'flat' })
  })

  it('divides free space by growth, and says full when it is', () => {
    expect(fillForecast({ capacity: 100 * GB, used: 40 * GB, perDay: 2 * GB, now: NOW })).toEqual({
      state: 'filling',
      perDay: 2 * GB,
      daysUntilFull: 30,
      fillDate: new Date(NOW + 30 * DAY_MS).toISOString(),
    })
    expect(fillForecast({ capacity: 100, used: 100, perDay: 1, now: NOW })).toMatchObject({ state: 'full', daysUntilFull: 0 })
    expect(fillForecast({ capacity: 100, used: 10, perDay: null, now: NOW })).toMatchObject({ state: 'unknown' })
    expect(fillForecast({ capacity: 0, used: 0, perDay: 5, now: NOW })).toMatchObject({ state: 'unknown' })
  })

  it('falls back to the measured rate while the history is too short', () => {
    const short = [
      { at: NOW - 2 * DAY_MS, value: 10 },
      { at: NOW - DAY_MS, value: 20 },
    ]
    const growth = seriesGrowth(short, { at: NOW, value: 30 }, { perDay: 7, error: 0.1 }, capacityConfig)
    expect(growth).toMatchObject({ source: 'measured', perDay: 7, slopeError: 0.1, measuredPerDay: 7, history: { points: 3, spanDays: 2, perDay: 10 } })
    expect(seriesGrowth(short, undefined, null, capacityConfig)).toMatchObject({ source: 'none', perDay: null })
  })
})

describe('rows per day from per-day counts', () => {
  const counts = (list: number[]) => list.map((count, i) => ({ at: NOW - (list.length - 1 - i) * DAY_MS, count }))

  it('is the slope of the running total', () => {
    expect(ratePerDay(counts(Array(30).fill(500)))!.perDay).toBeCloseTo(500, 6)
    // Growing traffic: 100, 200, ... 1000 a day averages out at its middle.
    expect(ratePerDay(counts([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]))!.perDay).toBeGreaterThan(500)
  })

  it('leaves out the empty days before the first row', () => {
    expect(ratePerDay(counts([0, 0, 0, 0, 0, 300, 300, 300]))!.perDay).toBeCloseTo(300, 6)
    expect(ratePerDay(counts([0, 0, 40]))!.perDay).toBeCloseTo(40, 6)
  })

  it('has no rate without rows, and never divides by zero', () => {
    expect(ratePerDay(counts([0, 0, 0]))).toBeUndefined()
    expect(ratePerDay([])).toBeUndefined()
  })
})
