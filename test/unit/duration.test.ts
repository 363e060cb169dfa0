import { describe, expect, it } from 'vitest'
import { RANGES } from '../../src/config/ranges.js'
import { checkDuration, formatDuration, parseDuration } from '../../src/lib/duration.js'

describe('durations: one grammar for flags and the file', () => {
  it('reads a number with a unit, several units largest first, and a bare number as seconds', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration('2d')).toBe(172_800_000)
    expect(parseDuration('1w')).toBe(604_800_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('1d12h')).toBe(129_600_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('600')).toBe(600_000)
    expect(parseDuration(' 30m ')).toBe(1_800_000)
    expect(parseDuration(5)).toBe(5000)
    expect(parseDuration('0')).toBe(0)
  })

  it('rejects what is no duration', () => {
    for (const text of ['', 'yesterday', '1y', '1M', '1H', '-5m', '30m1h', '1h1h', 'm', '1 h 2', '1e3', 'Infinity', '0x10'])
      expect(parseDuration(text), text).toBeUndefined()
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined()
    expect(parseDuration(-1)).toBeUndefined()
  })

  it('writes the shortest text that reads back the same', () => {
    for (const [ms, text] of [
      [3_600_000, '1h'],
      [86_400_000, '1d'],
      [604_800_000, '1w'],
      [5_400_000, '1h30m'],
      [1500, '1s500ms'],
      [0, '0s'],
      [90_061_000, '1d1h1m1s'],
    ] as const) {
      expect(formatDuration(ms)).toBe(text)
      expect(parseDuration(text)).toBe(ms)
    }
  })

  it('checks a range and says it in one line', () => {
    expect(checkDuration('2s', RANGES.check)).toEqual({ ms: 2000 })
    // 2147484 s overflows Node's timers (2^31-1 ms): every check would "time out" at once.
    expect(checkDuration('2147484', RANGES.check)).toEqual({ error: 'must be between 100ms and 1h' })
    expect(checkDuration('50ms', RANGES.check)).toEqual({ error: 'must be between 100ms and 1h' })
    expect(checkDuration('soon', RANGES.check)).toEqual({ error: expect.stringMatching(/^is not a duration: use a number with a unit/) })
    expect(checkDuration('1w', RANGES.since)).toEqual({ ms: 604_800_000 })
  })

  it('keeps every timeout and wait under the timer limit of 2^31-1 ms', () => {
    const windows = ['since', 'window', 'year']
    for (const [name, range] of Object.entries(RANGES)) {
      if (!windows.includes(name)) expect(range.max, name).toBeLessThan(2 ** 31 - 1)
      expect(range.min, name).toBeLessThanOrEqual(range.max)
    }
  })
})
