/** How figures are written for people, the same in every job: sizes, counts, shares. */

/** To one decimal: the precision reports give percentages, days and hours in. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10
}

/** Bytes in binary units, whole bytes below 1 KiB: "213 B", "1.5 GiB". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = Math.abs(bytes)
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${bytes < 0 ? '-' : ''}${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** A round size as limits are said: "1 MiB", "64 KiB" (formatSize without a trailing ".0"). */
export function formatLimit(bytes: number): string {
  return formatSize(bytes).replace('.0 ', ' ')
}

/** 1,234,567 */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** 12.3% from a 0..1 ratio. */
export function formatPercent(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)}%`
}

/** +1.2 GiB, -300.0 MiB: a change in bytes with its sign. */
export function formatDelta(bytes: number, format: (n: number) => string = formatSize): string {
  return `${bytes < 0 ? '-' : '+'}${format(Math.abs(bytes))}`
}

/** "1 backup", "2 backups", "1,204 errors": a count and its noun, agreeing; `many` for words that do not just take an s. */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? word : many}`
}

/**
 * A span of time as an operator says it, in its two largest units: "12.3 s", "4 min 5 s",
 * "6 h 10 min", "3 d 2 h" (a data-loss window, a restore time).
 */
export function formatSpan(seconds: number): string {
  if (seconds < 60) return `${round1(Math.max(0, seconds))} s`
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ]
  const first = units.findIndex(([, size]) => seconds >= size)
  const [bigName, bigSize] = units[first]!
  const [smallName, smallSize] = units[first + 1]!
  const big = Math.floor(seconds / bigSize)
  const small = Math.floor((seconds - big * bigSize) / smallSize)
  return small ? `${big} ${bigName} ${small} ${smallName}` : `${big} ${bigName}`
}
