/**
 * Benchmark of issue 5: `probe-ops recover` against the guide's service-recovery.sh.
 *
 *   npm run bench -- recover [--runs N] [--warmup N] [--build] [--out FILE] [--raw FILE]
 *
 * Run as root (the platform runs under a private dockerd, built with the integration test bed's
 * helpers by bench/lib/platform.ts). The platform: containers `postgres` (PostgreSQL 15, its data
 * dir a host dir mounted at /data), `redis` (with a password) and `management` (a sleeper standing
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
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { Report, StepResult } from '../src/report/model.js'
import { DOCKER_CLI, dockerCli } from '../test/bed/docker.js'
import { PG_BIN_DIR } from '../test/bed/postgres.js'
import { ROOT, integer, interleave, runIfMain, verdict, type Bench, type BenchDefinition, type Sample, type Variant } from './lib/harness.js'
import { table } from './lib/markdown.js'
import { answersSelectOne, startPlatform, writeConfig, type BenchPlatform } from './lib/platform.js'
import { cleanEnv, fail, timed, type TimedResult } from './lib/proc.js'
import { ms, ratio, summarize, type Summary } from './lib/stats.js'

const SCRIPT = path.join(ROOT, 'bench/guide/service-recovery.sh')
/** Issue 5's target: recover returns within this long of the moment the service is ready. */
const TARGET_LAG_MS = 2000
/** The independent readiness poller's period. */
const POLL_MS = 50
/** How long after a contender returned the poller may still take to see the service ready. */
const READY_GRACE_MS = 15_000

interface Args {
  runs: number
  warmup: number
}

/** What the contenders need: the platform, its config, and the bench (for the CLI and the interrupt). */
interface Context {
  bench: Bench
  platform: BenchPlatform
  configPath: string
}

