/**
 * Log lines into Loki through its push API (POST /loki/api/v1/push), labelled as the guide's
 * Promtail config labels them. Nothing but fetch: the generated agents' exporter loads this and
 * must start fast.
 */

export interface LogEntry {
  labels: Readonly<Record<string, string>>
  line: string
  /** When it was written; now when not given. */
  time?: Date
}

/**
 * An agent's log line as Promtail ships it: a JSON line with timestamp, level, message and
 * agent_id (the fields of the guide's `agents` pipeline), labelled job="agents", level, agent_id.
 */
export function agentLogEntry(agentId: string, level: string, message: string, time = new Date()): LogEntry {
  return {
    labels: { job: 'agents', level, agent_id: agentId },
    line: JSON.stringify({ timestamp: time.toISOString(), level, message, agent_id: agentId }),
    time,
  }
}

/** Nanoseconds since the epoch as Loki wants them; entries of one stream and one millisecond get one nanosecond apart, in order. */
function nanoseconds(time: Date, sequence: number): string {
  return (BigInt(time.getTime()) * 1_000_000n + BigInt(sequence)).toString()
}

/** The push API's body: one stream per label set, its entries in the order given. */
export function pushBody(entries: readonly LogEntry[]): string {
  const streams = new Map<string, { stream: Record<string, string>; values: Array<[string, string]> }>()
  entries.forEach((entry, index) => {
    const key = JSON.stringify(Object.entries(entry.labels).sort(([a], [b]) => a.localeCompare(b)))
    let stream = streams.get(key)
    if (!stream) streams.set(key, (stream = { stream: { ...entry.labels }, values: [] }))
    stream.values.push([nanoseconds(entry.time ?? new Date(), index), entry.line])
  })
  return JSON.stringify({ streams: [...streams.values()] })
}

/** Pushes entries to the Loki at `url` (http://host:port); throws with Loki's answer when it refuses them. */
export async function pushToLoki(url: string, entries: readonly LogEntry[], timeoutMs = 5000): Promise<void> {
  if (entries.length === 0) return
  const response = await fetch(`${url.replace(/\/+$/, '')}/loki/api/v1/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: pushBody(entries),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`Loki refused the push: HTTP ${response.status}${text.trim() ? `: ${text.trim().split('\n')[0]}` : ''}`)
}
