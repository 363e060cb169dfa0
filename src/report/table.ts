/** A plain-text table for a step's `details` lines: columns padded, numbers right-aligned. */
export function textTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align: ReadonlyArray<'l' | 'r'> = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => ((align[i] ?? 'l') === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
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
