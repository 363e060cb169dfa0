/**
 * The platform the diagnose and recover benches run their contenders against, built from the
 * integration test bed's helpers: a private Docker engine running PostgreSQL 15, Redis and the
 * `management` container (and `web`, for diagnose), which print a few ERROR lines, then sleep;
 * the management API health (and the web UI) served by this process on free 127.0.0.1 ports;
 * AlertManager. Everything registers its stop with the bench's teardown and its processes with
 * the bench's leftover check.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import pg from 'pg'
import { stringify } from 'yaml'
import { startAlertmanager } from '../../test/bed/alertmanager.js'
import { DOCKER_CLI, runCommandContainer, runPostgresContainer, runSleeperContainer, startDockerEngine, type DockerEngineInfo } from '../../test/bed/docker.js'
import { freePort } from '../../test/bed/ports.js'
import { randomPassword } from '../../test/bed/postgres.js'
import { waitUntil } from '../../test/bed/process.js'
import { redisPing } from '../../test/bed/redis.js'
import type { Bench } from './harness.js'

export interface PlatformOptions {
  /** What the management API's health answers: always 200, or 200 only while PostgreSQL answers SELECT 1 on a fresh connection (503 otherwise). */
  health: 'static' | 'database'
  /** Redis requires a password. */
  redisPassword?: boolean
  /** The `web` container and a web UI stand-in. */
  web?: boolean
}

export interface BenchPlatform {
  /** Temp dir of the bench's files (configs, logs, reports of timed runs). */
  dir: string
  /** An empty dir the contenders run in (no ./probe-ops.yaml to pick up). */
  cwd: string
  docker: DockerEngineInfo
  postgres: { host: string; port: number; password: string; dataDir: string }
  redis: { port: number; password?: string; url: string }
  /** The management API's base URL and its health URL (`/api/v1/health`). */
  managementUrl: string
  healthUrl: string
  /** Requests the health URL answered, by status. */
  healthAnswers: Map<number, number>
  webUrl?: string
  alertmanagerUrl: string
  /** Connection settings in the environment (PG*, REDIS_URL, DOCKER_HOST, DOCKER_CLI). */
  env: Record<string, string>
}

export const MANAGEMENT_LOG = [
  'INFO management API started on :8000',
  'INFO GET /api/v1/health 200',
  'ERROR database pool exhausted (size 20)',
  'INFO GET /api/v1/tasks 200',
]
export const MANAGEMENT_STDERR = ['ERROR task scheduler: redis timeout after 5s']
export const HEALTH_PATH = '/api/v1/health'

/** An HTTP server of this process on a free 127.0.0.1 port, closed by the teardown; its base URL. */
export async function serveHttp(bench: Bench, name: string, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve())
  })
  bench.teardown.add(`${name} http server`, () => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error(`${name}: no port`)
  return `http://127.0.0.1:${address.port}`
}

