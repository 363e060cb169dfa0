import type { Redis } from 'ioredis'
import type { RedisConfig } from '../config/load.js'
import { TimeoutError, describeError, formatSeconds } from '../errors.js'
import { withTimeout } from '../lib/time.js'
import { SystemError, errorCode, isSystemError, networkErrorCode, type SystemErrorCode } from './errors.js'
import { loadIoredis } from './libraries.js'

/** Redis through ioredis: no retries, no offline queue, a bound on every command. */

export async function connectRedis(config: RedisConfig, timeoutMs = config.timeoutMs): Promise<Redis> {
  const { Redis: RedisClient } = loadIoredis()
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
  // ioredis rejects a refused or reset connection with "Connection is closed"; the error event has the cause.
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
    throw redisFailure(error instanceof TimeoutError ? error : (lastError ?? error), config, timeoutMs)
  }
  return client
}

export function closeRedis(client: Redis): void {
  client.disconnect()
}

/** ioredis's own command timeout, the one error of it with neither a code nor a reply word. */
const COMMAND_TIMED_OUT = 'Command timed out'

/**
 * What a Redis error says, by its code: an errno, or the first word of the server's error reply
 * (NOAUTH, WRONGPASS, LOADING); a bound that ran out is 'no-answer'.
 */
export function redisErrorCode(error: unknown): SystemErrorCode {
  if (isSystemError(error)) return error.code
  if (error instanceof TimeoutError) return 'no-answer'
  if (error instanceof Error && error.name === 'ReplyError') {
    const word = error.message.split(' ', 1)[0]
    if (word === 'NOAUTH' || word === 'WRONGPASS') return 'auth'
    if (word === 'LOADING') return 'starting'
    return 'bad-answer'
  }
  if (error instanceof Error && error.message === COMMAND_TIMED_OUT) return 'no-answer'
  return networkErrorCode(errorCode(error)) ?? 'failed'
}

export function redisFailure(error: unknown, config: RedisConfig, timeoutMs = config.timeoutMs): SystemError {
  if (isSystemError(error, 'redis')) return error
  const code = redisErrorCode(error)
  const options = { cause: error, target: config.url }
  if (code === 'refused') return new SystemError('redis', code, `Redis refused the connection at ${config.url}`, options)
  if (code === 'auth') return new SystemError('redis', code, `Redis at ${config.url} rejected the password`, options)
  if (code === 'no-answer') return new SystemError('redis', code, `Redis at ${config.url} did not answer within ${formatSeconds(timeoutMs)}`, options)
  return new SystemError('redis', code, `Redis at ${config.url}: ${describeError(error)}`, options)
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
