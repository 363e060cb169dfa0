import type { BasicCredentials } from '../config/secret.js'
import { describeError } from '../errors.js'
import { redactUrl } from '../lib/redact.js'

export interface HttpProbe {
  /** As shown: secrets in it redacted. */
  url: string
  ok: boolean
  status?: number
  latencyMs: number
  error?: string
  /** No answer within the bound (as opposed to a refusal or an error status). */
  timedOut?: boolean
}

/**
 * The request headers, basic auth included. Credentials never ride in the URL: undici would
 * refuse such a URL (with an error that echoes it, password and all), and a URL is what ends up
 * in reports and logs.
 */
export function requestHeaders(base: Record<string, string>, credentials?: BasicCredentials): Record<string, string> {
  if (!credentials) return base
  const token = Buffer.from(`${credentials.user}:${credentials.password.reveal()}`).toString('base64')
  return { ...base, authorization: `Basic ${token}` }
}

/** One GET with a hard deadline on the whole exchange, headers and body. */
export async function probeHttp(url: string, timeoutMs: number, credentials?: BasicCredentials): Promise<HttpProbe> {
  const { request } = await import('undici')
  const started = performance.now()
  const shown = redactUrl(url)
  try {
    const response = await request(url, {
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: requestHeaders({ 'user-agent': 'probe-ops' }, credentials),
    })
    await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined)
    const latencyMs = Math.round(performance.now() - started)
    return { url: shown, ok: response.statusCode >= 200 && response.statusCode < 300, status: response.statusCode, latencyMs }
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started)
    const name = (error as { name?: string }).name
    const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code
    let message = describeError(error)
    const timedOut = name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
    if (timedOut) message = `no answer within ${timeoutMs} ms`
    else if (code === 'ECONNREFUSED') message = 'connection refused'
    else if (code === 'ENOTFOUND') message = 'host name does not resolve'
    return { url: shown, ok: false, latencyMs, error: message, ...(timedOut ? { timedOut } : {}) }
  }
}

export interface JsonRequest {
  method?: 'GET' | 'POST' | 'DELETE'
  body?: unknown
  credentials?: BasicCredentials
}

export async function fetchJson<T>(url: string, timeoutMs: number, init: JsonRequest = {}): Promise<T> {
  const { request } = await import('undici')
  const response = await request(url, {
    method: init.method ?? 'GET',
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
    headers: requestHeaders({ 'content-type': 'application/json', 'user-agent': 'probe-ops' }, init.credentials),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.body.text()
  if (response.statusCode < 200 || response.statusCode >= 300) {
    const unauthorized = response.statusCode === 401 ? (init.credentials ? ' (the user or password was refused)' : ' (it wants a user and password)') : ''
    throw new Error(`${init.method ?? 'GET'} ${redactUrl(url)} answered ${response.statusCode}${unauthorized}: ${text.slice(0, 200).trim()}`)
  }
  return (text ? JSON.parse(text) : undefined) as T
}
