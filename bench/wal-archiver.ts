/**
 * Issue 14: does PostgreSQL's archiver, running `probe-ops wal push` as its archive_command, keep
 * up with a writer producing 5 MB/s of WAL for 5 minutes (design-14 §9)?
 *
 *   npm run bench -- wal-archiver [--seconds 300] [--variants plain,age] [--build]
 *
 * Root: each variant gets a PostgreSQL 15 of the test bed's kind (temp dir, loopback, free port,
 * the postmaster running as the postgres OS user) started with archive_mode on, and `probe-ops
 * backup wal-setup --apply` (the private copy of the CLI) then sets archive_command exactly as on
 * a host: the absolute Node, bin/run.js, `wal push %p --config FILE`. Repositories: a local
 * directory and s3rver (test/bed/s3.ts); the variant `age` also encrypts (one X25519 recipient,
 * `program: auto`, i.e. Debian's age).
 *
 * A writer inserts measurement-like rows, paced against a straight line of
 * pg_current_wal_lsn() rising at --rate MiB/s (read after every batch; the batch size follows the
 * WAL bytes per row just measured). Every second a sampler reads the `.ready` count and the age of
 * the oldest `.ready` (pg_ls_archive_statusdir()), pg_stat_archiver and the WAL position; an
 * inotify watch on pg_wal/archive_status sees each `.ready` appear and turn `.done`, which gives
 * the exact pending count over time and each segment's push. The pushes' CPU is the archiver's
 * reaped children (cutime + cstime in /proc: the shell and the node it waited for). When the
 * writer stops, the bench waits for the segment holding its last record (archive_timeout switches
 * it) and then lists both repositories: every segment of the run in each, and recoverableWindows
 * (src/wal/timeline.ts) finds no gap.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { stringify } from 'yaml'
import { loadParsedConfig } from '../src/config/load.js'
import { openRepositories } from '../src/repositories/open.js'
import { parseWalKey } from '../src/repositories/layout.js'
import { currentCluster, readRepositoryFile } from '../src/repositories/cluster.js'
import { formatLsn, parseLsn, parseSegmentName, segmentName, segmentOfLsn } from '../src/wal/names.js'
import { recoverableWindows, type ArchivedWal } from '../src/wal/timeline.js'
import { pgClientConfig, startPostgres, type PostgresServer } from '../test/bed/postgres.js'
import { osUser, pidsWithCmdline } from '../test/bed/process.js'
import { startS3, type S3Server } from '../test/bed/s3.js'
import { ageKeyPair, s3RepositoryEntry, writeCredentialsFile } from '../test/helpers/s3-backups.js'
import { integer, runIfMain, text, verdict, UsageError, type Bench, type BenchDefinition } from './lib/harness.js'
import { table } from './lib/markdown.js'
import { cleanEnv, timed } from './lib/proc.js'
import { median, percentile } from './lib/stats.js'

type Kind = 'plain' | 'age'
const KINDS: readonly Kind[] = ['plain', 'age']
const LABELS: Record<Kind, string> = { plain: 'local + s3rver', age: 'local + s3rver, encrypted (age program)' }

interface Args {
  seconds: number
  rateMiB: number
  archiveTimeout: number
  variants: Kind[]
}

const MIB = 2 ** 20
const SEGMENT_BYTES = 16 * MIB
/** design-14 §9: one segment being pushed, one just finished. */
const PENDING_BOUND = 2
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

// ---------------------------------------------------------------------------------------------
// The lab: PostgreSQL, its configuration, wal-setup

interface Lab {
  kind: Kind
  server: PostgresServer
  config: string
  archiveCommand: string
  stop(): Promise<void>
}

interface Shared {
  work: string
  s3: S3Server
  credentials: string
  recipient: string
}

/** Runs `stop` once, whether the variant's end or the teardown gets there first. */
function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined
  return () => (stopping ??= stop())
}

