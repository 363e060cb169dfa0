/**
 * Benchmark of issue 5: `probe-ops recover` against the guide's service-recovery.sh.
 *
 *   node --import tsx bench/recover.ts [--runs N] [--warmup N] [--build] [--out FILE] [--raw FILE]
 *
 * Run as root (the platform runs under a private dockerd, built with the integration test bed's
 * helpers, test/bed/docker.ts). The platform: containers `postgres` (PostgreSQL 15, its data dir
 * a host dir mounted at /data), `redis` (with a password) and `management` (a sleeper standing
 * in for the application), a management API health endpoint served by this process on a free
 * 127.0.0.1 port (200 only while PostgreSQL answers SELECT 1, 503 otherwise, like the
 * integration test's), and AlertManager (recover sets and lifts silences).
 *
 * Two figures, each with the two contenders run in turn (A B, B A, A B, …: the order alternates
 * every round), after `--warmup` unrecorded but verified runs of each:
 *   1. `postgres` stopped: `probe-ops recover postgres` vs `bench/guide/service-recovery.sh
 *      postgres` (the guide's `docker-compose restart postgres` and pg_isready loop);
 *   2. `postgres` stopped, `management` running: `probe-ops recover management` vs the guide's
 *      management branch (its database check fails: restart postgres, sleep 30, restart
 *      management).
 * For every run, three times, all from the moment the contender is spawned: when it returned
 * (its process exited), when the service was ACTUALLY ready (an independent poller in this
 * process, started with the contender: a fresh connection + SELECT 1 to PostgreSQL every 50 ms
 * for figure 1, GET of the management health URL every 50 ms for figure 2; the time its first
 * success came back), and their difference (returned − actually ready).
 * Every run is verified and a failed verification aborts the benchmark: exit 0; probe-ops' JSON
 * report says what it did (started postgres, ready; management's dependencies first); the
 * script's log says PostgreSQL is ready / the database check failed and recovery completed; and
 * afterwards SELECT 1 answers, the containers run, the health URL answers 200.
 *
 * Prints progress on stderr and a markdown section on stdout (and into --out FILE); writes
 * nothing else into the repository. Tears everything down at the end, on failure and on
 * SIGINT/SIGTERM too, and checks in /proc that nothing it started is left.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { stringify } from 'yaml'
import type { Report, StepResult } from '../src/report/model.js'
import { startAlertmanager } from '../test/bed/alertmanager.js'
import {
  DOCKER_CLI,
  dockerCli,
  runCommandContainer,
  runPostgresContainer,
  runSleeperContainer,
  startDockerEngine,
  type DockerEngineInfo,
} from '../test/bed/docker.js'
import { freePort } from '../test/bed/ports.js'
import { PG_BIN_DIR, randomPassword } from '../test/bed/postgres.js'
import { pidsWithCmdline, processTree, waitUntil } from '../test/bed/process.js'
import { redisPing } from '../test/bed/redis.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv, runningChildren, stopAllRuns, tail, timed, type TimedResult } from './lib/proc.js'
import { snapshotCli } from './lib/snapshot.js'
import { ms, ratio, summarize, type Summary } from './lib/stats.js'
import { Teardown } from './lib/teardown.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SCRIPT = path.join(ROOT, 'bench/guide/service-recovery.sh')
/** Issue 5's target: recover returns within this long of the moment the service is ready. */
const TARGET_LAG_MS = 2000
/** The independent readiness poller's period. */
const POLL_MS = 50
/** How long after a contender returned the poller may still take to see the service ready. */
const READY_GRACE_MS = 15_000

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`)
}

interface Args {
  runs: number
  warmup: number
  build: boolean
  out?: string
  raw?: string
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      build: { type: 'boolean', default: false },
      out: { type: 'string' },
      raw: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(
      'usage: node --import tsx bench/recover.ts [--runs N] [--warmup N] [--build] [--out FILE] [--raw FILE]\n' +
        '  --runs N     timed runs of each contender per figure (default 5)\n' +
        '  --warmup N   unrecorded (but verified) runs of each contender first (default 1; 0 for none)\n' +
        '  --build      build src/ as it is now into the private copy (default: copy dist/ as `npm run build` left it)\n' +
        '  --out FILE   also write the markdown section to FILE\n' +
        '  --raw FILE   also write every timing as JSON to FILE\n',
    )
    process.exit(0)
  }
  const count = (name: string, value: string | undefined, min: number): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, not "${value}"`)
    return n
  }
  return { runs: count('runs', values.runs, 1), warmup: count('warmup', values.warmup, 0), build: values.build ?? false, out: values.out, raw: values.raw }
}

