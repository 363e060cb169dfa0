import { logEntries, type LogEntry, type LogLine } from './entries.js'

/**
 * The errors among log entries, repeats grouped: 300 copies of one failure are one group with a
 * count of 300, its newest time and its newest copy's lines.
 */

export interface ErrorGroup {
  /** The newest occurrence's first line, as written. */
  first: string
  count: number
  /** When the newest occurrence was written, when known (ms since the epoch). */
  newestAt?: number
  /** The newest occurrence's lines: the first and those that continue it. */
  lines: string[]
}

export interface ErrorSummary {
  /** Error entries, each repeat counted. */
  errors: number
  warnings: number
  /** Groups of repeats, the most recently seen first. */
  groups: ErrorGroup[]
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
/** Hex ids (request ids, container ids, addresses): 8+ hex digits with at least one digit. */
const HEX_ID = /\b(?:0x)?(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi
const NUMBER = /\d+(?:\.\d+)?/g

/** What repeats of one message share: numbers, ids and times left out. */
export function messageKey(text: string): string {
  return text.replace(UUID, '<id>').replace(HEX_ID, '<id>').replace(NUMBER, '#').replace(/\s+/g, ' ').trim()
}

function entryKey(entry: LogEntry): string {
  // Two different exceptions under the same logged line ("Exception in ASGI application") differ.
  return `${messageKey(entry.message)}\n${messageKey(entry.exception ?? '')}`
}

/** Errors and warnings of entries, errors grouped; continuation lines are never counted alone. */
export function summarizeEntries(entries: readonly LogEntry[]): ErrorSummary {
  const groups = new Map<string, ErrorGroup & { last: number }>()
  let errors = 0
  let warnings = 0
  entries.forEach((entry, index) => {
    if (entry.orphan) return
    if (entry.level === 'warning') warnings++
    if (entry.level !== 'error') return
    errors++
    const key = entryKey(entry)
    const group = groups.get(key)
    const newer = !group || entry.at === undefined || group.newestAt === undefined || entry.at >= group.newestAt
    groups.set(key, {
      first: newer ? entry.lines[0]! : group.first,
      lines: newer ? entry.lines : group.lines,
      count: (group?.count ?? 0) + 1,
      newestAt: newer ? (entry.at ?? group?.newestAt) : group.newestAt,
      last: index,
    })
  })
  const sorted = [...groups.values()].sort((a, b) => b.last - a.last).map(({ last: _last, ...group }) => group)
  return { errors, warnings, groups: sorted }
}

/** The errors of a source's lines, by the log's own structure. */
export function summarizeLines(lines: readonly LogLine[]): ErrorSummary {
  return summarizeEntries(logEntries(lines))
}