/** PostgreSQL's superuser on the platform, for a fresh connection of the bench's own. */
function superuser(p: BenchPlatform): pg.ClientConfig {
  return { host: p.postgres.host, port: p.postgres.port, user: 'postgres', password: p.postgres.password, database: 'postgres' }
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

async function containerState(p: BenchPlatform, name: string): Promise<string> {
  return (await dockerCli(p.docker, ['inspect', '-f', '{{.State.Status}}', name], { reject: false })).stdout.trim()
}

async function ensureRunning(p: BenchPlatform, name: string): Promise<void> {
  if ((await containerState(p, name)) !== 'running') await dockerCli(p.docker, ['start', name])
}

/** `docker stop postgres` (fast shutdown: its stop signal is SIGINT), and prove it is down. */
async function stopPostgres(p: BenchPlatform): Promise<void> {
  await dockerCli(p.docker, ['stop', 'postgres'])
  const state = await containerState(p, 'postgres')
  if (state !== 'exited') throw new Error(`postgres is ${state} after docker stop`)
  if (await answersSelectOne(superuser(p), 500)) throw new Error('postgres still answers SELECT 1 after docker stop')
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

type Figure = 'postgres' | 'management'

interface RunResult extends Sample {
  /** spawn → exit: when it returned */
  ms: number
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

/** Sets the figure's starting state, spawns the contender with the pollers, times both, verifies. */
async function measured(
  c: Context,
  figure: Figure,
  label: string,
  spawn: () => Promise<TimedResult>,
  verify: (r: TimedResult, wallT0: number) => Promise<{ note?: number; marks?: Record<string, number> }>,
): Promise<RunResult> {
  const p = c.platform
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
  const pgPoller = startPoller(t0, () => answersSelectOne(superuser(p), 1000), c.bench.signal)
  const healthPoller = figure === 'management' ? startPoller(t0, async () => (await getStatus(p.healthUrl, 1000)) === 200, c.bench.signal) : undefined
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
  if (!(await answersSelectOne(superuser(p), 3000))) fail(label, 'postgres does not answer SELECT 1 after the run', r)
  for (const name of ['postgres', 'redis', 'management']) {
    const state = await containerState(p, name)
    if (state !== 'running') fail(label, `container ${name} is ${state} after the run`, r)
  }
  if (figure === 'management' && (await getStatus(p.healthUrl, 3000)) !== 200) fail(label, 'the management health URL does not answer 200 after the run', r)
  return {
    ms: returnedAt,
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

function probeOps(c: Context, figure: Figure): Variant<RunResult> {
  const label = `probe-ops recover ${figure}`
  const env = cleanEnv({ PGPASSWORD: c.platform.postgres.password, REDIS_URL: c.platform.redis.url })
  const args = [c.bench.cli.bin, 'recover', figure, '--config', c.configPath, '--json']
  return {
    key: `probe-ops-${figure}`,
    label,
    run: () =>
      measured(
        c,
        figure,
        label,
        () => timed(process.execPath, args, { env, cwd: c.platform.cwd, timeoutMs: 180_000 }),
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

function guide(c: Context, figure: Figure): Variant<RunResult> {
  const label = `bash bench/guide/service-recovery.sh ${figure}`
  const p = c.platform
  return {
    key: `guide-${figure}`,
    label,
    run: () => {
      const logFile = path.join(p.dir, 'guide-logs', `${figure}-${++guideRun}.log`)
      const env = cleanEnv({
        DOCKER_CLI,
        DOCKER_HOST: p.docker.host,
        PGPORT: String(p.postgres.port),
        PGPASSWORD: p.postgres.password,
        PG_DATA_DIR: p.postgres.dataDir,
        PG_BIN: PG_BIN_DIR,
        RECOVERY_LOG: logFile,
      })
      return measured(
        c,
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

// ---------------------------------------------------------------------------------------------
// Rendering

const HEAD = ['contender', 'measure (from spawn)', 'runs', 'median', 'min', 'max']
const ALIGN = ['l', 'l', 'r', 'r', 'r', 'r'] as const

function rows(label: string, results: RunResult[], readyWhat: string): string[][] {
  const line = (measure: string, s: Summary): string[] => [label, measure, String(s.runs), ms(s.median), ms(s.min), ms(s.max)]
  return [
    line('returned (process exit)', summarize(results.map((r) => r.ms))),
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
    add('**returned** (process exit)', r.ms)
  }
  const lines = [...series].map(([k, v]) => ({ k, s: summarize(v) })).sort((a, b) => a.s.median - b.s.median)
  return table(
    ['moment (ms from spawn)', 'runs', 'median', 'min', 'max'],
    lines.map(({ k, s }) => [k, String(s.runs), ms(s.median), ms(s.min), ms(s.max)]),
    ['l', 'r', 'r', 'r', 'r'],
  )
}

const medianOfRuns = (rs: RunResult[], k: 'ms' | 'readyMs' | 'lagMs'): number => summarize(rs.map((r) => r[k])).median
const maxLag = (rs: RunResult[]): number => Math.max(...rs.map((r) => r.lagMs))
const within = (rs: RunResult[]): number => rs.filter((r) => r.lagMs <= TARGET_LAG_MS).length

/** A figure: warm-ups, then rounds of the guide and probe-ops, their order alternating. */
async function measureFigure(c: Context, args: Args, figure: Figure): Promise<{ guide: RunResult[]; probe: RunResult[] }> {
  const results = await interleave(c.bench, `figure ${figure}`, [guide(c, figure), probeOps(c, figure)], args.runs, {
    warmup: args.warmup,
    order: 'alternate',
    describe: (r) => `returned ${ms(r.ms)}, ready ${ms(r.readyMs)}, lag ${ms(r.lagMs)}`,
  })
  c.bench.raw[figure] = Object.fromEntries(results)
  return { guide: results.get(`guide-${figure}`)!, probe: results.get(`probe-ops-${figure}`)! }
}

async function postgresSection(c: Context, args: Args): Promise<string> {
  const { guide: g1, probe: p1 } = await measureFigure(c, args, 'postgres')
  const isready = summarize(g1.map((r) => r.note ?? 0))
  const ownReady = p1.filter((r) => r.note !== undefined).map((r) => r.note!)
  c.bench.out.push(
    '### 1. `postgres` stopped: back to answering queries',
    '',
    table(HEAD, [...rows('guide: `service-recovery.sh postgres`', g1, 'SELECT 1'), ...rows('`probe-ops recover postgres`', p1, 'SELECT 1')], ALIGN),
    '',
    `Ratio of the medians of "returned", guide / probe-ops: ${ratio(medianOfRuns(g1, 'ms'), medianOfRuns(p1, 'ms'))}. The guide's postgres branch is \`docker-compose restart postgres\` then up to 60 × (\`docker exec postgres pg_isready\`, \`sleep 1\`): it has **no** \`sleep 30\` (only the management branch does); it ran pg_isready ${isready.median} times (median; ${isready.min}–${isready.max}). probe-ops' own "ready after" (report, from its start call): median ${ownReady.length ? ms(summarize(ownReady).median) : '–'}.`,
    '',
    "Where `probe-ops recover postgres` spends its time (wall-clock times of the report's `startedAt`/`finishedAt` and of the postgres step's timeline, ms resolution, against the bench's clock at spawn; medians over the timed runs):",
    '',
    breakdown(p1, 'SELECT 1'),
    '',
  )
  return verdict(
    `Target 1 (\`recover postgres\` returns within ${ms(TARGET_LAG_MS)} of PostgreSQL actually answering, no fixed sleeps)`,
    within(p1) === p1.length,
    `returned − ready median ${ms(medianOfRuns(p1, 'lagMs'))}, max ${ms(maxLag(p1))} (${within(p1)} of ${p1.length} runs within ${ms(TARGET_LAG_MS)}); the guide's script ${ms(medianOfRuns(g1, 'lagMs'))} (max ${ms(maxLag(g1))}). Returned (median) ${ms(medianOfRuns(p1, 'ms'))} after spawn against the script's ${ms(medianOfRuns(g1, 'ms'))} (guide / probe-ops ${ratio(medianOfRuns(g1, 'ms'), medianOfRuns(p1, 'ms'))}${medianOfRuns(g1, 'ms') < medianOfRuns(p1, 'ms') ? ': the script is faster here, having no fixed sleep on this branch' : ''}).`,
  )
}

async function managementSection(c: Context, args: Args): Promise<string> {
  const { guide: g2, probe: p2 } = await measureFigure(c, args, 'management')
  c.bench.out.push(
    '### 2. `recover management` with `postgres` stopped: back to a healthy management API',
    '',
    table(HEAD, [...rows('guide: `service-recovery.sh management`', g2, 'health 200'), ...rows('`probe-ops recover management`', p2, 'health 200')], ALIGN),
    '',
    `Ratio of the medians of "returned", guide / probe-ops: ${ratio(medianOfRuns(g2, 'ms'), medianOfRuns(p2, 'ms'))}. The guide's management branch: its database check (psql in the management container) fails, then \`docker-compose restart postgres\`, a fixed \`sleep 30\`, \`docker-compose restart management\`, and no readiness check at all. probe-ops recovers postgres first (start, wait for SELECT 1), finds redis ready, then finds management's health URL answering 200 and leaves it alone (its dependencies came back; the guide restarts it regardless).`,
    '',
    'Where `probe-ops recover management` spends its time (as above; the timeline events are those of its postgres step):',
    '',
    breakdown(p2, 'health 200'),
    '',
  )
  c.bench.raw.healthAnswers = Object.fromEntries(c.platform.healthAnswers)
  return verdict(
    `Target 2 (\`recover management\` with postgres down returns within ${ms(TARGET_LAG_MS)} of the management health URL answering 200)`,
    within(p2) === p2.length,
    `returned − ready median ${ms(medianOfRuns(p2, 'lagMs'))}, max ${ms(maxLag(p2))} (${within(p2)} of ${p2.length} runs within ${ms(TARGET_LAG_MS)}); the guide's script ${ms(medianOfRuns(g2, 'lagMs'))} (its fixed \`sleep 30\`). Returned (median) ${ms(medianOfRuns(p2, 'ms'))} after spawn against the script's ${ms(medianOfRuns(g2, 'ms'))} (guide / probe-ops ${ratio(medianOfRuns(g2, 'ms'), medianOfRuns(p2, 'ms'))}).`,
  )
}

// ---------------------------------------------------------------------------------------------

async function run(bench: Bench, args: Args): Promise<void> {
  const platform = await startPlatform(bench, { health: 'database', redisPassword: true })
  await mkdir(path.join(platform.dir, 'guide-logs'))
  const configPath = await writeConfig(
    path.join(platform.dir, 'probe-ops.yaml'),
    'probe-ops configuration of bench/recover.ts; PGPASSWORD and REDIS_URL come from the environment.',
    {
      host: 'bench-recover',
      runtime: 'docker',
      docker: { host: platform.docker.host },
      postgres: { host: platform.postgres.host, port: platform.postgres.port, user: 'postgres', database: 'network_probe' },
      alertmanager: { url: platform.alertmanagerUrl },
      services: {
        web: { enabled: false },
        postgres: { container: 'postgres', dataDir: '/data' },
        redis: { container: 'redis' },
        management: { container: 'management', url: platform.healthUrl },
      },
      log: { file: path.join(platform.dir, 'maintenance.log') },
      lock: { dir: path.join(platform.dir, 'lock') },
      metrics: { textfileDir: path.join(platform.dir, 'metrics') },
    },
  )
  const c: Context = { bench, platform, configPath }
  const serverVersion = (await dockerCli(platform.docker, ['version', '--format', '{{.Server.Version}}'])).stdout.trim()
  const clientVersion = execFileSync(DOCKER_CLI, ['--version'], { encoding: 'utf8' }).trim()
  const stale = bench.cli.stale.filter((f) =>
    /^src\/(jobs\/recover|commands\/recover|systems\/(readiness|services|docker|alertmanager|alert-sync|postgres|redis|http)|report|config|cli)\b/.test(f),
  )

  // The guide's readiness probe must work in this bed before it is timed.
  const isready = [path.join(PG_BIN_DIR, 'pg_isready'), '-h', '127.0.0.1', '-p', String(platform.postgres.port), '-U', 'postgres']
  const probe = await dockerCli(platform.docker, ['exec', 'postgres', ...isready], { reject: false })
  if (probe.exitCode !== 0 || !/accepting connections/.test(probe.stdout))
    throw new Error(`docker exec postgres pg_isready does not work here: exit ${probe.exitCode}: ${probe.stdout} ${probe.stderr}`)

  bench.out.push(
    ...(stale.length > 0 ? [`- Stale build: among the src/ files newer than the build, **${stale.join(', ')}**, which recover uses.`] : []),
    `- Platform: a private dockerd ${serverVersion} (test bed, test/bed/docker.ts; client ${clientVersion.replace(/^Docker version /, '')}) with containers \`postgres\` (PostgreSQL 15, data dir a host dir mounted at /data, stop signal SIGINT), \`redis\` (password) and \`management\` (a sleeper); the management API health URL served by the bench on 127.0.0.1, answering 200 only while PostgreSQL answers SELECT 1 on a fresh connection (503 otherwise); AlertManager (recover sets and lifts its silences). Everything on 127.0.0.1.`,
    "- Contenders: `probe-ops recover postgres|management` (config: containers by name, postgres `dataDir: /data`, management `url:` the health URL, default readiness timeouts) and the guide's `service-recovery.sh`, reproduced in bench/guide/service-recovery.sh (changed only where it cannot run here, each change marked `BENCH CHANGE`: `docker restart` for `docker-compose restart`, the pinned Debian docker client, the bench's port, paths and log file, and psql inside the management container for the application's Python `test_connection()`).",
    `- Method: before every run \`docker stop postgres\` (verified: exited, SELECT 1 refused; for figure 2 also \`management\` and \`redis\` running and the health URL at 503). At spawn, an independent poller in the bench starts: every ${POLL_MS} ms a fresh connection + \`SELECT 1\` (figure 1) or a GET of the health URL (figure 2); "actually ready" is when its first success came back. "Returned" is the contender's process exit. ${args.warmup} verified warm-up run(s) of each, then ${args.runs} rounds of the two contenders, their order alternating every round. Every run is verified or the benchmark aborts: exit 0; the report (probe-ops: postgres \`started; ready after …\`, timeline start/ready; for management the steps postgres, redis, management all ok) or the script's log (\`PostgreSQL is ready\` / \`Database connection failed, restarting postgres\`, \`Recovery completed\`, no ERROR); and afterwards SELECT 1 answers, the three containers run, the health URL answers 200.`,
    '',
    `A negative "returned − actually ready" means the contender returned before the bench's poller saw its first answer: the poller's resolution is its ${POLL_MS} ms period plus one connection (a full password login and SELECT 1), while the guide's pg_isready only asks whether the server accepts connections.`,
    '',
  )
  const verdicts = [await postgresSection(c, args), await managementSection(c, args)]
  bench.out.push('### Verdicts', '', ...verdicts, '')
}

export const definition: BenchDefinition<Args> = {
  name: 'recover',
  title: 'Issue 5: recover',
  summary: "issue 5: `recover postgres` / `recover management` against the guide's service-recovery.sh, time from real readiness to return",
  root: 'the platform runs under a private dockerd',
  cli: true,
  options: {
    runs: { type: 'string', value: 'N', default: '5', help: 'timed runs of each contender per figure' },
    warmup: { type: 'string', value: 'N', default: '1', help: 'unrecorded (but verified) runs of each contender first; 0 for none' },
  },
  parse: (values) => ({ runs: integer(values, 'runs'), warmup: integer(values, 'warmup', { min: 0 }) }),
  run,
}

runIfMain(import.meta, definition)
