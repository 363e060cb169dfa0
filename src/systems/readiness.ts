import type { Config, ServiceConfig } from '../config/load.js'
import { describeError } from '../errors.js'
import { probeHttp } from './http.js'
import { closePostgres, connectPostgres } from './postgres.js'
import { closeRedis, connectRedis } from './redis.js'
import { sleep } from '../lib/time.js'
import type { ServiceRuntimes } from './services.js'

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
        const probe = await probeHttp(service.url!, timeoutMs)
        return { ready: probe.ok, detail: probe.ok ? `${service.url} answered ${probe.status} in ${probe.latencyMs} ms` : `${service.url}: ${probe.error ?? `HTTP ${probe.status}`}` }
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

/** How often readiness is asked while waiting: no fixed sleeps, just a short poll. */
const POLL_MS = 200
/** Each check's own bound while waiting: a hung service costs this per poll, not the whole wait. */
const CHECK_TIMEOUT_MS = 2000
/** How long after a start an exited container or unit still counts as just starting. */
const EXITED_GRACE_MS = 1000

/**
 * Polls until the service is ready or its readiness timeout runs out: readiness as checkReadiness has it, the runtime's own state for a service that
 * declares no better check. A container or unit that has exited is not waited for to the end.
 */
export async function waitUntilReady(service: ServiceConfig, config: Config, runtimes: ServiceRuntimes, options: { signal?: AbortSignal } = {}): Promise<Readiness> {
  const deadline = Date.now() + service.readinessTimeoutMs
  let last: Readiness = { ready: false, detail: 'not checked' }
  const started = Date.now()
  while (!options.signal?.aborted) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) break
    const status = await runtimes.status(service).catch(() => undefined)
    last = await checkReadiness(service, config, Math.min(CHECK_TIMEOUT_MS, remaining), status?.running ?? false)
    if (last.ready) return last
    // (A process service may not have written its pid file yet, so it gets the whole wait.)
    if (status?.found && !status.running && service.runtime !== 'process' && /exited|dead|failed|inactive/.test(status.state) && Date.now() - started > EXITED_GRACE_MS) {
      return { ready: false, detail: `${last.detail}; it ${status.state}` }
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())))
  }
  return last
}