// ---------------------------------------------------------------------------------------------
// The platform

interface Platform {
  dir: string
  cwd: string
  docker: DockerEngineInfo
  pg: { host: string; port: number; password: string; dataDir: string }
  redis: { port: number; password: string; url: string }
  healthUrl: string
  /** Requests the health endpoint answered, by status. */
  healthAnswers: Map<number, number>
  alertmanagerUrl: string
  configPath: string
  pids: number[]
  needles: string[]
}

function pgConfig(p: Platform['pg'], timeoutMs: number): pg.ClientConfig {
  return {
    host: p.host,
    port: p.port,
    user: 'postgres',
    password: p.password,
    database: 'postgres',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  }
}

/** A fresh connection and SELECT 1; true when it answered 1. Never throws. */
async function selectOne(p: Platform['pg'], timeoutMs = 1000): Promise<boolean> {
  const client = new pg.Client(pgConfig(p, timeoutMs))
  client.on('error', () => undefined)
  try {
    await client.connect()
    const r = await client.query<{ one: number }>('select 1 as one')
    return r.rows[0]?.one === 1
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

async function getStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await res.arrayBuffer()
    return res.status
  } catch {
    return undefined
  }
}

async function startPlatform(teardown: Teardown): Promise<Platform> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'po-bench-recover-'))
  teardown.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }))
  const cwd = path.join(dir, 'cwd')
  await mkdir(cwd)
  await mkdir(path.join(dir, 'guide-logs'))

  log('starting a private Docker engine')
  const engine = await startDockerEngine()
  teardown.add('docker engine (and every container in it)', () => engine.stop())
  const docker = engine.info
  const pids = [docker.pid]
  const needles = [`${docker.dir}/`, `${docker.scratchDir}/`, `${dir}/`]

  // The guide names its containers postgres, redis, management: so do we (a private engine).
  log('starting PostgreSQL 15 in container `postgres`')
  const pgPort = await freePort()
  const pgPassword = randomPassword()
  const pgc = await runPostgresContainer(docker, { name: 'postgres', port: pgPort, password: pgPassword })
  teardown.add('container postgres', () => pgc.remove())

  log('starting Redis in container `redis`')
  const redisPort = await freePort()
  const redisPassword = randomPassword()
  await runCommandContainer(docker, {
    name: 'redis',
    cmd: ['/usr/bin/redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', redisPassword],
  })
  await waitUntil(`redis on 127.0.0.1:${redisPort}`, () => redisPing('127.0.0.1', redisPort, redisPassword), { timeoutMs: 30_000, intervalMs: 100 })

  log('starting container `management`')
  await runSleeperContainer(docker, { name: 'management', logLines: ['INFO management API started on :8000'] })

  // The management API's health: 200 only while its database answers, 503 otherwise.
  const pgInfo = { host: '127.0.0.1', port: pgPort, password: pgPassword, dataDir: pgc.info.dataDir }
  const healthAnswers = new Map<number, number>()
  const server = http.createServer((req, res) => {
    if (req.url !== '/api/v1/health') {
      res.writeHead(404).end()
      return
    }
    void selectOne(pgInfo, 1000).then((up) => {
      const status = up ? 200 : 503
      healthAnswers.set(status, (healthAnswers.get(status) ?? 0) + 1)
      res.writeHead(status, { 'content-type': 'application/json' }).end(up ? '{"status":"healthy"}' : '{"status":"unhealthy","database":"unreachable"}')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve())
  })
  teardown.add('management health http server', () => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('health server: no port')
  const healthUrl = `http://127.0.0.1:${address.port}/api/v1/health`

  log('starting AlertManager')
  const am = await startAlertmanager()
  teardown.add('alertmanager', () => am.stop())
  pids.push(am.info.pid)

  const configPath = path.join(dir, 'probe-ops.yaml')
  const config = {
    host: 'bench-recover',
    runtime: 'docker',
    docker: { host: docker.host },
    postgres: { host: '127.0.0.1', port: pgPort, user: 'postgres', database: 'network_probe' },
    alertmanager: { url: am.info.url },
    services: {
      web: { enabled: false },
      postgres: { container: 'postgres', dataDir: '/data' },
      redis: { container: 'redis' },
      management: { container: 'management', url: healthUrl },
    },
    log: { file: path.join(dir, 'maintenance.log') },
    lock: { dir: path.join(dir, 'lock') },
    metrics: { textfileDir: path.join(dir, 'metrics') },
  }
  await writeFile(configPath, `# probe-ops configuration of bench/recover.ts; PGPASSWORD and REDIS_URL come from the environment.\n${stringify(config)}`)

  return {
    dir,
    cwd,
    docker,
    pg: pgInfo,
    redis: { port: redisPort, password: redisPassword, url: `redis://:${redisPassword}@127.0.0.1:${redisPort}` },
    healthUrl,
    healthAnswers,
    alertmanagerUrl: am.info.url,
    configPath,
    pids,
    needles,
  }
}

async function containerState(p: Platform, name: string): Promise<string> {
  return (await dockerCli(p.docker, ['inspect', '-f', '{{.State.Status}}', name], { reject: false })).stdout.trim()
}

async function ensureRunning(p: Platform, name: string): Promise<void> {
  if ((await containerState(p, name)) !== 'running') await dockerCli(p.docker, ['start', name])
}

/** `docker stop postgres` (fast shutdown: its stop signal is SIGINT), and prove it is down. */
async function stopPostgres(p: Platform): Promise<void> {
  await dockerCli(p.docker, ['stop', 'postgres'])
  const state = await containerState(p, 'postgres')
  if (state !== 'exited') throw new Error(`postgres is ${state} after docker stop`)
  if (await selectOne(p.pg, 500)) throw new Error('postgres still answers SELECT 1 after docker stop')
}

// ---------------------------------------------------------------------------------------------
// The readiness poller

interface Poller {
  /** ms from t0 to the first success (when its answer came back), or undefined if stopped first. */
  readyAt: Promise<number | undefined>
  attempts(): number
  stop(): void
}

/** Every POLL_MS from now (an attempt starts at most every POLL_MS), until the first success. */
function startPoller(t0: number, probe: () => Promise<boolean>, global: AbortSignal): Poller {
  let stopped = false
  let attempts = 0
  const readyAt = (async (): Promise<number | undefined> => {
    while (!stopped && !global.aborted) {
      const started = performance.now()
      attempts++
      if (await probe()) return performance.now() - t0
      const wait = started + POLL_MS - performance.now()
      if (wait > 0) await sleep(wait)
    }
    return undefined
  })()
  return { readyAt, attempts: () => attempts, stop: () => void (stopped = true) }
}

// ---------------------------------------------------------------------------------------------
// Contenders

type Figure = 'postgres' | 'management'

interface RunResult {
  /** spawn → exit */
  returnedMs: number
  /** spawn → first success of the independent poller */
  readyMs: number
  /** returned − ready */
  lagMs: number
  /** Figure 2: spawn → first SELECT 1 (the poller of figure 1, run alongside). */
  pgReadyMs?: number
  /** probe-ops: the postgres step's own readyAfterMs; guide: pg_isready attempts. */
  note?: number
  /** probe-ops: when (ms from spawn, wall clock) the job started and ended and the postgres step's timeline events happened. */
  marks?: Record<string, number>
  pollAttempts: number
}

interface Contender {
  key: string
  label: string
  figure: Figure
  run(): Promise<RunResult>
}

class RunFailed extends Error {}

function fail(what: string, why: string, r: TimedResult): never {
  throw new RunFailed(
    `${what}: ${why} (exit ${r.exitCode}${r.signal ? `, ${r.signal}` : ''}${r.timedOut ? ', timed out' : ''}, ${ms(r.ms)})\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`,
  )
}

const abort = new AbortController()

/** Sets the figure's starting state, spawns the contender with the pollers, times both, verifies. */
async function measured(
  p: Platform,
  figure: Figure,
  label: string,
  spawn: () => Promise<TimedResult>,
  verify: (r: TimedResult, wallT0: number) => Promise<{ note?: number; marks?: Record<string, number> }>,
): Promise<RunResult> {
  // Starting state: postgres stopped (and, for figure 2, management and redis running).
  await ensureRunning(p, 'redis')
  await ensureRunning(p, 'management')
  await stopPostgres(p)
  if (figure === 'management') {
    const status = await getStatus(p.healthUrl, 3000)
    if (status !== 503) throw new Error(`management health answers ${status} with postgres stopped, expected 503`)
  }
  await sleep(300)

  const t0 = performance.now()
  const wallT0 = Date.now()
  const child = spawn()
  const pgPoller = startPoller(t0, () => selectOne(p.pg, 1000), abort.signal)
  const healthPoller = figure === 'management' ? startPoller(t0, async () => (await getStatus(p.healthUrl, 1000)) === 200, abort.signal) : undefined
  let r: TimedResult
  try {
    r = await child
  } catch (err) {
    pgPoller.stop()
    healthPoller?.stop()
    throw err
  }
  const returnedAt = r.ms
  const ready = healthPoller ?? pgPoller
  const readyMs = await Promise.race([ready.readyAt, sleep(READY_GRACE_MS).then(() => undefined)])
  const pgReadyMs = await Promise.race([pgPoller.readyAt, sleep(1000).then(() => undefined)])
  pgPoller.stop()
  healthPoller?.stop()
  if (readyMs === undefined)
    fail(
      label,
      `${figure === 'management' ? 'the management health URL never answered 200' : 'postgres never answered SELECT 1'} within ${ms(READY_GRACE_MS)} of the return`,
      r,
    )
  const { note, marks } = await verify(r, wallT0)
  // Really recovered: afterwards PostgreSQL answers, the containers run, the health URL is 200.
  if (!(await selectOne(p.pg, 3000))) fail(label, 'postgres does not answer SELECT 1 after the run', r)
  for (const name of ['postgres', 'redis', 'management']) {
    const state = await containerState(p, name)
    if (state !== 'running') fail(label, `container ${name} is ${state} after the run`, r)
  }
  if (figure === 'management' && (await getStatus(p.healthUrl, 3000)) !== 200) fail(label, 'the management health URL does not answer 200 after the run', r)
  return {
    returnedMs: returnedAt,
    readyMs,
    lagMs: returnedAt - readyMs,
    ...(figure === 'management' && pgReadyMs !== undefined ? { pgReadyMs } : {}),
    ...(note !== undefined ? { note } : {}),
    ...(marks !== undefined ? { marks } : {}),
    pollAttempts: ready.attempts(),
  }
}

function step(report: Report, id: string): StepResult | undefined {
  return report.steps.find((s) => s.id === id)
}

function probeOps(p: Platform, bin: string, figure: Figure): Contender {
  const label = `probe-ops recover ${figure}`
  const env = cleanEnv({ PGPASSWORD: p.pg.password, REDIS_URL: p.redis.url })
  return {
    key: `probe-ops-${figure}`,
    label,
    figure,
    run: () =>
      measured(
        p,
        figure,
        label,
        () => timed(process.execPath, [bin, 'recover', figure, '--config', p.configPath, '--json'], { env, cwd: p.cwd, timeoutMs: 180_000 }),
        async (r, wallT0) => {
          if (r.exitCode !== 0) fail(label, `exit ${r.exitCode}, expected 0`, r)
          let report: Report
          try {
            report = JSON.parse(r.stdout) as Report
          } catch {
            fail(label, 'stdout is not a JSON report', r)
          }
          const ids = report.steps.map((s) => s.id).join(',')
          const want = figure === 'postgres' ? 'postgres' : 'postgres,redis,management'
          if (ids !== want) fail(label, `steps ${ids}, expected ${want}`, r)
          const pgStep = step(report, 'postgres')!
          if (pgStep.status !== 'ok' || !/^started; ready after/.test(pgStep.summary)) fail(label, `postgres step: ${pgStep.status}, "${pgStep.summary}"`, r)
          const events = ((pgStep.data?.timeline ?? []) as Array<{ event: string }>).map((e) => e.event)
          if (!events.includes('start') || !events.includes('ready')) fail(label, `postgres timeline ${events.join(',')}`, r)
          if (figure === 'management') {
            for (const id of ['redis', 'management']) {
              const s = step(report, id)!
              if (s.status !== 'ok') fail(label, `${id} step: ${s.status}, "${s.summary}"`, r)
            }
          }
          const readyAfter = pgStep.data?.readyAfterMs
          // Wall-clock marks (ms resolution) relative to the spawn: where the time goes.
          const marks: Record<string, number> = { 'job started': Date.parse(report.startedAt) - wallT0 }
          for (const e of (pgStep.data?.timeline ?? []) as Array<{ at: string; event: string }>) {
            const key = `postgres ${e.event}`
            if (!(key in marks)) marks[key] = Date.parse(e.at) - wallT0
          }
          marks['job finished'] = Date.parse(report.finishedAt) - wallT0
          return { ...(typeof readyAfter === 'number' ? { note: readyAfter } : {}), marks }
        },
      ),
  }
}

let guideRun = 0

function guide(p: Platform, figure: Figure): Contender {
  const label = `bash bench/guide/service-recovery.sh ${figure}`
  return {
    key: `guide-${figure}`,
    label,
    figure,
    run: () => {
      const logFile = path.join(p.dir, 'guide-logs', `${figure}-${++guideRun}.log`)
      const env = cleanEnv({
        DOCKER_CLI,
        DOCKER_HOST: p.docker.host,
        PGPORT: String(p.pg.port),
        PGPASSWORD: p.pg.password,
        PG_DATA_DIR: p.pg.dataDir,
        PG_BIN: PG_BIN_DIR,
        RECOVERY_LOG: logFile,
      })
      return measured(
        p,
        figure,
        label,
        () => timed('/bin/bash', [SCRIPT, figure], { env, cwd: p.cwd, timeoutMs: 180_000 }),
        async (r) => {
          if (r.exitCode !== 0) fail(label, `exit ${r.exitCode}, expected 0`, r)
          const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
          const expected =
            figure === 'postgres'
              ? [/PostgreSQL is ready/, /Recovery completed for service: postgres/]
              : [/Database connection failed, restarting postgres/, /Recovery completed for service: management/]
          for (const re of expected) if (!re.test(text)) fail(label, `its log lacks ${re}:\n${text}`, r)
          if (/ERROR/.test(text)) fail(label, `its log has an ERROR:\n${text}`, r)
          if (figure === 'postgres') {
            if (!/accepting connections/.test(r.stdout)) fail(label, 'pg_isready never said "accepting connections"', r)
            // pg_isready attempts: one line each ("accepting connections", "no response", "rejecting connections").
            return { note: r.stdout.split('\n').filter((l) => /:\d+ - /.test(l)).length }
          }
          if (!/^postgres$/m.test(r.stdout) || !/^management$/m.test(r.stdout)) fail(label, 'docker restart did not name postgres and management', r)
          return {}
        },
      )
    },
  }
}

/** Warm-up, then `runs` rounds of both contenders, their order alternating every round. */
async function interleave(name: string, pair: [Contender, Contender], runs: number, warmup: number): Promise<Map<string, RunResult[]>> {
  const results = new Map<string, RunResult[]>(pair.map((c) => [c.key, []]))
  for (let i = 1; i <= warmup; i++) {
    for (const c of pair) {
      log(`${name}: warm-up ${i}/${warmup}: ${c.label}`)
      await c.run()
    }
  }
  for (let i = 1; i <= runs; i++) {
    const order = i % 2 === 1 ? pair : ([pair[1], pair[0]] as const)
    const line: string[] = []
    for (const c of order) {
      const r = await c.run()
      results.get(c.key)!.push(r)
      line.push(`${c.key}: returned ${ms(r.returnedMs)}, ready ${ms(r.readyMs)}, lag ${ms(r.lagMs)}`)
    }
    log(`${name}: round ${i}/${runs}: ${line.join('; ')}`)
  }
  return results
}

// ---------------------------------------------------------------------------------------------
// Machine facts, leftovers

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return '?'
  }
}

