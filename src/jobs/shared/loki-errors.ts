import type { Config } from '../../config/load.js'
import { summarizeLines, type ErrorSummary } from '../../logs/errors.js'
import { queryLogs, type LokiLine } from '../../systems/loki.js'

/**
 * Recent errors of every host through Loki, read as the local logs are read: the lines of each
 * stream group go through the same structured classification (a JSON line's level field, a
 * PostgreSQL severity...). Two LogQL queries, both bounded in range and lines: the streams
 * Promtail labelled with a level, by that label; the others, by a word filter that the
 * classification then judges line by line.
 */

const LEVELS = '(?i)(error|err|eror|critical|crit|fatal|panic|alert|emerg|warn|warning)'
const WORDS = '(?i)(error|fatal|critical|panic|exception|traceback|warn)'

export interface LokiErrors {
  /** Lines Loki returned in all. */
  lines: number
  /** A query hit loki.lineLimit: older lines were left out. */
  limited: boolean
  /** By the group key (a job, an agent), oldest line first. */
  groups: Map<string, ErrorSummary>
}

export interface LokiErrorQuery {
  /** LogQL label matchers every stream must match: ['job="agents"', 'agent_id="agent-007"']. */
  matchers: readonly string[]
  sinceMs: number
  timeoutMs: number
  /** The group a stream's lines go to. */
  groupOf: (labels: Record<string, string>) => string
}

export function errorQueries(matchers: readonly string[]): [string, string] {
  const base = matchers.join(', ')
  return [`{${base}, level=~${JSON.stringify(LEVELS)}}`, `{${base}, level=""} |~ ${JSON.stringify(WORDS)}`]
}

export async function readLokiErrors(loki: Readonly<Config['loki']>, query: LokiErrorQuery): Promise<LokiErrors> {
  const bounded = { ...loki, timeoutMs: Math.min(loki.timeoutMs, query.timeoutMs) }
  const now = Date.now()
  const answers = await Promise.all(
    errorQueries(query.matchers).map((logql) => queryLogs(bounded, { logql, sinceMs: query.sinceMs, limit: loki.lineLimit, now })),
  )
  const byGroup = new Map<string, LokiLine[]>()
  for (const line of answers.flat()) {
    const key = query.groupOf(line.labels)
    const lines = byGroup.get(key) ?? []
    byGroup.set(key, lines)
    lines.push(line)
  }
  const groups = new Map(
    [...byGroup].map(([key, lines]) => [key, summarizeLines(lines.sort((a, b) => a.at - b.at).map((line) => ({ text: line.text, at: line.at })))]),
  )
  return { lines: answers.reduce((sum, a) => sum + a.length, 0), limited: answers.some((a) => a.length >= loki.lineLimit), groups }
}

/** A LogQL matcher of one label: agent_id="agent-007", quotes and backslashes escaped. */
export function matcher(label: string, value: string): string {
  return `${label}=${JSON.stringify(value)}`
}
