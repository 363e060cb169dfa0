import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs'
import { appendFile, chmod, chown, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dump } from 'js-yaml'
import type { PostgresConfig, RedisConfig } from '../config/load.js'
import type { ConfigFile } from '../config/schema.js'
import { Secret } from '../config/secret.js'
import { OperationFailure, UsageError, describeError, formatSeconds } from '../errors.js'
import { makeDirectories, writeFileAtomic } from '../lib/files.js'
import { sleep } from '../lib/time.js'
import { readPid } from '../systems/process.js'
import { DEFAULT_SEED, INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from './schema.js'
import { processStart } from '../lib/process.js'

/**
 * The sandbox: a throwaway platform under one directory, every service on 127.0.0.1 at a port
 * the kernel picked, started as detached processes that outlive `sandbox up`, and a
 * probe-ops.yaml that points probe-ops at them. state.json records what runs, for `down` and
 * `status`, and marks the directory as one `down` may remove.
 */

export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin'
export const REDIS_SERVER = '/usr/bin/redis-server'
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager'
const FAKE_HTTP = fileURLToPath(new URL('./fake-http.js', import.meta.url))

export const COMPONENTS = ['postgres', 'redis', 'alertmanager', 'management', 'web'] as const
export type ComponentName = (typeof COMPONENTS)[number]

const STATE_KIND = 'probe-ops-sandbox'
const STOP_GRACE_MS = 10_000
/** Enough for any demo or benchmark, and still minutes rather than hours to generate. */
const MAX_ROWS = 20_000_000

/** A failure of the sandbox itself (a service would not start): exit 1, one line and a hint. */
export class SandboxError extends OperationFailure {}

export interface ComponentState {
  pid?: number
  port: number
  /** The address a client uses: host:port or an http URL. */
  address: string
  pidFile: string
  logFile: string
  /** A stand-in rather than the real program (AlertManager when it is not installed). */
  standIn?: boolean
}

export interface SandboxState {
  kind: typeof STATE_KIND
  version: 1
  dir: string
  status: 'starting' | 'running' | 'failed'
  /** The `sandbox up` that wrote this, so a second one can tell it is still at work. */
  up: { pid: number; processStart?: string }
  createdAt: string
  readyAt?: string
  configFile: string
  postgres?: { dataDir: string; socketDir?: string; database: string; user: string; osUser?: string }
  data?: { days: number; rowsPerDay: number; rows: number; oldest: string | null; newest: string | null }
  components: Partial<Record<ComponentName, ComponentState>>
  notes: string[]
  error?: string
}

export function sandboxLayout(dir: string) {
  const log = join(dir, 'log')
  const run = join(dir, 'run')
  return {
    dir,
    state: join(dir, 'state.json'),
    config: join(dir, 'probe-ops.yaml'),
    secrets: join(dir, 'secrets'),
    pgPassword: join(dir, 'secrets', 'pgpassword'),
    redisPassword: join(dir, 'secrets', 'redispassword'),
    pgData: join(dir, 'pg'),
    pgSocket: join(dir, 'pg-socket'),
    redisData: join(dir, 'redis'),
    redisConf: join(dir, 'redis.conf'),
    alertmanagerData: join(dir, 'alertmanager'),
    alertmanagerConf: join(dir, 'alertmanager.yml'),
    logDir: log,
    runDir: run,
    metrics: join(dir, 'metrics'),
    lock: join(dir, 'lock'),
    tmp: join(dir, 'tmp'),
    maintenanceLog: join(log, 'maintenance.log'),
    logs: Object.fromEntries(COMPONENTS.map((c) => [c, join(log, `${c}.log`)])) as Record<ComponentName, string>,
    pidFiles: {
      postgres: join(dir, 'pg', 'postmaster.pid'),
      redis: join(run, 'redis.pid'),
      alertmanager: join(run, 'alertmanager.pid'),
      management: join(run, 'management.pid'),
      web: join(run, 'web.pid'),
    } as Record<ComponentName, string>,
  }
}
type Layout = ReturnType<typeof sandboxLayout>

// ---------------------------------------------------------------------------------------------
// Processes: identity, liveness, stopping

interface OsUser {
  name: string
  uid: number
  gid: number
}

function osUser(name: string): OsUser | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':')
    if (fields[0] === name && fields.length >= 7) return { name, uid: Number(fields[2]), gid: Number(fields[3]) }
  }
  return undefined
}

function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