function machine(): string {
  const cpus = os.cpus()
  const debian = existsSync('/etc/debian_version') ? ` (Debian ${readFileSync('/etc/debian_version', 'utf8').trim()})` : ''
  return `nproc ${os.availableParallelism()}, ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM; Linux ${os.release()}${debian}, Node ${process.version}`
}

function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
}

function leftovers(pids: number[], needles: string[]): string[] {
  const found = new Set<string>()
  const describe = (pid: number): string => {
    try {
      return `pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`
    } catch {
      return `pid ${pid}`
    }
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) found.add(describe(pid))
    } catch {
      /* gone */
    }
  }
  for (const needle of needles) for (const pid of pidsWithCmdline(needle)) found.add(describe(pid))
  return [...found]
}

// ---------------------------------------------------------------------------------------------
// Rendering

const HEAD = ['contender', 'measure (from spawn)', 'runs', 'median', 'min', 'max']
const ALIGN = ['l', 'l', 'r', 'r', 'r', 'r'] as const

function rows(label: string, results: RunResult[], readyWhat: string): string[][] {
  const line = (measure: string, s: Summary): string[] => [label, measure, String(s.runs), ms(s.median), ms(s.min), ms(s.max)]
  return [
    line('returned (process exit)', summarize(results.map((r) => r.returnedMs))),
    line(`actually ready (${readyWhat})`, summarize(results.map((r) => r.readyMs))),
    line('**returned − actually ready**', summarize(results.map((r) => r.lagMs))),
  ]
}

