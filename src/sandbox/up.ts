import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Secret } from '../config/secret.js'
import { HintedError, UsageError, describeError, formatSeconds } from '../errors.js'
import { makeDirectories } from '../lib/files.js'
import { freePorts } from '../lib/ports.js'
import type { LokiBinary } from '../local-platform/loki.js'
import { PG_BIN_DIR } from '../local-platform/postgres.js'
import { REDIS_SERVER } from '../local-platform/redis.js'
import { firstUntraversable, lookupUser, type OsUser } from '../systems/os-user.js'
import { startAlertmanager, startFakeHttp, startPostgres, startRedis } from './components.js'
import { writeProbeOpsConfig } from './config-file.js'
import { stopComponents } from './down.js'
import { SandboxError, shellQuote, type Layout } from './layout.js'
import { DEFAULT_SEED } from './schema.js'
import { seedOldFiles } from './seed-files.js'
import { StateFile, inspect, newState, upProcessAlive, type SandboxState } from './state.js'
import { findSandboxLoki, startMonitoring } from './monitoring.js'
import { componentStatuses } from './status.js'

/** Enough for any demo or benchmark, and still minutes rather than hours to generate. */
const MAX_ROWS = 20_000_000

export interface UpOptions {
  dir: string
  days?: number
  rowsPerDay?: number
  /** Generated agents Prometheus scrapes (10, as many as the agents table has, by default). */
  agents?: number
  /** A Grafana Loki binary; otherwise `loki` on PATH or the one install-test-deps put in .tools/. */
  loki?: string
  /** One line per thing done, for a progress display. */
  onProgress?: (line: string) => void
}

export interface UpResult {
  dir: string
  alreadyRunning: boolean
  configFile: string
  durationMs: number
  state: SandboxState
}

export async function sandboxUp(options: UpOptions): Promise<UpResult> {
  const started = performance.now()
  const dir = resolve(options.dir)
  const seed = { days: options.days ?? DEFAULT_SEED.days, rowsPerDay: options.rowsPerDay ?? DEFAULT_SEED.rowsPerDay }
  checkSeed(seed)
  const { paths, state: previous, exists } = await inspect(dir)
  const notes: string[] = []
  const result = (state: SandboxState, alreadyRunning: boolean): UpResult => ({
    dir,
    alreadyRunning,
    configFile: paths.config,
    durationMs: Math.round(performance.now() - started),
    state,
  })

  if (exists && previous) {
    if (await stillRunning(paths, previous)) return result(previous, true)
    // Nothing of it runs (a reboot, a failed start): start afresh in its place, if we can start at all.
    checkPrerequisites(dir)
    await rm(dir, { recursive: true, force: true })
    notes.push(`replaced a stopped sandbox that was in ${dir}`)
  } else if (exists && (await readdir(dir)).length > 0) {
    throw new UsageError(`--dir ${dir} is not empty and holds no sandbox`, 'pass a new or empty directory for the sandbox')
  }

  const pgUser = checkPrerequisites(dir)
  const monitoring = { agents: options.agents ?? DEFAULT_SEED.agents, loki: await findSandboxLoki(options.loki, notes) }
  await createDirectories(paths, pgUser)
  const file = new StateFile(paths.state, newState(paths, notes))
  await file.save()
  try {
    await startEverything(paths, file, { pgUser, seed, monitoring }, options.onProgress ?? (() => undefined))
    await seedOldFiles(paths)
    await writeProbeOpsConfig(paths, file.state)
    file.state.status = 'running'
    file.state.readyAt = new Date().toISOString()
    await file.save()
  } catch (error) {
    await stopComponents(paths, file.state).catch(() => undefined)
    file.state.status = 'failed'
    file.state.error = describeError(error)
    await file.save().catch(() => undefined)
    if (error instanceof UsageError) throw error
    const hint = error instanceof HintedError && error.hint ? error.hint : `the logs are in ${paths.logDir}`
    throw new SandboxError(`sandbox up failed, stopped what had started: ${describeError(error)}`, hint)
  }
  return result(file.state, false)
}

function checkSeed({ days, rowsPerDay }: { days: number; rowsPerDay: number }): void {
  if (!Number.isInteger(days) || days < 1 || !Number.isInteger(rowsPerDay) || rowsPerDay < 1)
    throw new UsageError('--days and --rows-per-day must be whole numbers of at least 1')
  if (days * rowsPerDay > MAX_ROWS) {
    throw new UsageError(
      `--days ${days} × --rows-per-day ${rowsPerDay} is ${(days * rowsPerDay).toLocaleString('en-US')} rows; the sandbox makes at most ${MAX_ROWS.toLocaleString('en-US')}`,
      'lower --rows-per-day',
    )
  }
}

/**
 * Whether the sandbox that is there runs whole (then `up` changes nothing). One that is half up is
 * stopped, and refused with the reason; one of which nothing runs may be replaced.
 */
