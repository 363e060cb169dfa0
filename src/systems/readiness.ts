import type { Config, ServiceConfig } from '../config/load.js'
import { NoAnswerFailure, describeError, formatSeconds } from '../errors.js'
import { isSystemError } from './errors.js'
import { probeHttp } from './http.js'
import { loadIoredis, loadUndici } from './libraries.js'
import { closePostgres, connectPostgres, postgresFailure } from './postgres.js'
import { closeRedis, connectRedis } from './redis.js'
import { sleep } from '../lib/time.js'
import type { ServiceRuntimes, ServiceStatus } from './services.js'

export interface Readiness {
  ready: boolean
  /** What was checked and what it answered. */
  detail: string
  /** It was reachable but gave no answer within the bound: hung, overloaded or stopped by a signal. */
  unanswered?: boolean
}

/**
 * Whether a service is really serving: PostgreSQL answers SELECT 1, Redis answers PING with
 * its password, an HTTP service answers its health URL with 2xx. "The container is running"
 * is not readiness; it is used only for services that declare no better check (and a process
 * stopped by a signal is not running in that sense). `status` is the runtime's view, if known.
 */
export async function checkReadiness(
  service: ServiceConfig,
  config: Config,
  timeoutMs: number,
  status: Pick<ServiceStatus, 'running' | 'stoppedBySignal'> | undefined,
): Promise<Readiness> {
  try {
    switch (service.readiness) {
      case 'http': {
        const probe = await probeHttp(service.url!, timeoutMs, service.credentials)
        return {
          ready: probe.ok,
          detail: probe.ok ? `${probe.url} answered ${probe.status} in ${probe.latencyMs} ms` : `${probe.url}: ${probe.error ?? `HTTP ${probe.status}`}`,
          ...(probe.timedOut ? { unanswered: true } : {}),
        }
      }
      case 'postgres': {
        const client = await connectPostgres(config.postgres, { connectTimeoutMs: timeoutMs, statementTimeoutMs: timeoutMs })
        try {
          await client.query('select 1').catch((error: unknown) => {
            throw postgresFailure(error, { ...config.postgres, connectTimeoutMs: timeoutMs })
          })
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
      case 'running': {
        const running = (status?.running ?? false) && !status?.stoppedBySignal
        return { ready: running, detail: running ? 'running (no readiness check configured)' : status?.stoppedBySignal ? 'stopped by a signal' : 'not running' }
      }
    }
  } catch (error) {
    // (PostgreSQL's errors are StepFailures until they are typed too: its no-answer is a NoAnswerFailure.)
    const unanswered = isSystemError(error, undefined, 'no-answer') || error instanceof NoAnswerFailure
    return { ready: false, detail: describeError(error), ...(unanswered ? { unanswered } : {}) }
  }
}

/**
 * Why a service its runtime shows running does not serve, in an operator's words, or undefined
 * when it does: "running" alone is never said of a process that answers nothing.
 */
export function notServing(status: ServiceStatus, readiness: Readiness, timeoutMs: number): string | undefined {
  if (status.stoppedBySignal) return `${status.state}: it holds its port and answers nothing`
  if (readiness.ready) return undefined
  if (readiness.unanswered) return `running but not answering within ${formatSeconds(timeoutMs)} (stopped, hung?)`
  return `running but not ready (${readiness.detail})`
}

/**
 * Loads the clients the services' readiness checks use (and only those), so that a cold load is
 * not counted against a check's bound. They are the instances the postgres, redis and http steps
 * use too: each library loads once per run, whichever step asks first.
 */
export async function loadReadinessClients(services: ServiceConfig[]): Promise<void> {
  const kinds = new Set(services.map((s) => s.readiness))
  if (kinds.has('redis')) loadIoredis()
  if (kinds.has('http')) loadUndici()
  // pg has an ES module entry of its own: import() costs no more than require() (systems/postgres.ts loads it so too).
  if (kinds.has('postgres')) await import('pg')
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
export async function waitUntilReady(
  service: ServiceConfig,
  config: Config,
  runtimes: ServiceRuntimes,
  options: { signal?: AbortSignal } = {},
): Promise<Readiness> {
  const deadline = Date.now() + service.readinessTimeoutMs
  let last: Readiness = { ready: false, detail: 'not checked' }
  const started = Date.now()
  while (!options.signal?.aborted) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) break
    const status = await runtimes.status(service).catch(() => undefined)
    last = await checkReadiness(service, config, Math.min(CHECK_TIMEOUT_MS, remaining), status)
    if (last.ready) return last
    // (A process service may not have written its pid file yet, so it gets the whole wait.)
    if (
      status?.found &&
      !status.running &&
      service.runtime !== 'process' &&
      /exited|dead|failed|inactive/.test(status.state) &&
      Date.now() - started > EXITED_GRACE_MS
    ) {
      return { ready: false, detail: `${last.detail}; it ${status.state}` }
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())))
  }
  return last
}
