/** Order statistics of a handful of measurements (the machine is noisy: medians, not means). */

export interface Summary {
  runs: number
  median: number
  p90: number
  min: number
  max: number
}

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new Error('stats: no values')
  return [...values].sort((a, b) => a - b)
}

export function median(values: readonly number[]): number {
  const s = sorted(values)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Nearest-rank percentile (p90 of 10 runs is the 9th fastest). */
export function percentile(values: readonly number[], p: number): number {
  const s = sorted(values)
  const rank = Math.max(1, Math.ceil((p / 100) * s.length))
  return s[rank - 1]!
}

export function summarize(values: readonly number[]): Summary {
  const s = sorted(values)
  return { runs: s.length, median: median(s), p90: percentile(s, 90), min: s[0]!, max: s[s.length - 1]! }
}

/** 712 ms, 1 234 ms: whole milliseconds, enough for wall times of processes. */
export function ms(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} ms`
}

export function seconds(value: number): string {
  return `${(value / 1000).toFixed(2)} s`
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`
}

/** KiB (GNU time's %M) as MB of 10⁶ bytes: 43 448 KiB is 44.5 MB. */
export function megabytes(kib: number): string {
  return `${((kib * 1024) / 1e6).toFixed(1)} MB`
}

export interface SignTest {
  /** Pairs in which the first value was higher, lower, equal. */
  higher: number
  lower: number
  ties: number
  /** One-sided: the chance of `higher` or more of the untied pairs by luck alone (each side 1/2). */
  p: number
}

/** A paired sign test of `a` against `b` (same index, same round): is `a` higher more often than chance allows? */
export function signTest(a: readonly number[], b: readonly number[]): SignTest {
  if (a.length !== b.length) throw new Error(`stats: ${a.length} values paired with ${b.length}`)
  const higher = a.filter((x, i) => x > b[i]!).length
  const lower = a.filter((x, i) => x < b[i]!).length
  const n = higher + lower
  let p = 0
  let choose = 1 // C(n, k), from k = 0 up
  for (let k = 0; k <= n; k++) {
    if (k >= higher) p += choose / 2 ** n
    choose = (choose * (n - k)) / (k + 1)
  }
  return { higher, lower, ties: a.length - n, p }
}