function alive(pid: number): boolean {
  const stat = procStat(pid)
  return stat !== undefined && stat[0] !== 'Z' && stat[0] !== 'X'
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/**
 * Whether `pid` is this sandbox's `component` and not a stranger that got a recycled pid: its
 * command line names the sandbox's files (redis-server rewrites its own to name its address).
 */
function isComponentProcess(component: ComponentName, pid: number | undefined, paths: Layout, state?: SandboxState): pid is number {
  if (pid === undefined || !alive(pid)) return false
  const cmdline = commandLine(pid)
  if (component === 'postgres') return cmdline.split(' ').includes(paths.pgData)
  if (component === 'redis') {
    const port = state?.components.redis?.port
    return cmdline.includes('redis-server') && (cmdline.includes(paths.redisConf) || (port !== undefined && cmdline.includes(`:${port}`)))
  }
  return cmdline.includes(`${paths.dir}/`)
}

/** The pids a component may run under: its pid file's (it may have been restarted) and the recorded one. */
async function componentPids(component: ComponentName, paths: Layout, state?: SandboxState): Promise<number[]> {
  const fromFile = await readPid(paths.pidFiles[component]).catch(() => undefined)
  const recorded = state?.components[component]?.pid
  return [...new Set([fromFile, recorded])].filter((pid): pid is number => isComponentProcess(component, pid, paths, state))
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (alive(pid)) {
    if (Date.now() >= deadline) return false
    await sleep(50)
  }
  return true
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM') {
      throw new SandboxError(`not allowed to stop process ${pid}: another user started it`, 'run this as the user who ran `probe-ops sandbox up`')
    }
    // ESRCH: already gone
  }
}

/** SIGTERM (or the given signal), up to 10 s, then SIGKILL. */
async function terminate(pid: number, first: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  signal(pid, 'SIGCONT')
  signal(pid, first)
  if (await waitForExit(pid, STOP_GRACE_MS)) return
  signal(pid, 'SIGKILL')
  if (!(await waitForExit(pid, 5000))) throw new SandboxError(`process ${pid} survived SIGKILL`, 'look at it with `ps -o pid,stat,cmd -p ' + pid + '`')
}

/** Stops whatever of the sandbox still runs; returns the names of the components it stopped. */
async function stopComponents(paths: Layout, state?: SandboxState): Promise<ComponentName[]> {
  const stopped = await Promise.all(
    COMPONENTS.map(async (component) => {
      const pids = await componentPids(component, paths, state)
      if (pids.length === 0) return undefined
      if (component === 'postgres') await stopPostgres(paths, pids)
      else await Promise.all(pids.map((pid) => terminate(pid)))
      return component
    }),
  )
  return stopped.filter((c): c is ComponentName => c !== undefined)
}

async function stopPostgres(paths: Layout, pids: number[]): Promise<void> {
  const owner = dataDirOwner(paths.pgData)
  await runProgram(join(PG_BIN_DIR, 'pg_ctl'), ['stop', '-D', paths.pgData, '-m', 'fast', '-w', '-t', String(STOP_GRACE_MS / 1000), '-s'], {
    cwd: existsSync(paths.pgData) ? paths.pgData : '/',
    user: owner,
    timeoutMs: STOP_GRACE_MS + 5000,
  }).catch(() => undefined)
  // pg_ctl could not do it (no postmaster.pid, a hung server): SIGINT is its fast shutdown.
  await Promise.all(pids.filter(alive).map((pid) => terminate(pid, 'SIGINT')))
}

/** Who runs PostgreSQL: the data directory's owner when we are root, ourselves otherwise. */
function dataDirOwner(dataDir: string): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined
  try {
    const { uid, gid } = statSync(dataDir)
    return uid === 0 ? undefined : { name: String(uid), uid, gid }
  } catch {
    return osUser('postgres')
  }
}

// ---------------------------------------------------------------------------------------------
// Running programs

interface RunOptions {
  cwd: string
  user?: OsUser
  env?: NodeJS.ProcessEnv
  timeoutMs: number
  detached?: boolean
}

/** The environment every service gets: nothing of ours (no PG*, no NODE_OPTIONS, no secrets). */
function serviceEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: home }
  if (process.env.TZ) env.TZ = process.env.TZ
  return env
}

