/**
 * The platform both contenders diagnose, built from the integration test bed's helpers: a
 * private Docker engine running PostgreSQL 15, Redis and the `management` / `web` containers
 * (which print a few ERROR lines, then sleep), the management API health and web UI served by
 * this process on free 127.0.0.1 ports, and AlertManager.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { stringify } from 'yaml'
import { startAlertmanager } from '../../test/bed/alertmanager.js'
import { DOCKER_CLI, runCommandContainer, runPostgresContainer, runSleeperContainer, startDockerEngine, type DockerEngineInfo } from '../../test/bed/docker.js'
import { freePort } from '../../test/bed/ports.js'
import { randomPassword } from '../../test/bed/postgres.js'
import { waitUntil } from '../../test/bed/process.js'
import { redisPing } from '../../test/bed/redis.js'
import type { Teardown } from './teardown.js'

export interface BenchPlatform {
  /** Temp dir holding the config, its log and lock dirs, and the reports of timed runs. */
  dir: string
  /** An empty dir the contenders run in (no ./probe-ops.yaml to pick up). */
  cwd: string
  configPath: string
  /** The environment both contenders get (connection settings; see the script's header). */
  env: Record<string, string>
  docker: DockerEngineInfo
  postgres: { host: string; port: number }
  redis: { port: number; url: string }
  managementUrl: string
  webUrl: string
  alertmanagerUrl: string
  /** Pids of long-running processes started, to prove at the end that none is left. */
  pids: number[]
  /** Strings in the command lines of what was started (dirs), for the same check. */
  needles: string[]
}

export const MANAGEMENT_LOG = [
  'INFO management API started on :8000',
  'INFO GET /api/v1/health 200',
  'ERROR database pool exhausted (size 20)',
  'INFO GET /api/v1/tasks 200',
]
export const MANAGEMENT_STDERR = ['ERROR task scheduler: redis timeout after 5s']

async function serve(handler: http.RequestListener, teardown: Teardown, name: string): Promise<string> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve())
  })
  teardown.add(`${name} http server`, () => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error(`${name}: no port`)
  return `http://127.0.0.1:${address.port}`
}

export async function startPlatform(teardown: Teardown, log: (line: string) => void): Promise<BenchPlatform> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'po-bench-'))
  teardown.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }))
  const cwd = path.join(dir, 'cwd')
  await mkdir(cwd)
  await mkdir(path.join(dir, 'reports'))

  log('starting a private Docker engine')
  const engine = await startDockerEngine()
  teardown.add('docker engine (and every container in it)', () => engine.stop())
  const docker = engine.info
  const pids = [docker.pid]
  const needles = [`${docker.dir}/`, `${docker.scratchDir}/`, `${dir}/`]

  log('starting PostgreSQL 15 in container `postgres`')
  const pgPort = await freePort()
  const pgPassword = randomPassword()
  const pg = await runPostgresContainer(docker, { name: 'postgres', port: pgPort, password: pgPassword })
  teardown.add('container postgres', () => pg.remove())
  if (pg.info.pid > 0) pids.push(pg.info.pid)

  log('starting Redis in container `redis`')
  const redisPort = await freePort()
  await runCommandContainer(docker, {
    name: 'redis',
    cmd: ['/usr/bin/redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
  })
  await waitUntil(`redis on 127.0.0.1:${redisPort}`, () => redisPing('127.0.0.1', redisPort), { timeoutMs: 30_000, intervalMs: 100 })

  log('starting containers `management` and `web`')
  await runSleeperContainer(docker, { name: 'management', logLines: MANAGEMENT_LOG, errorLines: MANAGEMENT_STDERR })
  await runSleeperContainer(docker, { name: 'web', logLines: ['nginx: ready', 'GET / 200'] })

  const managementUrl = await serve(
    (req, res) => {
      const ok = req.url === '/api/v1/health'
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(ok ? '{"status":"healthy"}' : '{"detail":"Not Found"}')
    },
    teardown,
    'management API',
  )
  const webUrl = await serve(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Network Probe</title>')
    },
    teardown,
    'web UI',
  )

  log('starting AlertManager')
  const am = await startAlertmanager()
  teardown.add('alertmanager', () => am.stop())
  pids.push(am.info.pid)

  const configPath = path.join(dir, 'probe-ops.yaml')
  const config = {
    host: 'bench',
    runtime: 'docker',
    alertmanager: { url: am.info.url },
    services: {
      management: { container: 'management', url: `${managementUrl}/api/v1/health` },
      web: { container: 'web', url: webUrl },
      postgres: { container: 'postgres' },
      redis: { container: 'redis' },
    },
    log: { file: path.join(dir, 'maintenance.log') },
    lock: { dir: path.join(dir, 'lock') },
  }
  await writeFile(
    configPath,
    `# probe-ops configuration of the bench platform (bench/diagnose.ts). Connection settings come\n` +
      `# from the environment: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, REDIS_URL, DOCKER_HOST.\n` +
      stringify(config),
  )

  const redisUrl = `redis://127.0.0.1:${redisPort}`
  const env = {
    // probe-ops (and libpq, and the docker CLI)
    PGHOST: '127.0.0.1',
    PGPORT: String(pgPort),
    PGUSER: 'postgres',
    PGPASSWORD: pgPassword,
    PGDATABASE: 'network_probe',
    REDIS_URL: redisUrl,
    DOCKER_HOST: docker.host,
    // the guide's script (see bench/guide/diagnose.sh)
    DOCKER_CLI,
    MANAGEMENT_URL: managementUrl,
    WEB_URL: webUrl,
    REDIS_PORT: String(redisPort),
  }
  return {
    dir,
    cwd,
    configPath,
    env,
    docker,
    postgres: { host: '127.0.0.1', port: pgPort },
    redis: { port: redisPort, url: redisUrl },
    managementUrl,
    webUrl,
    alertmanagerUrl: am.info.url,
    pids,
    needles,
  }
}
