import type { BasicCredentials } from '../config/secret.js'
import { describeError } from '../errors.js'
import { redactUrl } from '../lib/redact.js'
import { SystemError, errorCode, isSystemError, networkErrorCode, type SystemErrorCode } from './errors.js'
import { loadUndici } from './libraries.js'

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
  const { request } = loadUndici()
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
    const code = httpErrorCode(error)
    const timedOut = code === 'no-answer'
    const message = timedOut
      ? `no answer within ${timeoutMs} ms`
      : code === 'refused'
        ? 'connection refused'
        : code === 'dns'
          ? 'host name does not resolve'
          : describeError(error)
    return { url: shown, ok: false, latencyMs, error: message, ...(timedOut ? { timedOut } : {}) }
  }
}

/** Names and codes of a bound that ran out: AbortSignal.timeout's, and undici's own. */
const TIMED_OUT_NAMES = new Set(['TimeoutError', 'AbortError'])
const TIMED_OUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT'])

/** What went wrong with an HTTP exchange, from the error's name and code, never its message. */
export function httpErrorCode(error: unknown): SystemErrorCode {
  if (isSystemError(error)) return error.code
  const name = (error as { name?: unknown } | undefined)?.name
  const code = errorCode(error)
  if ((typeof name === 'string' && TIMED_OUT_NAMES.has(name)) || (code !== undefined && TIMED_OUT_CODES.has(code))) return 'no-answer'
  return networkErrorCode(code) ?? 'failed'
}

/** An HTTP status outside 2xx: credentials refused or wanted, or any other answer that is not the one asked for. */
export function httpStatusCode(status: number): SystemErrorCode {
  return status === 401 || status === 403 ? 'auth' : 'bad-answer'
}

export interface JsonRequest {
  method?: 'GET' | 'POST' | 'DELETE'
  body?: unknown
  credentials?: BasicCredentials
}

/**
 * One JSON exchange with a hard deadline. Whatever goes wrong is a SystemError('http'): its code
 * says what (no answer, refused, a status outside 2xx, not JSON), its data holds the status.
 */
export async function fetchJson<T>(url: string, timeoutMs: number, init: JsonRequest = {}): Promise<T> {
  const { request } = loadUndici()
  const method = init.method ?? 'GET'
  const shown = redactUrl(url)
  let status: number
  let text: string
  try {
    const response = await request(url, {
      method,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: requestHeaders({ 'content-type': 'application/json', 'user-agent': 'probe-ops' }, init.credentials),
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
    status = response.statusCode
    text = await response.body.text()
  } catch (error) {
    throw new SystemError('http', httpErrorCode(error), describeError(error), { cause: error, target: shown })
  }
  if (status < 200 || status >= 300) {
    const unauthorized = status === 401 ? (init.credentials ? ' (the user or password was refused)' : ' (it wants a user and password)') : ''
    throw new SystemError('http', httpStatusCode(status), `${method} ${shown} answered ${status}${unauthorized}: ${text.slice(0, 200).trim()}`, {
      target: shown,
      data: { status, body: text.slice(0, 200).trim() },
    })
  }
  try {
    return (text ? JSON.parse(text) : undefined) as T
  } catch (error) {
    throw new SystemError('http', 'bad-answer', describeError(error), { cause: error, target: shown, data: { status, notJson: true } })
  }
}
