import type { Redis } from 'ioredis'
import type { RedisConfig } from '../config/load.js'
import { NoAnswerFailure, StepFailure, TimeoutError, describeError, formatSeconds } from '../errors.js'
import { withTimeout } from '../lib/time.js'

/** Redis through ioredis: no retries, no offline queue, a bound on every command. */

export async function connectRedis(config: RedisConfig, timeoutMs = config.timeoutMs): Promise<Redis> {
  const { Redis: RedisClient } = await import('ioredis')
  const client = new RedisClient(config.url, {
    // The URL holds no credentials (see RedisConfig): a URL's user would outrank these.
    username: config.username,
    password: config.password?.reveal(),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: true,
    connectionName: 'probe-ops',
  })
  // ioredis reports a refused or reset connection as "Connection is closed"; the event has the cause.
  let lastError: unknown
  client.on('error', (error) => {
    lastError = error
  })
  try {
    // One deadline for connecting and the first answer: a server that accepts and never
    // answers costs the timeout once, not once per phase.
    await withTimeout(
      `Redis at ${config.url}`,
      timeoutMs,
      (async () => {
        await client.connect()
        await client.ping()
      })(),
      () => client.disconnect(),
    )
  } catch (error) {
    client.disconnect()
    const closed = error instanceof Error && /Connection is closed/.test(error.message)
    throw redisFailure(closed && lastError ? lastError : error, config, timeoutMs)
  }
  return client
}

export function closeRedis(client: Redis): void {
  client.disconnect()
}

export function redisFailure(error: unknown, config: RedisConfig, timeoutMs = config.timeoutMs): StepFailure {
  if (error instanceof StepFailure) return error
  const message = describeError(error)
  const code = (error as { code?: string }).code
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message))
    return new StepFailure(`Redis refused the connection at ${config.url}`, 'Redis is down: run `probe-ops recover redis`')
  if (/NOAUTH|WRONGPASS|invalid password|Authentication required/i.test(message)) {
    return new StepFailure(`Redis at ${config.url} rejected the password`, 'set the password in REDIS_URL or redis.passwordFile')
  }
  if (error instanceof TimeoutError || /timed? ?out/i.test(message)) {
    return new NoAnswerFailure(
      `Redis at ${config.url} did not answer within ${formatSeconds(timeoutMs)}`,
      'it accepts connections but does not answer: check for a hung or overloaded server, then `probe-ops recover redis`',
    )
  }
  return new StepFailure(`Redis at ${config.url}: ${message}`, 'check that Redis is running and redis.url is right')
}

/** INFO parsed into section-less key/value pairs. */
export async function redisInfo(client: Redis): Promise<Record<string, string>> {
  const text = await client.info()
  const info: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue
    const at = line.indexOf(':')
    if (at > 0) info[line.slice(0, at)] = line.slice(at + 1)
  }
  return info
}