/** Runs a program to its end; rejects with its last line of output when it fails. */
function runProgram(command: string, args: string[], options: RunOptions): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? serviceEnv(options.cwd),
      uid: options.user?.uid,
      gid: options.user?.gid,
      detached: options.detached ?? false,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8192)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command.split('/').pop()} did not finish within ${formatSeconds(options.timeoutMs)}`))
    }, options.timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    // 'exit', not 'close': a daemon it started may hold the pipes open.
    child.once('exit', (code, sig) => {
      clearTimeout(timer)
      setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        if (code === 0) resolvePromise(output)
        else reject(new Error(lastLine(output) ?? `${command.split('/').pop()} exited with ${code ?? sig}`))
      }, 20)
    })
  })
}

function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1)
}

interface Started {
  child: ChildProcess
  exited?: string
}

/** Starts a long-running service in its own session, output appended to its log, not waited for. */
async function spawnDetached(command: string, args: string[], logFile: string, options: SpawnOptions & { user?: OsUser }): Promise<Started> {
  const fd = openSync(logFile, 'a', 0o640)
  let child: ChildProcess
  try {
    child = spawn(command, args, { ...options, uid: options.user?.uid, gid: options.user?.gid, detached: true, stdio: ['ignore', fd, fd] })
  } finally {
    closeSync(fd)
  }
  const started: Started = { child }
  child.once('exit', (code, sig) => {
    started.exited = sig ? `signal ${sig}` : `code ${code}`
  })
  await new Promise<void>((resolvePromise, reject) => {
    child.once('spawn', () => resolvePromise())
    child.once('error', (error) => reject(new SandboxError(`cannot start ${command}: ${describeError(error)}`)))
  })
  child.unref()
  return started
}

/** Polls `probe` until it holds; fails early when the process exits, with its log's last line. */
async function waitReady(what: string, probe: () => Promise<boolean>, options: { timeoutMs: number; started?: Started; logFile: string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    if (options.started?.exited) {
      const line = lastLine(await readFile(options.logFile, 'utf8').catch(() => ''))
      throw new SandboxError(
        `${what} exited (${options.started.exited}) before it was ready${line ? `: ${line.slice(0, 300)}` : ''}`,
        `read ${options.logFile}`,
      )
    }
    try {
      if (await probe()) return
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      throw new SandboxError(
        `${what} was not ready within ${formatSeconds(options.timeoutMs)}${lastError ? ` (${describeError(lastError)})` : ''}`,
        `read ${options.logFile}`,
      )
    }
    await sleep(50)
  }
}

/** Ports nothing listens on, chosen by the kernel (listen on port 0), all different. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolvePromise, reject) => {
          const server = createServer()
          server.once('error', reject)
          server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolvePromise(server))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

// ---------------------------------------------------------------------------------------------
// The state file

async function readState(paths: Layout): Promise<SandboxState | undefined> {
  let text: string
  try {
    text = await readFile(paths.state, 'utf8')
  } catch {
    return undefined
  }
  try {
    const state = JSON.parse(text) as SandboxState
    return state?.kind === STATE_KIND && typeof state.components === 'object' ? state : undefined
  } catch {
    return undefined
  }
}

/** Writes state.json after every change, one write at a time. */
class StateFile {
  #pending: Promise<void> = Promise.resolve()
  constructor(
    private readonly path: string,
    readonly state: SandboxState,
  ) {}

  save(): Promise<void> {
    const text = `${JSON.stringify(this.state, null, 2)}\n`
    this.#pending = this.#pending.then(() => writeFileAtomic(this.path, text, 0o644))
    return this.#pending
  }
}

function upProcessAlive(state: SandboxState): boolean {
  const { pid, processStart: start } = state.up ?? {}
  if (!pid || pid === process.pid || !alive(pid)) return false
  return start === undefined || processStart(pid) === start
}

// ---------------------------------------------------------------------------------------------
// Status

export interface ComponentStatus {
  name: ComponentName
  running: boolean
  pid?: number
  port?: number
  address?: string
  standIn?: boolean
  logFile?: string
}

export interface SandboxStatus {
  dir: string
  /** absent: no directory; running: every component up; partial: some; stopped: none. */
  status: 'absent' | 'starting' | 'running' | 'partial' | 'stopped'
  configFile?: string
  components: ComponentStatus[]
  data?: SandboxState['data']
  notes: string[]
}

async function inspect(dir: string): Promise<{ paths: Layout; state?: SandboxState; exists: boolean }> {
  const paths = sandboxLayout(dir)
  let info
  try {
    info = await stat(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { paths, exists: false }
    throw new UsageError(`--dir ${dir} cannot be read (${(error as NodeJS.ErrnoException).code})`)
  }
  if (!info.isDirectory())
    throw new UsageError(`--dir ${dir} is a file, not a directory`, 'pass a directory for the sandbox (it is created when missing), e.g. --dir ./.sandbox')
  return { paths, state: await readState(paths), exists: true }
}

async function componentStatuses(paths: Layout, state: SandboxState): Promise<ComponentStatus[]> {
  const names = COMPONENTS.filter((c) => state.components[c] !== undefined)
  return Promise.all(
    names.map(async (name) => {
      const recorded = state.components[name]!
      const [pid] = await componentPids(name, paths, state)
      return { name, running: pid !== undefined, pid, port: recorded.port, address: recorded.address, standIn: recorded.standIn, logFile: recorded.logFile }
    }),
  )
}

export async function sandboxStatus(dirOption: string): Promise<SandboxStatus> {
  const dir = resolve(dirOption)
  const { paths, state, exists } = await inspect(dir)
  if (!exists) return { dir, status: 'absent', components: [], notes: [] }
  if (!state) throw notASandbox(dir)
  const components = await componentStatuses(paths, state)
  const running = components.filter((c) => c.running).length
  const status =
    state.status === 'starting' && upProcessAlive(state)
      ? 'starting'
      : state.status === 'running' && running === components.length
        ? 'running'
        : running > 0
          ? 'partial'
          : 'stopped'
  return { dir, status, configFile: existsSync(paths.config) ? paths.config : undefined, components, data: state.data, notes: state.notes }
}

function notASandbox(dir: string): UsageError {
  return new UsageError(
    `${dir} holds no state.json written by \`probe-ops sandbox up\`: it is not a sandbox`,
    'pass the --dir that `probe-ops sandbox up` used (default ./.sandbox)',
  )
}

