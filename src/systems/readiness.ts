import type { Config, ServiceConfig } from '../config/load.js'
import { describeError } from '../errors.js'
import { probeHttp } from './http.js'
import { closePostgres, connectPostgres } from './postgres.js'
import { closeRedis, connectRedis } from './redis.js'
import { sleep } from '../lib/time.js'

export interface Readiness {
  ready: boolean
  /** What was checked and what it answered. */
  detail: string
}

/**
 * Whether a service is really serving: PostgreSQL answers SELECT 1, Redis answers PING with
 * its password, an HTTP service answers its health URL with 2xx. "The container is running"
 * is not readiness; it is used only for services that declare no better check.
 */
export async function checkReadiness(service: ServiceConfig, config: Config, timeoutMs: number, running: boolean): Promise<Readiness> {
  try {
    switch (service.readiness) {
      case 'http': {
        const probe = await probeHttp(service.url!, timeoutMs, service.credentials)
        return { ready: probe.ok, detail: probe.ok ? `${probe.url} answered ${probe.status} in ${probe.latencyMs} ms` : `${probe.url}: ${probe.error ?? `HTTP ${probe.status}`}` }
      }
      case 'postgres': {
        const client = await connectPostgres(config.postgres, { connectTimeoutMs: timeoutMs, statementTimeoutMs: timeoutMs })
        try {
          await client.query('select 1')
          return { ready: true, detail: `SELECT 1 answered at ${config.postgres.host}:${config.postgres.port}` }
        } finally {
          await closePostgres(client)
        }
      }
      case 'redis': {
        const client = await connectRedis(config.redis, timeoutMs)
        closeRedis(client)
        return { ready: true, detail: `PING answered at ${config.redis.url}` }
      }
      case 'running':
        return { ready: running, detail: running ? 'running (no readiness check configured)' : 'not running' }
    }
  } catch (error) {
    return { ready: false, detail: describeError(error) }
  }
}

/** Polls readiness until it holds or the service's readiness timeout runs out; no fixed sleeps. */
export async function waitUntilReady(service: ServiceConfig, config: Config, pollMs = 200): Promise<Readiness> {
  const deadline = Date.now() + service.readinessTimeoutMs
  let ready = await checkReadiness(service, config, Math.min(2000, service.readinessTimeoutMs), true)
  while (!ready.ready && Date.now() < deadline) {
    await sleep(pollMs)
    ready = await checkReadiness(service, config, Math.min(2000, Math.max(100, deadline - Date.now())), true)
  }
  return ready
}