async function stillRunning(paths: Layout, previous: SandboxState): Promise<boolean> {
  const live = await componentStatuses(paths, previous)
  if (previous.status === 'starting' && upProcessAlive(previous)) {
    throw new SandboxError(`another \`probe-ops sandbox up\` (pid ${previous.up.pid}) is starting the sandbox in ${paths.dir}`, 'wait for it to finish')
  }
  const down = live.filter((c) => !c.running).map((c) => c.name)
  if (previous.status === 'running' && live.length > 0 && down.length === 0) return true
  if (!live.some((c) => c.running)) return false
  const stopped = await stopComponents(paths, previous)
  const what =
    previous.status === 'running'
      ? `${down.join(', ')} not running`
      : previous.status === 'failed'
        ? 'its `sandbox up` failed'
        : 'its `sandbox up` never finished'
  throw new SandboxError(
    `the sandbox in ${paths.dir} was only half up (${what}); stopped ${stopped.join(', ')}`,
    `run \`probe-ops sandbox up\` again for a fresh one (its logs stay in ${paths.logDir} until then), or \`probe-ops sandbox down --dir ${shellQuote(paths.dir)}\` to remove it`,
  )
}

interface StartOptions {
  pgUser: OsUser | undefined
  seed: { days: number; rowsPerDay: number }
  monitoring: { agents: number; loki?: LokiBinary }
}

async function startEverything(paths: Layout, file: StateFile, { pgUser, seed, monitoring }: StartOptions, progress: (line: string) => void) {
  const secrets = {
    postgres: await writeSecret(paths.pgPassword, 'postgres password'),
    redis: await writeSecret(paths.redisPassword, 'redis password'),
  }
  const [pgPort, redisPort, alertmanagerPort, managementPort, webPort] = (await freePorts(5)) as [number, number, number, number, number]
  const timed = async (what: string, work: () => Promise<string>) => {
    const t0 = performance.now()
    const detail = await work()
    progress(`${what}: ${detail} (${formatSeconds(performance.now() - t0)})`)
  }
  const results = await Promise.allSettled([
    timed('postgres', () => startPostgres(paths, file, pgPort, pgUser, secrets.postgres, seed, progress)),
    timed('redis', () => startRedis(paths, file, redisPort, secrets.redis)),
    timed('alertmanager', () => startAlertmanager(paths, file, alertmanagerPort)),
    timed('management', () => startFakeHttp('management', paths, file, managementPort)),
    timed('web', () => startFakeHttp('web', paths, file, webPort)),
  ])
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failure) throw failure.reason
  // Last, on ports picked once the others listen, pointed at the running PostgreSQL, Redis and AlertManager.
  await timed('monitoring', () =>
    startMonitoring(paths, file, {
      ...monitoring,
      postgresPort: pgPort,
      redisPort,
      redisPassword: secrets.redis,
      alertmanagerUrl: file.state.components.alertmanager?.address,
    }),
  )
}

/** The programs are there, and PostgreSQL (which refuses root) can reach the directory. */
function checkPrerequisites(dir: string): OsUser | undefined {
  if (!existsSync(join(PG_BIN_DIR, 'postgres')))
    throw new SandboxError(`PostgreSQL 15 is not installed (no ${PG_BIN_DIR}/postgres)`, 'install it: apt-get install postgresql-15')
  if (!existsSync(REDIS_SERVER)) throw new SandboxError(`Redis is not installed (no ${REDIS_SERVER})`, 'install it: apt-get install redis-server')
  if (process.getuid?.() !== 0) return undefined
  const user = lookupUser('postgres')
  if (!user)
    throw new SandboxError(
      'running as root, but there is no `postgres` OS user to run PostgreSQL as',
      'install postgresql-15 (it creates the user), or run as an ordinary user',
    )
  const blocked = firstUntraversable(dir, user)
  if (blocked) {
    throw new UsageError(
      `the postgres OS user cannot reach ${dir}: ${blocked} is not searchable by it`,
      `choose a --dir under a directory it can enter (e.g. /tmp/probe-ops-sandbox), or \`chmod o+x ${shellQuote(blocked)}\``,
    )
  }
  return user
}

async function createDirectories(paths: Layout, pgUser: OsUser | undefined): Promise<void> {
  try {
    await makeDirectories(paths.dir)
  } catch (error) {
    throw new UsageError(`cannot create --dir ${paths.dir} (${(error as NodeJS.ErrnoException).code})`, 'pass a directory you can write to')
  }
  // PostgreSQL runs as another user when we are root: it must be able to enter the directory.
  await chmod(paths.dir, 0o755)
  if (pgUser) {
    const blocked = firstUntraversable(paths.dir, pgUser)
    if (blocked)
      throw new UsageError(
        `the postgres OS user cannot reach ${paths.dir}: ${blocked} is not searchable by it`,
        `\`chmod o+x ${shellQuote(blocked)}\`, or choose another --dir`,
      )
  }
  await mkdir(paths.secrets, { mode: 0o700 })
  await chmod(paths.secrets, 0o700)
  for (const d of [paths.logDir, paths.runDir, paths.metrics, paths.lock, paths.tmp]) await makeDirectories(d)
  for (const d of [paths.pgData, paths.pgSocket, paths.redisData]) {
    await mkdir(d, { mode: 0o700 })
    await chmod(d, 0o700)
  }
  if (pgUser) {
    await chown(paths.pgData, pgUser.uid, pgUser.gid)
    await chown(paths.pgSocket, pgUser.uid, pgUser.gid)
  }
}

async function writeSecret(path: string, what: string): Promise<Secret> {
  const value = randomBytes(24).toString('base64url')
  await writeFile(path, `${value}\n`, { mode: 0o600, flag: 'wx' })
  return new Secret(value, `${what} ${path}`)
}