/** probe-ops' marks (and the poller's "actually ready", and the exit), medians in time order. */
function breakdown(results: RunResult[], readyWhat: string): string {
  const series = new Map<string, number[]>()
  const add = (key: string, v: number): void => void series.set(key, [...(series.get(key) ?? []), v])
  for (const r of results) {
    for (const [k, v] of Object.entries(r.marks ?? {})) add(`\`${k}\` (report)`, v)
    add(`**actually ready** (bench poller: ${readyWhat})`, r.readyMs)
    add('**returned** (process exit)', r.returnedMs)
  }
  const lines = [...series].map(([k, v]) => ({ k, s: summarize(v) })).sort((a, b) => a.s.median - b.s.median)
  return table(
    ['moment (ms from spawn)', 'runs', 'median', 'min', 'max'],
    lines.map(({ k, s }) => [k, String(s.runs), ms(s.median), ms(s.min), ms(s.max)]),
    ['l', 'r', 'r', 'r', 'r'],
  )
}

function met(ok: boolean): string {
  return ok ? '**met**' : '**NOT MET**'
}

// ---------------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (process.getuid?.() !== 0) throw new Error('run this as root: the platform runs under a private dockerd')
  const commandLine = `node --import tsx bench/recover.ts ${argv.join(' ')}`.trim()

  const teardown = new Teardown(log)
  const pids: number[] = []
  const needles: string[] = []
  const reportLeftovers = (): string[] => {
    const left = leftovers(pids, needles)
    for (const l of left) log(`LEFT RUNNING: ${l}`)
    if (left.length === 0) log('teardown: nothing left running')
    return left
  }
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    log(`${signal}: stopping the runs and tearing everything down`)
    abort.abort()
    // The script's own children (its `sleep 30`, a docker CLI) would outlive a SIGKILLed bash.
    const tree = [...runningChildren].flatMap((c) => (c.pid ? processTree(c.pid) : []))
    for (const pid of tree.reverse()) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    stopAllRuns(`interrupted by ${signal}`)
    void teardown.run().then((problems) => {
      for (const p of problems) log(`teardown problem: ${p}`)
      reportLeftovers()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const started = new Date()
  const loadStart = loadavg()
  const out: string[] = []
  const raw: Record<string, unknown> = { command: commandLine, date: started.toISOString() }

  try {
    const cli = await snapshotCli(ROOT, { build: args.build, log })
    teardown.add(`remove ${cli.root}`, () => cli.remove())
    const staleRecover = cli.stale.filter((f) =>
      /^src\/(jobs\/recover|commands\/recover|systems\/(readiness|services|docker|alertmanager|alert-sync|postgres|redis|http)|report|config|cli)\b/.test(f),
    )
    if (cli.stale.length > 0)
      log(
        `WARNING: dist/ is older than ${cli.stale.length} file(s) of src/ (${cli.stale.slice(0, 6).join(', ')}${cli.stale.length > 6 ? ', …' : ''}); pass --build to measure src/ as it is now`,
      )
    const platform = await startPlatform(teardown)
    pids.push(...platform.pids)
    needles.push(...platform.needles)
    const env = cleanEnv()
    const serverVersion = (await dockerCli(platform.docker, ['version', '--format', '{{.Server.Version}}'])).stdout.trim()
    const clientVersion = sh(DOCKER_CLI, ['--version'])
    const versionText = (await timed(process.execPath, [cli.bin, '--version'], { env, cwd: platform.cwd })).stdout.trim()

    // The guide's readiness probe must work in this bed before it is timed.
    const probe = await dockerCli(
      platform.docker,
      ['exec', 'postgres', path.join(PG_BIN_DIR, 'pg_isready'), '-h', '127.0.0.1', '-p', String(platform.pg.port), '-U', 'postgres'],
      { reject: false },
    )
    if (probe.exitCode !== 0 || !/accepting connections/.test(probe.stdout))
      throw new Error(`docker exec postgres pg_isready does not work here: exit ${probe.exitCode}: ${probe.stdout} ${probe.stderr}`)

    const f1 = await interleave('figure 1 (postgres)', [guide(platform, 'postgres'), probeOps(platform, cli.bin, 'postgres')], args.runs, args.warmup)
    const f2 = await interleave('figure 2 (management)', [guide(platform, 'management'), probeOps(platform, cli.bin, 'management')], args.runs, args.warmup)
    raw.postgres = Object.fromEntries(f1)
    raw.management = Object.fromEntries(f2)
    raw.healthAnswers = Object.fromEntries(platform.healthAnswers)

    // ------------------------------------------------------------------ the markdown section
    const g1 = f1.get('guide-postgres')!
    const p1 = f1.get('probe-ops-postgres')!
    const g2 = f2.get('guide-management')!
    const p2 = f2.get('probe-ops-management')!
    const med = (rs: RunResult[], k: 'returnedMs' | 'readyMs' | 'lagMs'): number => summarize(rs.map((r) => r[k])).median
    const maxLag = (rs: RunResult[]): number => Math.max(...rs.map((r) => r.lagMs))
    const within = (rs: RunResult[]): number => rs.filter((r) => r.lagMs <= TARGET_LAG_MS).length
    const gitHead = sh('git', ['rev-parse', '--short', 'HEAD'])
    const dirty = sh('git', ['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length
    const isready = summarize(g1.map((r) => r.note ?? 0))
    const ownReady = p1.filter((r) => r.note !== undefined).map((r) => r.note!)
    const loadEnd = loadavg()

    out.push(
      '## Issue 5: recover',
      '',
      `- Command: ${code(commandLine)} (as root, from the repository root${args.build ? '' : ', after `npm run build`'})`,
      `- Date: ${started.toISOString()}`,
      `- Machine: ${machine()}; load average ${loadStart} at the start, ${loadEnd} at the end (shared, noisy machine: compare medians and ratios of the same run)`,
      `- probe-ops: ${versionText}, run as \`node bin/run.js recover SERVICE --config FILE --json\` from ${cli.origin} (source: commit ${gitHead}${dirty > 0 ? ` plus ${dirty} uncommitted change(s) under src/` : ''}${cli.stale.length > 0 ? `; dist/ was older than ${cli.stale.length} file(s) of src/${staleRecover.length > 0 ? `, **among them ${staleRecover.join(', ')}**, which recover uses` : `, none of them used by recover (${cli.stale.join(', ')})`}` : ''})`,
      `- Platform: a private dockerd ${serverVersion} (test bed, test/bed/docker.ts; client ${clientVersion.replace(/^Docker version /, '')}) with containers \`postgres\` (PostgreSQL 15, data dir a host dir mounted at /data, stop signal SIGINT), \`redis\` (password) and \`management\` (a sleeper); the management API health URL served by the bench on 127.0.0.1, answering 200 only while PostgreSQL answers SELECT 1 on a fresh connection (503 otherwise); AlertManager (recover sets and lifts its silences). Everything on 127.0.0.1.`,
      "- Contenders: `probe-ops recover postgres|management` (config: containers by name, postgres `dataDir: /data`, management `url:` the health URL, default readiness timeouts) and the guide's `service-recovery.sh`, reproduced in bench/guide/service-recovery.sh (changed only where it cannot run here, each change marked `BENCH CHANGE`: `docker restart` for `docker-compose restart`, the pinned Debian docker client, the bench's port, paths and log file, and psql inside the management container for the application's Python `test_connection()`).",
      `- Method: before every run \`docker stop postgres\` (verified: exited, SELECT 1 refused; for figure 2 also \`management\` and \`redis\` running and the health URL at 503). At spawn, an independent poller in the bench starts: every ${POLL_MS} ms a fresh connection + \`SELECT 1\` (figure 1) or a GET of the health URL (figure 2); "actually ready" is when its first success came back. "Returned" is the contender's process exit. ${args.warmup} verified warm-up run(s) of each, then ${args.runs} rounds of the two contenders, their order alternating every round. Every run is verified or the benchmark aborts: exit 0; the report (probe-ops: postgres \`started; ready after …\`, timeline start/ready; for management the steps postgres, redis, management all ok) or the script's log (\`PostgreSQL is ready\` / \`Database connection failed, restarting postgres\`, \`Recovery completed\`, no ERROR); and afterwards SELECT 1 answers, the three containers run, the health URL answers 200.`,
      '',
      `A negative "returned − actually ready" means the contender returned before the bench's poller saw its first answer: the poller's resolution is its ${POLL_MS} ms period plus one connection (a full password login and SELECT 1), while the guide's pg_isready only asks whether the server accepts connections.`,
      '',
      '### 1. `postgres` stopped: back to answering queries',
      '',
      table(HEAD, [...rows('guide: `service-recovery.sh postgres`', g1, 'SELECT 1'), ...rows('`probe-ops recover postgres`', p1, 'SELECT 1')], ALIGN),
      '',
      `Ratio of the medians of "returned", guide / probe-ops: ${ratio(med(g1, 'returnedMs'), med(p1, 'returnedMs'))}. The guide's postgres branch is \`docker-compose restart postgres\` then up to 60 × (\`docker exec postgres pg_isready\`, \`sleep 1\`): it has **no** \`sleep 30\` (only the management branch does); it ran pg_isready ${isready.median} times (median; ${isready.min}–${isready.max}). probe-ops' own "ready after" (report, from its start call): median ${ownReady.length ? ms(summarize(ownReady).median) : '–'}.`,
      '',
      "Where `probe-ops recover postgres` spends its time (wall-clock times of the report's `startedAt`/`finishedAt` and of the postgres step's timeline, ms resolution, against the bench's clock at spawn; medians over the timed runs):",
      '',
      breakdown(p1, 'SELECT 1'),
      '',
      '### 2. `recover management` with `postgres` stopped: back to a healthy management API',
      '',
      table(HEAD, [...rows('guide: `service-recovery.sh management`', g2, 'health 200'), ...rows('`probe-ops recover management`', p2, 'health 200')], ALIGN),
      '',
      `Ratio of the medians of "returned", guide / probe-ops: ${ratio(med(g2, 'returnedMs'), med(p2, 'returnedMs'))}. The guide's management branch: its database check (psql in the management container) fails, then \`docker-compose restart postgres\`, a fixed \`sleep 30\`, \`docker-compose restart management\`, and no readiness check at all. probe-ops recovers postgres first (start, wait for SELECT 1), finds redis ready, then finds management's health URL answering 200 and leaves it alone (its dependencies came back; the guide restarts it regardless).`,
      '',
      'Where `probe-ops recover management` spends its time (as above; the timeline events are those of its postgres step):',
      '',
      breakdown(p2, 'health 200'),
      '',
      '### Verdicts',
      '',
      `- Target 1 (\`recover postgres\` returns within ${ms(TARGET_LAG_MS)} of PostgreSQL actually answering, no fixed sleeps): ${met(within(p1) === p1.length)}: returned − ready median ${ms(med(p1, 'lagMs'))}, max ${ms(maxLag(p1))} (${within(p1)} of ${p1.length} runs within ${ms(TARGET_LAG_MS)}); the guide's script ${ms(med(g1, 'lagMs'))} (max ${ms(maxLag(g1))}). Returned (median) ${ms(med(p1, 'returnedMs'))} after spawn against the script's ${ms(med(g1, 'returnedMs'))} (guide / probe-ops ${ratio(med(g1, 'returnedMs'), med(p1, 'returnedMs'))}${med(g1, 'returnedMs') < med(p1, 'returnedMs') ? ': the script is faster here, having no fixed sleep on this branch' : ''}).`,
      `- Target 2 (\`recover management\` with postgres down returns within ${ms(TARGET_LAG_MS)} of the management health URL answering 200): ${met(within(p2) === p2.length)}: returned − ready median ${ms(med(p2, 'lagMs'))}, max ${ms(maxLag(p2))} (${within(p2)} of ${p2.length} runs within ${ms(TARGET_LAG_MS)}); the guide's script ${ms(med(g2, 'lagMs'))} (its fixed \`sleep 30\`). Returned (median) ${ms(med(p2, 'returnedMs'))} after spawn against the script's ${ms(med(g2, 'returnedMs'))} (guide / probe-ops ${ratio(med(g2, 'returnedMs'), med(p2, 'returnedMs'))}).`,
      '',
    )
  } finally {
    const problems = await teardown.run()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    for (const p of problems) log(`teardown problem: ${p}`)
    const left = reportLeftovers()
    if (out.length > 0) {
      out.push(
        `Teardown: ${problems.length === 0 && left.length === 0 ? 'everything stopped and removed, nothing left running (checked in /proc).' : `PROBLEMS: ${[...problems, ...left].join('; ')}`}`,
        '',
      )
    }
  }
  const markdown = out.join('\n')
  process.stdout.write(`${markdown}\n`)
  if (args.out) writeFileSync(args.out, `${markdown}\n`)
  if (args.raw) writeFileSync(args.raw, `${JSON.stringify(raw, null, 2)}\n`)
  return 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (exitCode) => process.exit(exitCode),
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err))
      process.exit(1)
    },
  )
}