async function startLab(bench: Bench, shared: Shared, kind: Kind, args: Args): Promise<Lab> {
  bench.log(`${kind}: starting PostgreSQL 15 with archive_mode on`)
  const server = await startPostgres({ extraConf: { wal_level: 'replica', archive_mode: 'on' } })
  const stop = once(() => server.stop())
  bench.teardown.add(`postgres (${kind})`, stop)
  bench.watch({ pids: [server.info.pid], needles: [server.info.dataDir] })
  const dir = path.join(shared.work, kind)
  mkdirSync(dir, { mode: 0o711 })
  const local = path.join(dir, 'local')
  mkdirSync(local, { mode: 0o700 })
  const { dataDir } = server.info
  const config = path.join(dir, 'probe-ops.yaml')
  writeFileSync(
    config,
    stringify({
      host: 'bench',
      log: { file: path.join(dir, 'maintenance.log') },
      postgres: { host: '127.0.0.1', port: server.info.port, user: 'postgres', database: 'network_probe' },
      services: {
        management: { enabled: false },
        web: { enabled: false },
        redis: { enabled: false },
        postgres: { runtime: 'process', pidFile: path.join(dataDir, 'postmaster.pid'), dataDir },
      },
      backup: {
        dir: local,
        repositories: [
          { name: 'local', type: 'local', path: local },
          // The product's default timeout, not the tests' 5 s.
          s3RepositoryEntry(shared.s3, shared.credentials, { prefix: `${kind}/`, timeoutSeconds: 60 }),
        ],
        ...(kind === 'age' ? { encryption: { recipients: [shared.recipient], program: 'auto' } } : {}),
        wal: { archiveTimeoutSeconds: args.archiveTimeout },
      },
    }),
    { mode: 0o644 },
  )
  bench.log(`${kind}: probe-ops backup wal-setup --apply`)
  const setup = await timed(process.execPath, [bench.cli.bin, 'backup', 'wal-setup', '--apply', '--config', config, '--json'], {
    env: cleanEnv({ PGPASSWORD: server.info.password }),
    cwd: dir,
    timeoutMs: 120_000,
  })
  const steps = (() => {
    try {
      return (JSON.parse(setup.stdout) as { steps: { id: string; status: string; summary?: string }[] }).steps
    } catch {
      return []
    }
  })()
  if (setup.exitCode !== 0 || steps.length === 0 || steps.some((step) => step.status !== 'ok'))
    throw new Error(`backup wal-setup --apply failed (exit ${setup.exitCode}): ${setup.stdout.slice(-2000)}\n${setup.stderr.slice(-2000)}`)
  bench.log(`${kind}: ${steps.map((step) => `${step.id}: ${step.summary ?? step.status}`).join('; ')}`)
  const client = new pg.Client(pgClientConfig(server.info, 'network_probe'))
  await client.connect()
  try {
    const settings = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('archive_command', 'archive_timeout', 'archive_mode')`,
    )
    const value = (name: string) => settings.rows.find((row) => row.name === name)?.setting ?? ''
    if (value('archive_mode') !== 'on' || value('archive_timeout') !== String(args.archiveTimeout))
      throw new Error(`wal-setup left archive_mode = ${value('archive_mode')}, archive_timeout = ${value('archive_timeout')}`)
    return { kind, server, config, archiveCommand: value('archive_command'), stop }
  } finally {
    await client.end()
  }
}

// ---------------------------------------------------------------------------------------------
// What is measured while the writer runs

/** utime + stime of a process and cutime + cstime of the children it reaped, in ms. */
function cpuOf(pid: number): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  const tick = 1000 / CLOCK_TICKS
  return { own: (fields[11]! + fields[12]!) * tick, children: (fields[13]! + fields[14]!) * tick }
}

/** Busy and total jiffies of the whole machine (/proc/stat's first line). */
function machineTicks(): { busy: number; total: number } {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = values.reduce((sum, value) => sum + value, 0)
  return { busy: total - values[3]! - (values[4] ?? 0), total }
}

interface Sample {
  /** Seconds since the writer started. */
  at: number
  lsn: number
  ready: number
  /** now − the oldest .ready's mtime, seconds (0 with none). */
  lagS: number
  archived: number
  failed: number
  load1: number
}

const SAMPLE_SQL = `
  SELECT pg_current_wal_lsn()::text AS lsn,
         (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready')::int AS ready,
         coalesce((SELECT extract(epoch FROM clock_timestamp() - min(modification)) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'), 0)::float8 AS lag,
         archived_count::int AS archived, failed_count::int AS failed, last_archived_wal AS last
    FROM pg_stat_archiver`

interface ArchiverState {
  lsn: number
  ready: number
  lagS: number
  archived: number
  failed: number
  last: string | null
}

async function archiverState(client: pg.Client): Promise<ArchiverState> {
  const row = (await client.query<{ lsn: string; ready: number; lag: number; archived: number; failed: number; last: string | null }>(SAMPLE_SQL)).rows[0]!
  return { lsn: Number(parseLsn(row.lsn)), ready: row.ready, lagS: row.lag, archived: row.archived, failed: row.failed, last: row.last }
}

/** When each archive_status file first appeared (inotify): `<segment>.ready` when finished, `<segment>.done` when archived. */
class StatusWatch {
  readonly seen = new Map<string, number>()
  private readonly watcher: FSWatcher

  constructor(dir: string) {
    this.watcher = watch(dir, (_event, name) => {
      if (name && !this.seen.has(name)) this.seen.set(name, performance.now())
    })
  }

  close(): void {
    this.watcher.close()
  }

  /** Each segment both finished and archived while watched, in order. */
  segments(): { name: string; ready: number; done: number }[] {
    const out: { name: string; ready: number; done: number }[] = []
    for (const [file, ready] of this.seen) {
      const match = /^([0-9A-F]{24})\.ready$/.exec(file)
      const done = match ? this.seen.get(`${match[1]}.done`) : undefined
      if (match && done !== undefined) out.push({ name: match[1]!, ready, done })
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1))
  }
}

// ---------------------------------------------------------------------------------------------
// The writer

const INSERT_SQL = `INSERT INTO measurements (probe, value, payload)
  SELECT 'probe-' || (g % 500), random() * 100, repeat(md5(g::text || $2), 4) FROM generate_series(1, $1::int) g`

interface WriterRun {
  startLsn: number
  stopLsn: number
  startedAt: number
  stoppedAt: number
  rows: number
  batches: number
  backendCpuMs: number
}

/**
 * Inserts so that the WAL position follows start + rate × t: after each batch it reads
 * pg_current_wal_lsn(), and the next batch is what is due now at the WAL bytes per row just
 * measured (at most a fifth of a second's worth); ahead of the line, it sleeps.
 */
async function write(bench: Bench, client: pg.Client, rate: number, seconds: number): Promise<WriterRun> {
  const lsnNow = async () => Number(parseLsn((await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn))
  const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  const cpuBefore = cpuOf(backend).own
  const startLsn = await lsnNow()
  const startedAt = performance.now()
  const deadline = startedAt + seconds * 1000
  let lsn = startLsn
  let perRow = 250
  let rows = 0
  let batches = 0
  while (!bench.signal.aborted) {
    const now = performance.now()
    if (now >= deadline) break
    const behind = startLsn + (rate * (now - startedAt)) / 1000 - lsn
    if (behind <= 0) {
      await sleep(Math.min(50, Math.max(1, (-behind / rate) * 1000)))
      continue
    }
    const batch = Math.max(50, Math.min(Math.ceil(behind / perRow), Math.ceil((rate * 0.2) / perRow)))
    await client.query(INSERT_SQL, [batch, String(batches)])
    const after = await lsnNow()
    perRow = 0.7 * perRow + (0.3 * (after - lsn)) / batch
    lsn = after
    rows += batch
    batches++
  }
  return { startLsn, stopLsn: lsn, startedAt, stoppedAt: performance.now(), rows, batches, backendCpuMs: cpuOf(backend).own - cpuBefore }
}

// ---------------------------------------------------------------------------------------------
// One variant

interface Outcome {
  kind: Kind
  archiveCommand: string
  samples: Sample[]
  writer: WriterRun
  firstSegment: string
  stopSegment: string
  /** ms from the writer's stop until the segment holding its last record was archived; undefined: not within the bound. */
  drainMs?: number
  /** ms from the writer's stop until that segment was switched (its .ready): archive_timeout's doing. */
  switchMs?: number
  /** Per segment of the run: finished (.ready) → archived (.done), ms. */
  latencies: number[]
  /** Per segment: the archiver's time on it, from max(.ready, the previous .done) to its .done, ms. */
  pushes: number[]
  /** Pushes ended while the writer wrote, and their time together (ms): the steady state. */
  whileWriting: { pushes: number; busyMs: number }
  /** The most `.ready` files at once, from the watch. */
  exactPendingMax: number
  /** ms with 2 or more pending, from the watch. */
  msWithTwoPending: number
  archivedDuring: number
  failedDelta: number
  pushCpuMs: number
  archiverOwnCpuMs: number
  s3rverCpuMs?: number
  machineBusy: number
  wallMs: number
  repositories: { name: string; segments: number; missing: string[]; lastSegment?: string; gaps: number; reachesStop: boolean }[]
  compileCache: boolean
}

const FAR = '\u2026'

/** Each repository's WAL of its current archive against the run's segments first..last. */
async function listRepositories(config: string, first: string, last: string, signal: AbortSignal): Promise<Outcome['repositories']> {
  const { parsed } = loadParsedConfig(config, cleanEnv())
  const firstSegment = parseSegmentName(first)!
  const lastSegment = parseSegmentName(last)!
  const out: Outcome['repositories'] = []
  for (const repository of openRepositories(parsed.backup)) {
    const file = await readRepositoryFile(repository, signal)
    if (!file) throw new Error(`repository ${repository.name} has no repository file after the run`)
    const { archiveId } = currentCluster(file)
    const listing: ArchivedWal[] = []
    for await (const object of repository.list('wal/', { signal })) {
      const key = parseWalKey(object.key)
      if (key) listing.push({ archiveId: key.archiveId, name: key.name, archivedAt: object.modifiedAt, bytes: object.bytes })
    }
    const names = new Set(listing.filter((entry) => entry.archiveId === archiveId).map((entry) => entry.name))
    const missing: string[] = []
    for (let n = firstSegment.number; n <= lastSegment.number; n++) {
      const name = segmentName({ timeline: firstSegment.timeline, number: n })
      if (!names.has(name)) missing.push(name)
    }
    // A base starting at the run's first segment: its window must reach the last one, with no gap.
    const windows = recoverableWindows(
      listing,
      [],
      [
        {
          id: 'bench',
          consistentAt: new Date(0).toISOString(),
          wal: { archiveId, timeline: firstSegment.timeline, start: first, stop: first, stopLsn: '0/0', segmentBytes: SEGMENT_BYTES },
        },
      ],
    )
    const window = windows.windows[0]
    out.push({
      name: repository.name,
      segments: names.size,
      missing,
      ...(window?.lastSegment ? { lastSegment: window.lastSegment } : {}),
      gaps: windows.gaps.length,
      reachesStop: window?.lastSegment !== undefined && window.lastSegment >= last,
    })
  }
  return out
}

async function runVariant(bench: Bench, shared: Shared, kind: Kind, args: Args): Promise<Outcome> {
  const lab = await startLab(bench, shared, kind, args)
  const { server } = lab
  const sampler = new pg.Client(pgClientConfig(server.info, 'network_probe'))
  const writerClient = new pg.Client(pgClientConfig(server.info, 'network_probe'))
  await sampler.connect()
  await writerClient.connect()
  const watcher = new StatusWatch(path.join(server.info.dataDir, 'pg_wal', 'archive_status'))
  try {
    await writerClient.query(
      'CREATE TABLE measurements (id bigserial PRIMARY KEY, probe text, at timestamptz DEFAULT now(), value double precision, payload text)',
    )
    const archiver = (await sampler.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'`)).rows[0]?.pid
    if (archiver === undefined) throw new Error('no archiver process in pg_stat_activity: is archive_mode on?')
    const s3rver = pidsWithCmdline(shared.s3.dir)[0]
    const before = await archiverState(sampler)
    const cpuBefore = cpuOf(archiver)
    const s3Before = s3rver === undefined ? undefined : cpuOf(s3rver).own
    const machineBefore = machineTicks()
    const rate = args.rateMiB * MIB
    bench.log(`${kind}: writing ${args.rateMiB} MiB/s of WAL for ${args.seconds} s (archive_command: ${lab.archiveCommand})`)

    const samples: Sample[] = []
    const origin = performance.now()
    let sampling = true
    const sampleLoop = (async () => {
      for (let tick = 1; sampling && !bench.signal.aborted; tick++) {
        await sleep(Math.max(0, origin + tick * 1000 - performance.now()))
        const state = await archiverState(sampler)
        samples.push({
          at: (performance.now() - origin) / 1000,
          lsn: state.lsn,
          ready: state.ready,
          lagS: state.lagS,
          archived: state.archived,
          failed: state.failed,
          load1: os.loadavg()[0]!,
        })
        const previous = samples.at(-2)
        if (tick % 10 === 0)
          bench.log(
            `${kind}: ${tick} s: ${previous ? ((state.lsn - previous.lsn) / MIB).toFixed(2) : '?'} MiB/s, .ready ${state.ready}, lag ${state.lagS.toFixed(1)} s, archived ${state.archived - before.archived}, failed ${state.failed - before.failed}, load ${os.loadavg()[0]!.toFixed(2)}`,
          )
      }
    })()
    const writer = await write(bench, writerClient, rate, args.seconds)
    const stopSegment = (await sampler.query<{ name: string }>(`SELECT pg_walfile_name('${lsnText(writer.stopLsn)}') AS name`)).rows[0]!.name
    // The segment holding the writer's first byte: pg_walfile_name would name the one before when the
    // start is exactly on a boundary (as it is right after wal-setup's switch).
    const firstSegment = segmentName(segmentOfLsn(BigInt(writer.startLsn), parseSegmentName(stopSegment)!.timeline))
    bench.log(`${kind}: writer stopped at ${lsnText(writer.stopLsn)} (${stopSegment}); waiting for archive_timeout (${args.archiveTimeout} s) to switch it`)
    // The segment holding the last record is switched by archive_timeout, then pushed.
    const bound = writer.stoppedAt + (args.archiveTimeout + 60) * 1000
    let drainMs: number | undefined
    while (performance.now() < bound && !bench.signal.aborted) {
      const done = watcher.seen.get(`${stopSegment}.done`)
      if (done !== undefined) {
        drainMs = done - writer.stoppedAt
        break
      }
      await sleep(100)
    }
    await sleep(1500)
    sampling = false
    await sampleLoop
    const switched = watcher.seen.get(`${stopSegment}.ready`)
    const after = await archiverState(sampler)
    const cpuAfter = cpuOf(archiver)
    const machineAfter = machineTicks()
    const wallMs = performance.now() - writer.startedAt
    const segments = watcher.segments().filter((segment) => segment.name >= firstSegment)
    const pushes = segments.map((segment, index) => segment.done - Math.max(segment.ready, index === 0 ? segment.ready : segments[index - 1]!.done))
    const { max, twoOrMore } = exactPending(watcher.seen, performance.now())
    const repositories = await listRepositories(lab.config, firstSegment, stopSegment, bench.signal)
    const outcome: Outcome = {
      kind,
      archiveCommand: lab.archiveCommand,
      samples,
      writer,
      firstSegment,
      stopSegment,
      ...(drainMs === undefined ? {} : { drainMs }),
      ...(switched === undefined ? {} : { switchMs: switched - writer.stoppedAt }),
      latencies: segments.map((segment) => segment.done - segment.ready),
      pushes,
      whileWriting: {
        pushes: segments.filter((segment) => segment.done <= writer.stoppedAt).length,
        busyMs: pushes.filter((_, index) => segments[index]!.done <= writer.stoppedAt).reduce((sum, value) => sum + value, 0),
      },
      exactPendingMax: max,
      msWithTwoPending: twoOrMore,
      archivedDuring: after.archived - before.archived,
      failedDelta: after.failed - before.failed,
      pushCpuMs: cpuAfter.children - cpuBefore.children,
      archiverOwnCpuMs: cpuAfter.own - cpuBefore.own,
      ...(s3rver === undefined || s3Before === undefined ? {} : { s3rverCpuMs: cpuOf(s3rver).own - s3Before }),
      machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
      wallMs,
      repositories,
      compileCache: existsSync(path.join(osUser('postgres').home, '.cache/probe-ops/compile-cache')),
    }
    return outcome
  } finally {
    watcher.close()
    await sampler.end().catch(() => undefined)
    await writerClient.end().catch(() => undefined)
    await lab.stop()
  }
}

const lsnText = (lsn: number) => formatLsn(BigInt(lsn))

/** The most `.ready` files at once, and how long 2 or more were, from the watch's appear times. */
function exactPending(seen: ReadonlyMap<string, number>, end: number): { max: number; twoOrMore: number } {
  const events: [number, number][] = []
  for (const [file, at] of seen) {
    const match = /^([0-9A-F]{24})\.(ready|done)$/.exec(file)
    if (!match) continue
    if (match[2] === 'ready') events.push([at, 1])
    else if (seen.has(`${match[1]}.ready`)) events.push([at, -1])
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let pending = 0
  let max = 0
  let twoOrMore = 0
  let since = 0
  for (const [at, change] of events) {
    if (pending >= 2) twoOrMore += at - since
    pending += change
    since = at
    max = Math.max(max, pending)
  }
  if (pending >= 2) twoOrMore += end - since
  return { max, twoOrMore }
}

// ---------------------------------------------------------------------------------------------
// The report

const f1 = (value: number) => value.toFixed(1)
const f2 = (value: number) => value.toFixed(2)
const pct = (value: number) => `${(value * 100).toFixed(1)} %`
const secs = (value: number) => `${(value / 1000).toFixed(2)} s`

function spread(values: readonly number[], format: (value: number) => string): string {
  if (values.length === 0) return '–'
  return `${format(median(values))} / ${format(percentile(values, 90))} / ${format(percentile(values, 99))} / ${format(Math.max(...values))}`
}

/** The WAL rate of each whole second of the writer's run, MiB/s. */
function secondRates(outcome: Outcome): number[] {
  const runS = (outcome.writer.stoppedAt - outcome.writer.startedAt) / 1000
  const during = outcome.samples.filter((sample) => sample.at <= runS + 0.5)
  return during.slice(1).map((sample, index) => (sample.lsn - during[index]!.lsn) / MIB)
}

function rows(outcome: Outcome, args: Args): Record<string, string> {
  const { writer, samples } = outcome
  const runS = (writer.stoppedAt - writer.startedAt) / 1000
  const rates = secondRates(outcome)
  const writing = samples.filter((sample) => sample.at <= runS + 0.5)
  const ready = samples.map((sample) => sample.ready)
  const lag = samples.map((sample) => sample.lagS)
  const segments = outcome.latencies.length
  const loads = samples.map((sample) => sample.load1)
  const pushRate = outcome.whileWriting.pushes / runS
  const cpuPerPush = outcome.pushCpuMs / Math.max(1, outcome.archivedDuring)
  return {
    'WAL rate achieved (whole run)': `${f2((writer.stopLsn - writer.startLsn) / MIB / runS)} MiB/s over ${f1(runS)} s (${((writer.stopLsn - writer.startLsn) / MIB).toFixed(0)} MiB, ${writer.rows.toLocaleString('en-US')} rows in ${writer.batches.toLocaleString('en-US')} batches)`,
    'WAL rate per second (min / median / max)': rates.length > 0 ? `${f2(Math.min(...rates))} / ${f2(median(rates))} / ${f2(Math.max(...rates))} MiB/s` : '–',
    'segments finished and archived': `${segments} (${outcome.firstSegment.slice(16)} … ${outcome.stopSegment.slice(16)}); pg_stat_archiver archived ${outcome.archivedDuring}`,
    'pushes per second (while writing)': f2(pushRate),
    '`.ready` count, 1 s samples (median / p99 / max)': `${median(ready)} / ${percentile(ready, 99)} / ${Math.max(...ready)} (${writing.length} samples while writing, ${samples.length} in all)`,
    '`.ready` count, exact (inotify): max; time with ≥ 2': `${outcome.exactPendingMax}; ${secs(outcome.msWithTwoPending)}`,
    'lag = now − oldest `.ready` mtime, 1 s samples (median / p99 / max)': `${f2(median(lag))} / ${f2(percentile(lag, 99))} / ${f2(Math.max(...lag))} s`,
    'segment finished → archived (median / p90 / p99 / max)': spread(outcome.latencies, secs),
    'push: archiver busy per segment (median / p90 / p99 / max)': spread(outcome.pushes, secs),
    'duty cycle while writing (Σ push / time)': pct(outcome.whileWriting.busyMs / (runS * 1000)),
    'CPU of the pushes (sh + node, reaped by the archiver): total; per push; share at this push rate': `${secs(outcome.pushCpuMs)}; ${secs(cpuPerPush)}; ${pct((cpuPerPush * pushRate) / 1000)} of one core, ${pct((cpuPerPush * pushRate) / 1000 / os.availableParallelism())} of the machine`,
    'CPU of the writer (its backend)': `${secs(writer.backendCpuMs)}: ${pct(writer.backendCpuMs / (runS * 1000))} of one core`,
    'CPU of s3rver': outcome.s3rverCpuMs === undefined ? '–' : `${secs(outcome.s3rverCpuMs)}: ${pct(outcome.s3rverCpuMs / outcome.wallMs)} of one core`,
    'machine busy (all processes, /proc/stat); load average 1 min (min / median / max)': `${pct(outcome.machineBusy)}; ${f2(Math.min(...loads))} / ${f2(median(loads))} / ${f2(Math.max(...loads))}`,
    'failed_count change': String(outcome.failedDelta),
    [`last segment archived after the writer stopped (archive_timeout ${args.archiveTimeout} s)`]:
      outcome.drainMs === undefined
        ? `not within ${args.archiveTimeout + 60} s`
        : `${secs(outcome.drainMs)} (switched after ${outcome.switchMs === undefined ? '?' : secs(outcome.switchMs)}, then pushed)`,
    'in the repositories: segments of the archive; missing of the run; window end; gaps': outcome.repositories
      .map(
        (repository) =>
          `${repository.name}: ${repository.segments}; ${repository.missing.length === 0 ? 'none missing' : `missing ${repository.missing.slice(0, 3).join(', ')}${repository.missing.length > 3 ? FAR : ''}`}; ${repository.lastSegment?.slice(16) ?? '–'}; ${repository.gaps} gaps`,
      )
      .join(' · '),
    "node's compile cache for the postgres user": outcome.compileCache ? 'present' : 'absent (every push compiles)',
  }
}

function verdicts(outcome: Outcome, args: Args): string[] {
  const label = LABELS[outcome.kind]
  const sampled = Math.max(...outcome.samples.map((sample) => sample.ready))
  const pending = Math.max(sampled, outcome.exactPendingMax)
  const slowestPush = outcome.pushes.length > 0 ? Math.max(...outcome.pushes) : 0
  // PostgreSQL's checkpointer switches a segment once archive_timeout whole seconds (time(NULL))
  // have passed since the last switch, which was before the stop: up to a second late; then one push.
  const drainBound = (args.archiveTimeout + 1) * 1000 + slowestPush
  const complete = outcome.repositories.every((repository) => repository.missing.length === 0 && repository.gaps === 0 && repository.reachesStop)
  const runS = (outcome.writer.stoppedAt - outcome.writer.startedAt) / 1000
  const achieved = (outcome.writer.stopLsn - outcome.writer.startLsn) / MIB / runS
  return [
    verdict(
      `${label}: the writer produced ${args.rateMiB} MiB/s for ${args.seconds} s`,
      achieved >= args.rateMiB * 0.98 && runS >= args.seconds - 1,
      `${f2(achieved)} MiB/s over ${f1(runS)} s.`,
    ),
    verdict(
      `${label}: \`.ready\` count never above ${PENDING_BOUND}`,
      pending <= PENDING_BOUND,
      `max ${sampled} in the 1 s samples, ${outcome.exactPendingMax} exactly (inotify).`,
    ),
    verdict(`${label}: failed_count unchanged`, outcome.failedDelta === 0, `${outcome.failedDelta} failures.`),
    verdict(
      `${label}: within archive_timeout after the writer stopped, every segment of the run in both repositories, no gap`,
      outcome.drainMs !== undefined && outcome.drainMs <= drainBound && complete,
      `${outcome.drainMs === undefined ? 'the last segment was not archived' : `the last segment (${outcome.stopSegment}) archived ${secs(outcome.drainMs)} after the stop (bound: archive_timeout ${args.archiveTimeout} s + 1 s of PostgreSQL's whole-second clock + the slowest push, ${secs(slowestPush)})`}; ${outcome.repositories.map((repository) => `${repository.name}: ${repository.missing.length} missing, ${repository.gaps} gaps, window to ${repository.lastSegment ?? '–'}`).join('; ')}.`,
    ),
  ]
}

async function run(bench: Bench, args: Args): Promise<void> {
  // PostgreSQL's user runs the CLI's private copy and reads the configuration: both must be reachable.
  chmodSync(bench.cli.root, 0o755)
  const work = await bench.tempDir('po-bench-wal-archiver-')
  chmodSync(work, 0o711)
  const postgres = osUser('postgres')
  const credentials = await writeCredentialsFile(work)
  chownSync(credentials, 0, postgres.gid)
  chmodSync(credentials, 0o640)
  const { recipient } = await ageKeyPair(work, 'identity')
  bench.log('starting s3rver')
  const s3 = await startS3()
  bench.teardown.add('s3rver', () => s3.stop())
  const shared: Shared = { work, s3, credentials, recipient }
  const outcomes: Outcome[] = []
  for (const kind of args.variants) outcomes.push(await runVariant(bench, shared, kind, args))
  bench.raw.outcomes = outcomes
  const tables = outcomes.map((outcome) => rows(outcome, args))
  bench.out.push(
    `- Method: for each variant a fresh PostgreSQL 15 (the test bed's: fsync off, shared_buffers 32MB; wal_level replica, archive_mode on, default max_wal_size) whose archive_command \`probe-ops backup wal-setup --apply\` set (${outcomes[0] ? `\`${outcomes[0].archiveCommand.replace(/\/tmp\/[^ ]+?\/(bin|probe-ops)/g, '…/$1')}\`` : ''}), archive_timeout ${args.archiveTimeout} s; repositories a local directory and a prefix in one s3rver on 127.0.0.1. A writer inserts rows (bigserial primary key, probe, timestamp, value, a 128-byte payload) paced so that pg_current_wal_lsn() rises at ${args.rateMiB} MiB/s (${f2((args.rateMiB * MIB) / 1e6)} MB/s; a 16 MiB segment every ${f2(16 / args.rateMiB)} s) for ${args.seconds} s. Every second: \`.ready\` count and oldest \`.ready\` age (pg_ls_archive_statusdir()), pg_stat_archiver; an inotify watch on archive_status times each segment's \`.ready\` and \`.done\`. Push CPU: the archiver's reaped children (cutime + cstime).`,
    '',
    table(
      ['figure', ...outcomes.map((outcome) => LABELS[outcome.kind])],
      Object.keys(tables[0] ?? {}).map((key) => [key, ...tables.map((t) => t[key] ?? '–')]),
      ['l', ...outcomes.map(() => 'l' as const)],
    ),
    '',
    '### Verdicts',
    '',
    ...outcomes.flatMap((outcome) => verdicts(outcome, args)),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'wal-archiver',
  title: 'Issue 14: the archiver keeps up with 5 MB/s',
  summary:
    'issue 14: PostgreSQL archiving through `probe-ops wal push` (local + s3rver, plain and encrypted) while a writer produces 5 MiB/s of WAL: pending `.ready`, lag, push time and CPU, nothing missing',
  cli: true,
  root: 'it starts PostgreSQL (initdb as the postgres user), whose archiver runs the CLI as that user',
  notes: ['Needs Debian age (age, age-keygen), PostgreSQL 15 and s3rver (devDependencies): scripts/install-test-deps.sh.'],
  options: {
    seconds: { type: 'string', value: 'N', default: '300', help: 'how long the writer writes' },
    rate: { type: 'string', value: 'MIB', default: '5', help: 'WAL MiB per second the writer produces' },
    'archive-timeout': { type: 'string', value: 'S', default: '60', help: 'archive_timeout (backup.wal.archiveTimeoutSeconds) wal-setup sets' },
    variants: { type: 'string', value: 'LIST', default: 'plain,age', help: `which of ${KINDS.join(', ')} to run, in order` },
  },
  parse(values) {
    const variants = (text(values, 'variants') ?? '').split(',').map((item) => item.trim())
    for (const variant of variants) if (!KINDS.includes(variant as Kind)) throw new UsageError(`--variants takes ${KINDS.join(', ')}, not "${variant}"`)
    return {
      seconds: integer(values, 'seconds'),
      rateMiB: integer(values, 'rate'),
      archiveTimeout: integer(values, 'archive-timeout'),
      variants: variants as Kind[],
    }
  },
  run,
}

runIfMain(import.meta, definition)
