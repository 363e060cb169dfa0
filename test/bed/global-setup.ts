/**
 * vitest globalSetup of the `integration` project: real PostgreSQL, Redis (with a password),
 * AlertManager and a private Docker engine, started once per run on 127.0.0.1 at free ports,
 * torn down afterwards. Tests read the connection info with `bed()` from ./index.js.
 */
import type { TestProject } from 'vitest/node'
import { startAlertmanager, type AlertmanagerInfo } from './alertmanager.js'
import { startDockerEngine, type DockerEngineInfo } from './docker.js'
import { startPostgres, randomPassword, type PostgresInfo } from './postgres.js'
import { startRedis, type RedisInfo } from './redis.js'

export interface BedInfo {
  postgres: PostgresInfo
  redis: RedisInfo & { password: string }
  alertmanager: AlertmanagerInfo
  docker: DockerEngineInfo
  /** Milliseconds each service took to start, and the whole bed (`total`). */
  startupMs: Record<'postgres' | 'redis' | 'alertmanager' | 'docker' | 'total', number>
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** One bed per worker that may run at once (vitest's VITEST_POOL_ID picks it): see bed(). */
    beds: BedInfo[]
  }
}

interface Started<T> {
  info: T
  stop(): Promise<void>
}

function log(message: string): void {
  if (process.env.BED_QUIET !== '1') process.stderr.write(`[test bed] ${message}\n`)
}

async function timed<T>(name: string, start: () => Promise<Started<T>>): Promise<Started<T> & { ms: number }> {
  const t0 = performance.now()
  try {
    const s = await start()
    return { ...s, ms: Math.round(performance.now() - t0) }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    throw new Error(`${name} could not start: ${message}`)
  }
}

async function startBed(): Promise<{ info: BedInfo; teardown: () => Promise<void> }> {
  const t0 = performance.now()
  const redisPassword = randomPassword()
  const results = await Promise.allSettled([
    timed('postgres', () => startPostgres()),
    timed('redis', () => startRedis({ password: redisPassword })),
    timed('alertmanager', () => startAlertmanager()),
    timed('docker engine', () => startDockerEngine()),
  ] as const)
  const [pgR, redisR, amR, dockerR] = results
  const stops: Array<{ name: string; stop: () => Promise<void> }> = []
  const names = ['postgres', 'redis', 'alertmanager', 'docker'] as const
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') stops.push({ name: names[i] ?? `service ${i}`, stop: r.value.stop })
  })

  const teardown = async (): Promise<void> => {
    const t = performance.now()
    const took: string[] = []
    const outcomes = await Promise.allSettled(
      stops.map(async (s) => {
        const ts = performance.now()
        try {
          await s.stop()
        } finally {
          took.push(`${s.name} ${Math.round(performance.now() - ts)}`)
        }
      }),
    )
    const failures = outcomes
      .map((o, i) => (o.status === 'rejected' ? `${stops[i]?.name}: ${o.reason instanceof Error ? o.reason.message : String(o.reason)}` : undefined))
      .filter((x): x is string => x !== undefined)
    log(`teardown took ${Math.round(performance.now() - t)} ms (${took.join(', ')})`)
    if (failures.length > 0) throw new Error(`test bed teardown failed:\n${failures.join('\n')}`)
  }

  if (pgR.status === 'rejected' || redisR.status === 'rejected' || amR.status === 'rejected' || dockerR.status === 'rejected') {
    const reasons = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason)))
    await teardown().catch((err: unknown) => reasons.push(err instanceof Error ? err.message : String(err)))
    throw new Error(`The integration test bed could not start (run scripts/install-test-deps.sh as root to install what it needs):\n\n${reasons.join('\n\n')}`)
  }

  const info: BedInfo = {
    postgres: pgR.value.info,
    redis: { ...redisR.value.info, password: redisPassword },
    alertmanager: amR.value.info,
    docker: dockerR.value.info,
    startupMs: {
      postgres: pgR.value.ms,
      redis: redisR.value.ms,
      alertmanager: amR.value.ms,
      docker: dockerR.value.ms,
      total: Math.round(performance.now() - t0),
    },
  }
  log(
    `up in ${info.startupMs.total} ms (postgres ${info.startupMs.postgres}, redis ${info.startupMs.redis}, ` +
      `alertmanager ${info.startupMs.alertmanager}, docker ${info.startupMs.docker})`,
  )
  return { info, teardown }
}

/**
 * Integration test files run two at a time (the machine has 2 cores and most of a test's time is
 * spent waiting on a service), and a test may stop, pause or fill the services it uses: so each
 * worker gets a bed of its own. BED_COUNT must be at least maxWorkers.
 */
export const BED_COUNT = Number(process.env.BED_COUNT ?? 2)

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = await Promise.allSettled(Array.from({ length: BED_COUNT }, () => startBed()))
  const teardown = async (): Promise<void> => {
    const outcomes = await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.teardown() : Promise.resolve())))
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
    if (failed) throw failed.reason
  }
  const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (refused) {
    await teardown().catch(() => undefined)
    throw refused.reason
  }
  project.provide(
    'beds',
    started.map((s) => (s as PromiseFulfilledResult<{ info: BedInfo }>).value.info),
  )
  return teardown
}
