import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { errors } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SystemError, isSystemError } from '../../src/systems/errors.js'
import { fetchJson, httpErrorCode, httpStatusCode, probeHttp } from '../../src/systems/http.js'

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

describe('httpErrorCode', () => {
  it('reads a bound that ran out from the error name or undici code, never the message', () => {
    expect(httpErrorCode(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe('no-answer')
    expect(httpErrorCode(new errors.RequestAbortedError())).toBe('no-answer')
    expect(httpErrorCode(new errors.HeadersTimeoutError())).toBe('no-answer')
    expect(httpErrorCode(new errors.BodyTimeoutError())).toBe('no-answer')
    expect(httpErrorCode(new errors.ConnectTimeoutError())).toBe('no-answer')
    expect(httpErrorCode(new Error('request timeout, connection aborted'))).toBe('failed')
  })

  it('reads the errno, also down the chain of causes and in an AggregateError', () => {
    expect(httpErrorCode(withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'))).toBe('refused')
    expect(httpErrorCode(new TypeError('fetch failed', { cause: withCode('x', 'ENOTFOUND') }))).toBe('dns')
    expect(httpErrorCode(withCode('x', 'EAI_AGAIN'))).toBe('dns')
    expect(httpErrorCode(new AggregateError([withCode('x', 'EHOSTUNREACH')], 'all failed'))).toBe('unreachable')
    expect(httpErrorCode(withCode('socket hang up', 'ECONNRESET'))).toBe('unreachable')
    expect(httpErrorCode(withCode('x', 'EACCES'))).toBe('permission')
    expect(httpErrorCode(withCode('unknown', 'ESOMETHING'))).toBe('failed')
    expect(httpErrorCode('a string')).toBe('failed')
  })

  it('keeps the code of an error already typed', () => {
    expect(httpErrorCode(new SystemError('http', 'auth', 'GET x answered 401'))).toBe('auth')
  })

  it('tells refused credentials from any other status', () => {
    expect(httpStatusCode(401)).toBe('auth')
    expect(httpStatusCode(403)).toBe('auth')
    expect(httpStatusCode(400)).toBe('bad-answer')
    expect(httpStatusCode(500)).toBe('bad-answer')
  })
})

describe('fetchJson and probeHttp against a server', () => {
  let server: Server
  let base: string
  let closedPort: number

  beforeAll(async () => {
    server = createServer((request, response) => {
      const status = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('status') ?? 200)
      if (request.url?.startsWith('/hang')) return
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(request.url?.startsWith('/text') ? 'not json at all' : JSON.stringify({ status }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const spare = createServer()
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve))
    closedPort = (spare.address() as AddressInfo).port
    await new Promise((resolve) => spare.close(resolve))
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  async function failureOf(work: Promise<unknown>): Promise<SystemError> {
    const error = await work.then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    if (!isSystemError(error, 'http')) throw new Error(`expected a SystemError('http'), got ${String(error)}`)
    return error
  }

  it('answers the JSON of a 2xx', async () => {
    await expect(fetchJson(`${base}/ok`, 2000)).resolves.toEqual({ status: 200 })
  })

  it('types a status outside 2xx, with the status and the start of the body in its data', async () => {
    const failure = await failureOf(fetchJson(`${base}/x?status=500`, 2000))
    expect(failure).toMatchObject({ code: 'bad-answer', data: { status: 500, body: '{"status":500}' } })
    expect(failure.message).toBe(`GET ${base}/x?status=500 answered 500: {"status":500}`)
    expect(await failureOf(fetchJson(`${base}/x?status=401`, 2000))).toMatchObject({
      code: 'auth',
      message: expect.stringMatching(/wants a user and password/),
    })
  })

  it('types an answer that is not JSON, a refused connection and a server that never answers', async () => {
    expect(await failureOf(fetchJson(`${base}/text`, 2000))).toMatchObject({ code: 'bad-answer', data: { status: 200, notJson: true } })
    expect(await failureOf(fetchJson(`http://127.0.0.1:${closedPort}/`, 2000))).toMatchObject({ code: 'refused' })
    expect(await failureOf(fetchJson(`${base}/hang`, 300))).toMatchObject({ code: 'no-answer' })
  })

  it('says in a probe what the code says', async () => {
    expect(await probeHttp(`http://127.0.0.1:${closedPort}/`, 2000)).toMatchObject({ ok: false, error: 'connection refused' })
    expect(await probeHttp(`${base}/hang`, 300)).toMatchObject({ ok: false, error: 'no answer within 300 ms', timedOut: true })
    expect(await probeHttp(`${base}/x?status=503`, 2000)).toMatchObject({ ok: false, status: 503 })
  })
})
