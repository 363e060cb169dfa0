/**
 * The one grammar of durations, for flags and the configuration file alike: a number with a unit
 * (`500ms`, `90s`, `15m`, `1h`, `7d`, `2w`), several in a row from the largest (`1h30m`), or a
 * bare number, which is seconds (`--timeout 600`, as the flags always took).
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const
type Unit = keyof typeof UNIT_MS

/** Largest first, as they must be written. */
const UNITS_DESCENDING: Unit[] = ['w', 'd', 'h', 'm', 's', 'ms']

const BARE_SECONDS = /^\d+(?:\.\d+)?$/
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y

export const DURATION_GRAMMAR = 'a number with a unit (ms, s, m, h, d, w) such as 90s, 15m, 1h, 7d or 1h30m; a bare number is seconds'

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined
  const trimmed = text.trim()
  if (BARE_SECONDS.test(trimmed)) return Number(trimmed) * 1000
  let total = 0
  let at = 0
  let previous = Infinity
  while (at < trimmed.length) {
    PART.lastIndex = at
    const match = PART.exec(trimmed)
    if (!match) return undefined
    const unit = UNIT_MS[match[2] as Unit]
    // Each unit once, largest first: "30m1h" or "1h1h" is a typo, not a sum.
    if (unit >= previous) return undefined
    previous = unit
    total += Number(match[1]) * unit
    at = PART.lastIndex
  }
  return at === 0 ? undefined : total
}

/**
 * The text parseDuration reads back as `ms`, as an operator writes it: 5_400_000 -> "1h30m",
 * 1500 -> "1s500ms"; weeks only for whole weeks (14d -> "2w", but 365d stays "365d").
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let left = Math.round(ms)
  const parts: string[] = []
  for (const unit of UNITS_DESCENDING.filter((u) => u !== 'w' || left % UNIT_MS.w === 0)) {
    const size = UNIT_MS[unit]
    const count = Math.floor(left / size)
    if (count === 0) continue
    parts.push(`${count}${unit}`)
    left -= count * size
  }
  return parts.join('')
}

/** The bounds a duration setting accepts, in milliseconds. */
export interface DurationRange {
  min: number
  max: number
}

/** "between 100ms and 1h" */
export function describeRange(range: DurationRange): string {
  return `between ${formatDuration(range.min)} and ${formatDuration(range.max)}`
}

/**
 * A duration within its range, or the one line that says what is wrong with it. Every timer's
 * bound comes through here: Node's setTimeout fires at once for more than 2^31-1 ms (24.8 days),
 * so a range is what keeps a "timeout" of 2147484 seconds from timing everything out.
 */
export function checkDuration(text: string | number, range: DurationRange): { ms: number } | { error: string } {
  const ms = parseDuration(text)
  if (ms === undefined) return { error: `is not a duration: use ${DURATION_GRAMMAR}` }
  if (ms < range.min || ms > range.max) return { error: `must be ${describeRange(range)}` }
  return { ms }
}
