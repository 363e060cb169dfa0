import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PostgresConfig } from '../config/load.js'
import type { Secret } from '../config/secret.js'
import { ALERTMANAGER_BIN, startAlertmanagerServer } from '../local-platform/alertmanager.js'
import { clusterClientConfig, createDatabaseIfMissing, initCluster, pgString, startCluster, waitForCluster } from '../local-platform/postgres.js'
import { startRedisServer } from '../local-platform/redis.js'
import { answersHttp, startReadyService, type RunningService } from '../local-platform/services.js'
import type { OsUser } from '../systems/os-user.js'
import type { Layout } from './layout.js'
import { seedDatabase, type Seed } from './seed-database.js'
import type { StateFile } from './state.js'

/** Each component of the sandbox, started through the local-platform toolkit in a session of its own, and recorded in state.json as soon as it runs. */

const FAKE_HTTP = fileURLToPath(new URL('./fake-http.js', import.meta.url))
const LOOPBACK = '127.0.0.1'

/** Records a started service (and its pid file, which the service itself may not write) before its readiness is waited for. */
function recordStarted(file: StateFile, component: 'redis' | 'alertmanager', paths: Layout, port: number, address: string) {
  return async (service: RunningService): Promise<void> => {
    await writeFile(paths.pidFiles[component], `${service.pid}\n`)
    await file.record(component, { pid: service.pid, port, address, pidFile: paths.pidFiles[component], logFile: paths.logs[component] })
  }
}

export async function startPostgres(
  paths: Layout,
  file: StateFile,
  port: number,
  user: OsUser | undefined,
  password: Secret,
  seed: Seed,
  progress: (line: string) => void,
): Promise<string> {
  const logFile = paths.logs.postgres
  file.state.postgres = { dataDir: paths.pgData, database: 'network_probe', user: 'postgres', osUser: user?.name }
  // A unix socket path must fit in 107 bytes; a deep --dir goes without one (TCP still works).
  const socketPath = join(paths.pgSocket, `.s.PGSQL.${port}`)
  const socket = Buffer.byteLength(socketPath) <= 100
  if (socket) file.state.postgres.socketDir = paths.pgSocket
  else file.state.notes.push(`PostgreSQL has no unix socket: ${socketPath} is longer than a socket path may be`)
  await initCluster({
    dataDir: paths.pgData,
    port,
    password: password.reveal(),
    socketDir: socket ? paths.pgSocket : '',
    user,
    locale: 'C',
    settings: { max_connections: 50, shared_buffers: pgString('64MB'), log_line_prefix: pgString('%m [%p] ') },
  })
  // pg_ctl returns once the server accepts connections; in its own session it outlives us.
  const { pid } = await startCluster({ dataDir: paths.pgData, logFile, user, supervise: 'pg_ctl' })
  await file.record('postgres', { pid, port, address: `${LOOPBACK}:${port}`, pidFile: paths.pidFiles.postgres, logFile })

  const superuser = clusterClientConfig({ host: LOOPBACK, port, user: 'postgres', password: password.reveal(), database: 'postgres' })
  await waitForCluster(superuser, { timeoutMs: 10_000, logFile })
  await createDatabaseIfMissing(superuser, 'network_probe')
  const config: PostgresConfig = {
    host: LOOPBACK,
    port,
    user: 'postgres',
    database: 'network_probe',
    password,
    sslmode: 'disable',
    connectTimeoutMs: 2000,
    statementTimeoutMs: 300_000,
  }
  file.state.data = await seedDatabase(config, seed, logFile, progress)
  await file.save()
  return `ready on ${LOOPBACK}:${port}`
}

export async function startRedis(paths: Layout, file: StateFile, port: number, password: Secret): Promise<string> {
  await startRedisServer({
    port,
    dir: paths.redisData,
    configFile: paths.redisConf,
    logFile: paths.logs.redis,
    password: password.reveal(),
    persist: true,
    pidFile: paths.pidFiles.redis,
    newSession: true,
    onStarted: recordStarted(file, 'redis', paths, port, `${LOOPBACK}:${port}`),
  })
  return `ready on ${LOOPBACK}:${port}`
}

export async function startAlertmanager(paths: Layout, file: StateFile, port: number): Promise<string> {
  const url = `http://${LOOPBACK}:${port}`
  if (!existsSync(ALERTMANAGER_BIN)) {
    file.state.notes.push(
      `AlertManager is not installed (${ALERTMANAGER_BIN}): a stand-in that accepts and lists alerts (API v2) answers at ${url}; apt-get install prometheus-alertmanager for the real one`,
    )
    await startFakeHttp('alertmanager', paths, file, port)
    return `not installed; a stand-in answers at ${url}`
  }
  await startAlertmanagerServer({
    port,
    configFile: paths.alertmanagerConf,
    storageDir: paths.alertmanagerData,
    logFile: paths.logs.alertmanager,
    cwd: paths.alertmanagerData,
    logLevel: 'info',
    newSession: true,
    onStarted: recordStarted(file, 'alertmanager', paths, port, url),
  })
  return `ready at ${url}`
}

/** The command that starts a stand-in for one of the platform's HTTP services. */
export function fakeHttpCommand(role: 'management' | 'web' | 'alertmanager', paths: Layout, port: number): string[] {
  return [process.execPath, FAKE_HTTP, '--role', role, '--port', String(port), '--pid-file', paths.pidFiles[role], '--log-file', paths.logs[role]]
}

export async function startFakeHttp(role: 'management' | 'web' | 'alertmanager', paths: Layout, file: StateFile, port: number): Promise<string> {
  const base = `http://${LOOPBACK}:${port}`
  const url = role === 'management' ? `${base}/api/v1/health` : role === 'web' ? `${base}/` : base
  const probeUrl = role === 'alertmanager' ? `${base}/api/v2/status` : url
  const pidFile = paths.pidFiles[role]
  const [command, ...args] = fakeHttpCommand(role, paths, port)
  await startReadyService(
    { name: `the ${role} stand-in`, command: command!, args, logFile: paths.logs[role], cwd: paths.runDir, newSession: true },
    { what: `the ${role} stand-in to answer at ${probeUrl}`, probe: async () => (await answersHttp(probeUrl)) && existsSync(pidFile), timeoutMs: 10_000 },
    (service) =>
      file.record(role, {
        pid: service.pid,
        port,
        address: role === 'alertmanager' ? base : url,
        pidFile,
        logFile: paths.logs[role],
        ...(role === 'alertmanager' ? { standIn: true } : {}),
      }),
  )
  return `ready at ${url}`
}