/** A fresh connection and SELECT 1: true when it answered. Never throws. */
export async function answersSelectOne(config: pg.ClientConfig, timeoutMs = 1000): Promise<boolean> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs })
  client.on('error', () => undefined)
  try {
    await client.connect()
    const result = await client.query<{ one: number }>('select 1 as one')
    return result.rows[0]?.one === 1
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A management API health stand-in: 200 only while the database answers SELECT 1 within `timeoutMs`, 503 otherwise; its URL. */
export async function serveDatabaseHealth(
  bench: Bench,
  database: pg.ClientConfig,
  options: { timeoutMs?: number; answers?: Map<number, number> } = {},
): Promise<string> {
  const { timeoutMs = 1000, answers } = options
  const base = await serveHttp(bench, 'management health', (req, res) => {
    if (req.url !== HEALTH_PATH) {
      res.writeHead(404).end()
      return
    }
    void answersSelectOne(database, timeoutMs).then((up) => {
      const status = up ? 200 : 503
      answers?.set(status, (answers.get(status) ?? 0) + 1)
      res.writeHead(status, { 'content-type': 'application/json' }).end(up ? '{"status":"healthy"}' : '{"status":"unhealthy","database":"unreachable"}')
    })
  })
  return `${base}${HEALTH_PATH}`
}

/** A probe-ops configuration file, with a comment saying where the connection settings come from. */
export async function writeConfig(file: string, comment: string, config: Record<string, unknown>): Promise<string> {
  await writeFile(file, `# ${comment}\n${stringify(config)}`, { mode: 0o600 })
  return file
}

export async function startPlatform(bench: Bench, options: PlatformOptions): Promise<BenchPlatform> {
  const dir = await bench.tempDir('po-bench-platform-')
  const cwd = path.join(dir, 'cwd')
  await mkdir(cwd)

  bench.log('starting a private Docker engine')
  const engine = await startDockerEngine()
  bench.teardown.add('docker engine (and every container in it)', () => engine.stop())
  const docker = engine.info
  bench.watch({ pids: [docker.pid], needles: [`${docker.dir}/`, `${docker.scratchDir}/`] })

  // The guide names its containers postgres, redis, management: so does the bench (a private engine).
  bench.log('starting PostgreSQL 15 in container `postgres`')
  const pgPort = await freePort()
  const pgPassword = randomPassword()
  const pgContainer = await runPostgresContainer(docker, { name: 'postgres', port: pgPort, password: pgPassword })
  bench.teardown.add('container postgres', () => pgContainer.remove())
  bench.watch({ pids: [pgContainer.info.pid] })
  const postgres = { host: '127.0.0.1', port: pgPort, password: pgPassword, dataDir: pgContainer.info.dataDir }

  bench.log('starting Redis in container `redis`')
  const redisPort = await freePort()
  const redisPassword = options.redisPassword ? randomPassword() : undefined
  await runCommandContainer(docker, {
    name: 'redis',
    cmd: [
      '/usr/bin/redis-server',
      ...['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      ...(redisPassword ? ['--requirepass', redisPassword] : []),
    ],
  })
  await waitUntil(`redis on 127.0.0.1:${redisPort}`, () => redisPing('127.0.0.1', redisPort, redisPassword), { timeoutMs: 30_000, intervalMs: 100 })
  const redisUrl = `redis://${redisPassword ? `:${redisPassword}@` : ''}127.0.0.1:${redisPort}`

  bench.log(`starting container${options.web ? 's `management` and `web`' : ' `management`'}`)
  await runSleeperContainer(docker, { name: 'management', logLines: MANAGEMENT_LOG, errorLines: MANAGEMENT_STDERR })
  if (options.web) await runSleeperContainer(docker, { name: 'web', logLines: ['nginx: ready', 'GET / 200'] })

  const healthAnswers = new Map<number, number>()
  let managementUrl: string
  if (options.health === 'database') {
    const config = { host: postgres.host, port: postgres.port, user: 'postgres', password: postgres.password, database: 'postgres' }
    managementUrl = (await serveDatabaseHealth(bench, config, { answers: healthAnswers })).slice(0, -HEALTH_PATH.length)
  } else {
    managementUrl = await serveHttp(bench, 'management API', (req, res) => {
      const ok = req.url === HEALTH_PATH
      healthAnswers.set(ok ? 200 : 404, (healthAnswers.get(ok ? 200 : 404) ?? 0) + 1)
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(ok ? '{"status":"healthy"}' : '{"detail":"Not Found"}')
    })
  }
  const webUrl = options.web
    ? await serveHttp(bench, 'web UI', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Network Probe</title>')
      })
    : undefined

  bench.log('starting AlertManager')
  const alertmanager = await startAlertmanager()
  bench.teardown.add('alertmanager', () => alertmanager.stop())
  bench.watch({ pids: [alertmanager.info.pid] })

  return {
    dir,
    cwd,
    docker,
    postgres,
    redis: { port: redisPort, password: redisPassword, url: redisUrl },
    managementUrl,
    healthUrl: `${managementUrl}${HEALTH_PATH}`,
    healthAnswers,
    ...(webUrl ? { webUrl } : {}),
    alertmanagerUrl: alertmanager.info.url,
    env: {
      PGHOST: postgres.host,
      PGPORT: String(pgPort),
      PGUSER: 'postgres',
      PGPASSWORD: pgPassword,
      PGDATABASE: 'network_probe',
      REDIS_URL: redisUrl,
      DOCKER_HOST: docker.host,
      DOCKER_CLI,
    },
  }
}
