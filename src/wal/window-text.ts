import type { Gap, Recoverable, Window } from './timeline.js'

/** The recoverable windows and WAL gaps (./timeline.ts) as the reports say them. Pure. */

/** A time for people, to the minute: 2026-11-18T01:00Z. */
function minute(time: string): string {
  return `${new Date(time).toISOString().slice(0, 16)}Z`
}

export function describeGap(gap: Gap): string {
  return gap.count === 1 ? `${gap.first} (1 segment)` : `${gap.first} .. ${gap.last} (${gap.count} segments)`
}

/** One line per repository: "offsite: recoverable 2026-11-18T01:00Z .. 2026-11-20T14:02Z, …; gap: A .. B (3 segments)". */
export function describeWindows(repository: string, recoverable: Pick<Recoverable, 'windows' | 'gaps'>): string {
  if (recoverable.windows.length === 0) return `${repository}: no base backup with its WAL recorded: no recoverable window`
  const spans = mergedSpans(recoverable.windows)
    .map((span) => `${minute(span.from)} .. ${minute(span.to)}`)
    .join(', ')
  const gaps = recoverable.gaps.length ? `; ${recoverable.gaps.length === 1 ? 'gap' : 'gaps'}: ${recoverable.gaps.map(describeGap).join(', ')}` : ''
  return `${repository}: recoverable ${spans}${gaps}`
}

/** The windows of several bases as the stretches of time a recovery can reach: overlapping ones joined. */
export function mergedSpans(windows: readonly Pick<Window, 'from' | 'to'>[]): { from: string; to: string }[] {
  const sorted = [...windows].sort((a, b) => Date.parse(a.from) - Date.parse(b.from))
  const spans: { from: string; to: string }[] = []
  for (const window of sorted) {
    const last = spans.at(-1)
    if (last && Date.parse(window.from) <= Date.parse(last.to)) {
      if (Date.parse(window.to) > Date.parse(last.to)) last.to = window.to
    } else spans.push({ from: window.from, to: window.to })
  }
  return spans
}
