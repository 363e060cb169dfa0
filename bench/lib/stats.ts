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