// ---------------------------------------------------------------------------------------------
// Down

export interface DownResult {
  dir: string
  /** Whether there was a sandbox directory at all. */
  existed: boolean
  stopped: ComponentName[]
  removed: boolean
}

export async function sandboxDown(dirOption: string): Promise<DownResult> {
  const dir = resolve(dirOption)
  const { paths, state, exists } = await inspect(dir)
  if (!exists) return { dir, existed: false, stopped: [], removed: false }
  if (!state) throw notASandbox(dir)
  if (state.status === 'starting' && upProcessAlive(state)) {
    throw new SandboxError(
      `\`probe-ops sandbox up\` (pid ${state.up.pid}) is still starting the sandbox in ${dir}`,
      'wait for it to finish, then run `sandbox down` again',
    )
  }
  const stopped = await stopComponents(paths, state)
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 })
  } catch (error) {
    throw new SandboxError(
      `stopped the sandbox, but cannot remove ${dir} (${(error as NodeJS.ErrnoException).code ?? describeError(error)})`,
      'remove it as the user who ran `probe-ops sandbox up`',
    )
  }
  return { dir, existed: true, stopped, removed: true }
}

// ---------------------------------------------------------------------------------------------
// Up

export interface UpOptions {
  dir: string
  days?: number
  rowsPerDay?: number
  /** One line per thing done, for a progress display. */
  onProgress?(line: string): void
}

export interface UpResult {
  dir: string
  alreadyRunning: boolean
  configFile: string
  durationMs: number
  state: SandboxState
}

interface Secrets {
  postgres: Secret
  redis: Secret
}

export async function sandboxUp(options: UpOptions): Promise<UpResult> {
  const started = performance.now()
  const dir = resolve(options.dir)
  const days = options.days ?? DEFAULT_SEED.days
  const rowsPerDay = options.rowsPerDay ?? DEFAULT_SEED.rowsPerDay
  const progress = options.onProgress ?? (() => undefined)
  if (!Number.isInteger(days) || days < 1 || !Number.isInteger(rowsPerDay) || rowsPerDay < 1)
    throw new UsageError('--days and --rows-per-day must be whole numbers of at least 1')
  if (days * rowsPerDay > MAX_ROWS) {
    throw new UsageError(
      `--days ${days} × --rows-per-day ${rowsPerDay} is ${(days * rowsPerDay).toLocaleString('en-US')} rows; the sandbox makes at most ${MAX_ROWS.toLocaleString('en-US')}`,
      'lower --rows-per-day',
    )
  }
  const { paths, state: previous, exists } = await inspect(dir)
  const notes: string[] = []

  if (exists && previous) {
    const live = await componentStatuses(paths, previous)
    if (previous.status === 'starting' && upProcessAlive(previous)) {
      throw new SandboxError(`another \`probe-ops sandbox up\` (pid ${previous.up.pid}) is starting the sandbox in ${dir}`, 'wait for it to finish')
    }
    const down = live.filter((c) => !c.running).map((c) => c.name)
    if (previous.status === 'running' && live.length > 0 && down.length === 0) {
      return { dir, alreadyRunning: true, configFile: paths.config, durationMs: Math.round(performance.now() - started), state: previous }
    }
    if (live.some((c) => c.running)) {
      const stopped = await stopComponents(paths, previous)
      const what =
        previous.status === 'running'
          ? `${down.join(', ')} not running`
          : previous.status === 'failed'
            ? 'its `sandbox up` failed'
            : 'its `sandbox up` never finished'
      throw new SandboxError(
        `the sandbox in ${dir} was only half up (${what}); stopped ${stopped.join(', ')}`,
        `run \`probe-ops sandbox up\` again for a fresh one (its logs stay in ${paths.logDir} until then), or \`probe-ops sandbox down --dir ${shellQuote(dir)}\` to remove it`,
      )
    }
    // Nothing of it runs (a reboot, a failed start): start afresh in its place, if we can start at all.
    checkPrerequisites(dir)
    await rm(dir, { recursive: true, force: true })
    notes.push(`replaced a stopped sandbox that was in ${dir}`)
  } else if (exists && (await readdir(dir)).length > 0) {
    throw new UsageError(`--dir ${dir} is not empty and holds no sandbox`, 'pass a new or empty directory for the sandbox')
  }

  const pgUser = checkPrerequisites(dir)
  await createDirectories(paths, pgUser)

  const state: SandboxState = {
    kind: STATE_KIND,
    version: 1,
    dir,
    status: 'starting',
    up: { pid: process.pid, processStart: processStart(process.pid) },
    createdAt: new Date().toISOString(),
    configFile: paths.config,
    components: {},
    notes,
  }
  const file = new StateFile(paths.state, state)
  await file.save()

  try {
    const secrets: Secrets = {
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
      timed('postgres', () => startPostgres(paths, file, pgPort, pgUser, secrets.postgres, { days, rowsPerDay }, progress)),
      timed('redis', () => startRedis(paths, file, redisPort, secrets.redis)),
      timed('alertmanager', () => startAlertmanager(paths, file, alertmanagerPort)),
      timed('management', () => startFakeHttp('management', paths, file, managementPort)),
      timed('web', () => startFakeHttp('web', paths, file, webPort)),
    ])
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason

    await seedOldFiles(paths)
    await writeProbeOpsConfig(paths, state)
    state.status = 'running'
    state.readyAt = new Date().toISOString()
    await file.save()
  } catch (error) {
    await stopComponents(paths, state).catch(() => undefined)
    state.status = 'failed'
    state.error = describeError(error)
    await file.save().catch(() => undefined)
    if (error instanceof UsageError) throw error
    const hint = error instanceof SandboxError && error.hint ? error.hint : `the logs are in ${paths.logDir}`
    throw new SandboxError(`sandbox up failed, stopped what had started: ${describeError(error)}`, hint)
  }
  return { dir, alreadyRunning: false, configFile: paths.config, durationMs: Math.round(performance.now() - started), state }
}

