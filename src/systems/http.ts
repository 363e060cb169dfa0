import { describeError } from '../errors.js'

export interface HttpProbe {
  url: string
  ok: boolean
  status?: number
  latencyMs: number
  error?: string
  /** No answer within the bound (as opposed to a refusal or an error status). */
  timedOut?: boolean
}

/** One GET with a hard deadline on the whole exchange, headers and body. */
export async function probeHttp(url: string, timeoutMs: number): Promise<HttpProbe> {
  const { request } = await import('undici')
  const started = performance.now()
  try {
    const response = await request(url, {
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'probe-ops' },
    })
    await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined)
    const latencyMs = Math.round(performance.now() - started)
    return { url, ok: response.statusCode >= 200 && response.statusCode < 300, status: response.statusCode, latencyMs }
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started)
    const name = (error as { name?: string }).name
    const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code
    let message = describeError(error)
    const timedOut = name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
    if (timedOut) message = `no answer within ${timeoutMs} ms`
    else if (code === 'ECONNREFUSED') message = 'connection refused'
    else if (code === 'ENOTFOUND') message = 'host name does not resolve'
    return { url, ok: false, latencyMs, error: message, ...(timedOut ? { timedOut } : {}) }
  }
}

export async function fetchJson<T>(url: string, timeoutMs: number, init: { method?: 'GET' | 'POST' | 'DELETE'; body?: unknown } = {}): Promise<T> {
  const { request } = await import('undici')
  const response = await request(url, {
    method: init.method ?? 'GET',
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
    headers: { 'content-type': 'application/json', 'user-agent': 'probe-ops' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.body.text()
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${response.statusCode}: ${text.slice(0, 200).trim()}`)
  }
  return (text ? JSON.parse(text) : undefined) as T
}
