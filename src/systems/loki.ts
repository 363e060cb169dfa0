import type { BasicCredentials } from '../config/secret.js'
import { describeError, formatSeconds } from '../errors.js'
import { redactUrl } from '../lib/redact.js'
import { SystemError } from './errors.js'
import { httpErrorCode, httpStatusCode, requestHeaders } from './http.js'
import { loadUndici } from './libraries.js'

/**
 * Grafana Loki's HTTP API: its readiness and LogQL range queries, through undici with a bound on
 * every request. A query's range and line count are capped here, once, so that no caller can ask
 * Loki for a month of every line.
 */

export interface LokiConfig {
  /** Without a trailing slash or credentials; empty when Loki is not configured. */
  url: string
  credentials?: BasicCredentials
  timeoutMs: number
}

/** Loki's own default max_entries_limit_per_query: it refuses more. */
export const MAX_LINES = 5000
/** Loki's default max_query_length is 721h: a query over more is refused, so none is asked. */
export const MAX_RANGE_MS = 30 * 24 * 3_600_000

export interface LokiLine {
  /** The stream's labels: job, level, agent_id as Promtail sets them. */
  labels: Record<string, string>
  text: string
  /** Milliseconds since the epoch, as Loki recorded it. */
  at: number
}

export interface LogQuery {
  /** A LogQL log query: {job="agents", level="ERROR"} |= "timeout" */
  logql: string
  /** How far back from now (capped at MAX_RANGE_MS). */
  sinceMs: number
  /** The most lines (capped at MAX_LINES); the newest come back. */
  limit: number
  now?: number
}

interface Answer {
  status: number
  text: string
}

/** One GET, bounded as a whole (headers and body); a failure to get any answer is a SystemError. */
async function get(config: LokiConfig, path: string): Promise<Answer> {
  const { request } = loadUndici()
  const url = `${config.url}${path}`
  try {
    const response = await request(url, {
      method: 'GET',
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      signal: AbortSignal.timeout(config.timeoutMs),
      headers: requestHeaders({ 'user-agent': 'probe-ops' }, config.credentials),
    })
    return { status: response.statusCode, text: await response.body.text() }
  } catch (error) {
    throw lokiError(error, config)
  }
}

/** What went wrong talking to Loki, in Loki's terms; the step adds what to do (src/jobs/hints.ts). */
export function lokiError(error: unknown, config: LokiConfig): SystemError {
  if (error instanceof SystemError && error.system === 'loki') return error
  const where = redactUrl(config.url)
  const code = httpErrorCode(error)
  const options = { cause: error, target: where }
  if (code === 'refused') return new SystemError('loki', code, `Loki refused the connection at ${where}`, options)
  if (code === 'dns') return new SystemError('loki', code, `Loki's host in ${where} does not resolve`, options)
  if (code === 'no-answer') return new SystemError('loki', code, `Loki at ${where} did not answer within ${formatSeconds(config.timeoutMs)}`, options)
  return new SystemError('loki', code, `Loki at ${where}: ${describeError(error)}`, options)
}

function refusedAnswer(config: LokiConfig, path: string, answer: Answer): SystemError {
  const where = redactUrl(config.url)
  const said = answer.text.trim().split('\n')[0]?.slice(0, 200) ?? ''
  const code = httpStatusCode(answer.status)
  const message =
    code === 'auth'
      ? `Loki at ${where} refused the ${config.credentials ? 'user or password' : 'request without a user'} (HTTP ${answer.status})`
      : `Loki at ${where} answered ${path.split('?')[0]} with HTTP ${answer.status}${said ? `: ${said}` : ''}`
  return new SystemError('loki', code, message, { target: where, data: { status: answer.status } })
}

/** GET /ready: Loki says "ready" once its ring and ingester are, and what it waits for until then. */
export async function lokiReadiness(config: LokiConfig): Promise<{ ready: boolean; detail: string }> {
  const answer = await get(config, '/ready')
  const detail = answer.text.trim().split('\n')[0] ?? ''
  if (answer.status === 200) return { ready: true, detail: detail || 'ready' }
  if (answer.status === 503) return { ready: false, detail: detail || 'not ready' }
  throw refusedAnswer(config, '/ready', answer)
}

/** Nanoseconds since the epoch, as Loki takes them. */
function nanoseconds(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n).toString()
}

/** Log lines of a LogQL query over the last `sinceMs`, newest first, at most `limit` of them. */
export async function queryLogs(config: LokiConfig, query: LogQuery): Promise<LokiLine[]> {
  const now = query.now ?? Date.now()
  const params = new URLSearchParams({
    query: query.logql,
    start: nanoseconds(now - Math.min(Math.max(query.sinceMs, 1000), MAX_RANGE_MS)),
    end: nanoseconds(now),
    limit: String(Math.min(Math.max(1, Math.floor(query.limit)), MAX_LINES)),
    direction: 'backward',
  })
  const path = `/loki/api/v1/query_range?${params.toString()}`
  const answer = await get(config, path)
  if (answer.status !== 200) throw refusedAnswer(config, path, answer)
  let body: { status?: string; data?: { resultType?: string; result?: { stream?: Record<string, string>; values?: [string, string][] }[] } }
  try {
    body = JSON.parse(answer.text) as typeof body
  } catch (error) {
    throw new SystemError('loki', 'bad-answer', `${redactUrl(config.url)} did not answer with Loki's JSON`, { cause: error, target: redactUrl(config.url) })
  }
  if (body.status !== 'success' || body.data?.resultType !== 'streams')
    throw new SystemError('loki', 'bad-answer', `Loki answered the query ${query.logql} with ${body.data?.resultType ?? body.status ?? 'nothing'}`, {
      target: redactUrl(config.url),
    })
  const lines = (body.data.result ?? []).flatMap((stream) =>
    (stream.values ?? []).map(([time, text]) => ({ labels: stream.stream ?? {}, text, at: Number(BigInt(time) / 1_000_000n) })),
  )
  return lines.sort((a, b) => b.at - a.at)
}

/** A LogQL label matcher's value, quoted: "agent-001", with backslashes and quotes escaped. */
export function logqlString(value: string): string {
  return JSON.stringify(value)
}