/** The programs are there, and PostgreSQL (which refuses root) can reach the directory. */
function checkPrerequisites(dir: string): OsUser | undefined {
  if (!existsSync(join(PG_BIN_DIR, 'postgres')))
    throw new SandboxError(`PostgreSQL 15 is not installed (no ${PG_BIN_DIR}/postgres)`, 'install it: apt-get install postgresql-15')
  if (!existsSync(REDIS_SERVER)) throw new SandboxError(`Redis is not installed (no ${REDIS_SERVER})`, 'install it: apt-get install redis-server')
  if (process.getuid?.() !== 0) return undefined
  const user = osUser('postgres')
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

/** The first existing ancestor of `dir` (or dir itself) that `user` may not enter. */
function firstUntraversable(dir: string, user: OsUser): string | undefined {
  const chain: string[] = []
  for (let p = dir; ; p = dirname(p)) {
    chain.unshift(p)
    if (dirname(p) === p) break
  }
  for (const p of chain) {
    let info
    try {
      info = statSync(p)
    } catch {
      return undefined
    }
    const bits = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001
    if ((info.mode & bits) === 0) return p
  }
  return undefined
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

function record(file: StateFile, component: ComponentName, entry: ComponentState): Promise<void> {
  file.state.components[component] = entry
  return file.save()
}

// --- PostgreSQL ---

function pgString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

async function startPostgres(
  paths: Layout,
  file: StateFile,
  port: number,
  user: OsUser | undefined,
  password: Secret,
  seed: { days: number; rowsPerDay: number },
  progress: (line: string) => void,
): Promise<string> {
  const logFile = paths.logs.postgres
  await writeFile(logFile, '', { mode: 0o640 })
  if (user) await chown(logFile, user.uid, user.gid)
  file.state.postgres = { dataDir: paths.pgData, database: 'network_probe', user: 'postgres', osUser: user?.name }

  // initdb reads the password from a file (never argv); the secrets dir is not the postgres user's.
  const pwFile = join(paths.dir, `.initdb-pw-${randomBytes(6).toString('hex')}`)
  await writeFile(pwFile, `${password.reveal()}\n`, { mode: 0o600, flag: 'wx' })
  if (user) await chown(pwFile, user.uid, user.gid)
  try {
    await runProgram(
      join(PG_BIN_DIR, 'initdb'),
      ['-D', paths.pgData, '-U', 'postgres', `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { cwd: paths.pgData, user, timeoutMs: 60_000 },
    )
  } catch (error) {
    throw new SandboxError(`initdb failed: ${describeError(error)}`, `check that ${paths.pgData} is writable by ${user?.name ?? 'you'}`)
  } finally {
    await rm(pwFile, { force: true })
  }

  // A unix socket path must fit in 107 bytes; a deep --dir goes without one (TCP still works).
  const socketPath = join(paths.pgSocket, `.s.PGSQL.${port}`)
  const socket = Buffer.byteLength(socketPath) <= 100
  if (socket) file.state.postgres.socketDir = paths.pgSocket
  else file.state.notes.push(`PostgreSQL has no unix socket: ${socketPath} is longer than a socket path may be`)
  const settings: Record<string, string | number> = {
    listen_addresses: pgString('127.0.0.1'),
    port,
    unix_socket_directories: pgString(socket ? paths.pgSocket : ''),
    max_connections: 50,
    shared_buffers: pgString('64MB'),
    shared_preload_libraries: pgString('pg_stat_statements'),
    'pg_stat_statements.track': 'all',
    synchronous_commit: 'off',
    logging_collector: 'off',
    log_destination: pgString('stderr'),
    log_line_prefix: pgString('%m [%p] '),
  }
  await appendFile(
    join(paths.pgData, 'postgresql.conf'),
    `\n# probe-ops sandbox\n${Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join('')}`,
  )

  // pg_ctl -w returns once the server accepts connections; in its own session it outlives us.
  try {
    await runProgram(join(PG_BIN_DIR, 'pg_ctl'), ['start', '-D', paths.pgData, '-l', logFile, '-w', '-t', '30', '-s'], {
      cwd: paths.pgData,
      user,
      timeoutMs: 40_000,
      detached: true,
    })
  } catch (error) {
    const line = lastLine(await readFile(logFile, 'utf8').catch(() => ''))
    throw new SandboxError(`PostgreSQL did not start: ${line ?? describeError(error)}`, `read ${logFile}`)
  }
  const pid = await readPid(paths.pidFiles.postgres)
  await record(file, 'postgres', { pid, port, address: `127.0.0.1:${port}`, pidFile: paths.pidFiles.postgres, logFile })

  const config: PostgresConfig = {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    password,
    sslmode: 'disable',
    connectTimeoutMs: 2000,
    statementTimeoutMs: 300_000,
  }
  const { connectPostgres, closePostgres } = await import('../systems/postgres.js')
  await waitReady(
    'PostgreSQL',
    async () => {
      const client = await connectPostgres(config)
      try {
        await client.query('select 1')
        return true
      } finally {
        await closePostgres(client)
      }
    },
    { timeoutMs: 10_000, logFile },
  )
  const admin = await connectPostgres(config)
  try {
    await admin.query('create database network_probe')
  } finally {
    await closePostgres(admin)
  }

  const t0 = performance.now()
  const db = await connectPostgres({ ...config, database: 'network_probe' })
  try {
    await db.query('create extension if not exists pg_stat_statements')
    await db.query(SCHEMA_SQL)
    await db.query(referenceDataSql(DEFAULT_SEED))
    await db.query(TASK_RESULTS_SQL, [seed.days, seed.rowsPerDay])
    await db.query(INDEX_SQL)
    await db.query('analyze')
    const [row] = (
      await db.query<{ rows: string; oldest: Date | null; newest: Date | null }>(
        'select count(*) as rows, min(execution_time) as oldest, max(execution_time) as newest from task_results',
      )
    ).rows
    const rows = Number(row!.rows)
    file.state.data = {
      days: seed.days,
      rowsPerDay: seed.rowsPerDay,
      rows,
      oldest: row!.oldest?.toISOString() ?? null,
      newest: row!.newest?.toISOString() ?? null,
    }
    await file.save()
    progress(`postgres: network_probe has ${rows.toLocaleString('en-US')} task results over ${seed.days} days (${formatSeconds(performance.now() - t0)})`)
  } catch (error) {
    throw new SandboxError(`creating the platform's schema and data failed: ${describeError(error)}`, `read ${logFile}`)
  } finally {
    await closePostgres(db)
  }
  return `ready on 127.0.0.1:${port}`
}

// --- Redis ---

function redisString(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

async function startRedis(paths: Layout, file: StateFile, port: number, password: Secret): Promise<string> {
  const conf = [
    '# probe-ops sandbox: Redis on 127.0.0.1 with a password, persisted in this directory',
    'bind 127.0.0.1',
    `port ${port}`,
    'protected-mode yes',
    `requirepass ${redisString(password.reveal())}`,
    `dir ${redisString(paths.redisData)}`,
    'dbfilename dump.rdb',
    'save 3600 1 300 100 60 10000',
    'appendonly no',
    'daemonize no',
    // Written by Redis itself, so that `probe-ops recover redis` restarting it keeps the file right.
    `pidfile ${redisString(paths.pidFiles.redis)}`,
    'supervised no',
    'logfile ""',
    'loglevel notice',
    'databases 16',
    '',
  ].join('\n')
  await writeFile(paths.redisConf, conf, { mode: 0o600 })
  const logFile = paths.logs.redis
  const started = await spawnDetached(REDIS_SERVER, [paths.redisConf], logFile, { cwd: paths.redisData, env: serviceEnv(paths.redisData) })
  const pid = started.child.pid!
  await writeFile(paths.pidFiles.redis, `${pid}\n`)
  await record(file, 'redis', { pid, port, address: `127.0.0.1:${port}`, pidFile: paths.pidFiles.redis, logFile })
  const { connectRedis, closeRedis } = await import('../systems/redis.js')
  const config: RedisConfig = { url: `redis://127.0.0.1:${port}`, password, timeoutMs: 1000 }
  await waitReady(
    'Redis',
    async () => {
      closeRedis(await connectRedis(config))
      return true
    },
    { timeoutMs: 15_000, started, logFile },
  )
  return `ready on 127.0.0.1:${port}`
}

// --- AlertManager ---

const ALERTMANAGER_CONFIG = `# probe-ops sandbox: every alert goes to a receiver that does nothing
route:
  receiver: 'null'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: 'null'
`

async function startAlertmanager(paths: Layout, file: StateFile, port: number): Promise<string> {
  if (!existsSync(ALERTMANAGER_BIN)) {
    file.state.notes.push(
      `AlertManager is not installed (${ALERTMANAGER_BIN}): a stand-in that accepts and lists alerts (API v2) answers at http://127.0.0.1:${port}; apt-get install prometheus-alertmanager for the real one`,
    )
    await startFakeHttp('alertmanager', paths, file, port)
    return `not installed; a stand-in answers at http://127.0.0.1:${port}`
  }
  await writeFile(paths.alertmanagerConf, ALERTMANAGER_CONFIG, { mode: 0o644 })
  await mkdir(paths.alertmanagerData, { mode: 0o700 })
  const url = `http://127.0.0.1:${port}`
  const logFile = paths.logs.alertmanager
  const started = await spawnDetached(
    ALERTMANAGER_BIN,
    [
      `--config.file=${paths.alertmanagerConf}`,
      `--storage.path=${paths.alertmanagerData}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=info',
    ],
    logFile,
    { cwd: paths.alertmanagerData, env: serviceEnv(paths.alertmanagerData) },
  )
  const pid = started.child.pid!
  await writeFile(paths.pidFiles.alertmanager, `${pid}\n`)
  await record(file, 'alertmanager', { pid, port, address: url, pidFile: paths.pidFiles.alertmanager, logFile })
  const { fetchJson } = await import('../systems/http.js')
  await waitReady('AlertManager', async () => (await fetchJson<{ cluster?: unknown }>(`${url}/api/v2/status`, 1000)) !== undefined, {
    timeoutMs: 20_000,
    started,
    logFile,
  })
  return `ready at ${url}`
}

// --- The management API and web UI stand-ins ---

function fakeHttpCommand(role: 'management' | 'web', paths: Layout, port: number): string[] {
  return [process.execPath, FAKE_HTTP, '--role', role, '--port', String(port), '--pid-file', paths.pidFiles[role], '--log-file', paths.logs[role]]
}

async function startFakeHttp(role: 'management' | 'web' | 'alertmanager', paths: Layout, file: StateFile, port: number): Promise<string> {
  const base = `http://127.0.0.1:${port}`
  const url = role === 'management' ? `${base}/api/v1/health` : role === 'web' ? `${base}/` : base
  const probeUrl = role === 'alertmanager' ? `${base}/api/v2/status` : url
  const logFile = paths.logs[role]
  const pidFile = paths.pidFiles[role]
  const started = await spawnDetached(
    process.execPath,
    [FAKE_HTTP, '--role', role, '--port', String(port), '--pid-file', pidFile, '--log-file', logFile],
    logFile,
    {
      cwd: paths.runDir,
      env: serviceEnv(paths.runDir),
    },
  )
  await record(file, role, {
    pid: started.child.pid!,
    port,
    address: role === 'alertmanager' ? base : url,
    pidFile,
    logFile,
    ...(role === 'alertmanager' ? { standIn: true } : {}),
  })
  const { probeHttp } = await import('../systems/http.js')
  await waitReady(`the ${role} stand-in`, async () => (await probeHttp(probeUrl, 1000)).ok && existsSync(pidFile), { timeoutMs: 10_000, started, logFile })
  return `ready at ${url}`
}

// --- probe-ops.yaml ---

async function writeProbeOpsConfig(paths: Layout, state: SandboxState): Promise<void> {
  const c = state.components
  const config: ConfigFile = {
    host: 'sandbox',
    runtime: 'process',
    postgres: { host: '127.0.0.1', port: c.postgres!.port, user: 'postgres', database: 'network_probe', passwordFile: paths.pgPassword },
    redis: { url: `redis://127.0.0.1:${c.redis!.port}`, passwordFile: paths.redisPassword },
    alertmanager: { url: c.alertmanager!.address },
    // Each with the command that starts it, so `probe-ops recover` and `restore` can restart it.
    services: {
      management: {
        runtime: 'process',
        pidFile: paths.pidFiles.management,
        logFile: paths.logs.management,
        readiness: 'http',
        url: c.management!.address,
        dependsOn: ['postgres', 'redis'],
        start: fakeHttpCommand('management', paths, c.management!.port),
        readinessTimeoutSeconds: 15,
      },
      web: {
        runtime: 'process',
        pidFile: paths.pidFiles.web,
        logFile: paths.logs.web,
        readiness: 'http',
        url: c.web!.address,
        start: fakeHttpCommand('web', paths, c.web!.port),
        readinessTimeoutSeconds: 15,
      },
      postgres: {
        runtime: 'process',
        pidFile: paths.pidFiles.postgres,
        logFile: paths.logs.postgres,
        readiness: 'postgres',
        dataDir: paths.pgData,
        // PostgreSQL refuses to run as root: as root, start it as its own user.
        start: [
          ...(process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : []),
          join(PG_BIN_DIR, 'pg_ctl'),
          'start',
          '-D',
          paths.pgData,
          '-l',
          paths.logs.postgres,
          '-w',
          '-t',
          '30',
          '-s',
        ],
        readinessTimeoutSeconds: 30,
      },
      redis: {
        runtime: 'process',
        pidFile: paths.pidFiles.redis,
        logFile: paths.logs.redis,
        readiness: 'redis',
        start: [REDIS_SERVER, paths.redisConf],
        readinessTimeoutSeconds: 15,
      },
    },
    disk: { paths: [paths.dir] },
    log: { file: paths.maintenanceLog },
    metrics: { textfileDir: paths.metrics },
    lock: { dir: paths.lock },
  }
  const document = await keepJobsInside(paths, config, state.notes)
  const header = [
    `# probe-ops sandbox in ${paths.dir}, written by \`probe-ops sandbox up\` at ${new Date().toISOString()}.`,
    `# Every service runs on 127.0.0.1; passwords are in ${paths.secrets}.`,
    `# \`probe-ops sandbox down --dir ${shellQuote(paths.dir)}\` stops it all and removes this directory.`,
  ].join('\n')
  await writeFileAtomic(paths.config, `${header}\n${dump(document, { lineWidth: -1, noRefs: true })}`, 0o644)
}

/**
 * Settings whose defaults are the host's own paths (maintain daily's cleanup of
 * /var/log/network-probe and /tmp) are pointed inside the sandbox, where this build of probe-ops
 * has them; the result must validate, or the sandbox does not start.
 */
async function keepJobsInside(paths: Layout, config: ConfigFile, notes: string[]): Promise<Record<string, unknown>> {
  const { configSchema } = await import('../config/schema.js')
  const inside: Record<string, unknown> = {
    cleanup: {
      logs: [
        { path: paths.logDir, pattern: '*.log', olderThanDays: 30 },
        { path: paths.logDir, pattern: '*.log.*', olderThanDays: 7 },
      ],
      temp: [{ path: paths.tmp, pattern: 'network-probe-*', olderThanDays: 1 }],
    },
    // Backups, the WAL archive and reports stay in the sandbox too.
    backup: { dir: join(paths.dir, 'backups'), configPaths: [join(paths.dir, 'probe-ops.yaml'), paths.redisConf] },
    reports: { dir: join(paths.dir, 'reports') },
    // The sandbox runs no Prometheus: the performance report says so instead of knocking on :9090.
    prometheus: { url: '' },
  }
  const known = configSchema.shape as Record<string, unknown>
  const extended = { ...config, ...Object.fromEntries(Object.entries(inside).filter(([key]) => key in known)) }
  if (configSchema.safeParse(extended).success) return extended
  const plain = configSchema.safeParse(config)
  if (!plain.success) {
    const issue = plain.error.issues[0]!
    throw new SandboxError(`the sandbox's probe-ops.yaml does not validate: ${issue.path.join('.')}: ${issue.message}`, 'this is a bug in `probe-ops sandbox`')
  }
  notes.push("maintain daily would clean the host's own log and temp directories: set cleanup in probe-ops.yaml before running it")
  return { ...config }
}

/** Aged files for maintain daily's cleanup to find: rotated and stale logs, old temp files, and some to keep. */
async function seedOldFiles(paths: Layout): Promise<void> {
  const day = 86_400_000
  const files: Array<[string, number]> = [
    [join(paths.logDir, 'management.log.1'), 2 * day],
    [join(paths.logDir, 'management.log.2'), 9 * day],
    [join(paths.logDir, 'management.log.3'), 16 * day],
    [join(paths.logDir, 'agents', 'agent-001.log'), 45 * day],
    [join(paths.logDir, 'agents', 'agent-002.log'), 5 * day],
    [join(paths.tmp, 'network-probe-export-1.csv'), 3 * day],
    [join(paths.tmp, 'network-probe-upload-2.part'), 3_600_000],
    [join(paths.tmp, 'unrelated.txt'), 3 * day],
  ]
  for (const [file, age] of files) {
    await makeDirectories(dirname(file))
    await writeFile(file, `sandbox sample file, ${Math.round(age / day)} days old\n`, { mode: 0o644 })
    const at = new Date(Date.now() - age)
    await utimes(file, at, at)
  }
}

/** A path as a shell word, quoted only when it needs to be. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}

/** How a command ends on a failure it expects: bad usage exits 2, a sandbox that will not start 1. */
