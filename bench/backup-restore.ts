/**
 * Benchmark of issues 4 and 14: backups and full restores on a ~1 GB demo database, logical
 * (pg_dump/pg_restore) and physical (a base backup, recovered and switched in).
 *
 *   npm run bench -- backup-restore [--runs N] [--variants K,K] [--physical K,K] [--only K,K]
 *                                   [--rows-per-day N] [--days N]
 *                                   [--fsync on|off] [--build] [--out FILE] [--raw FILE]
 *   npm run bench -- backup-restore --render RAW [--out FILE]   (the markdown of a --raw file again)
 *
 * Run as root (the management service runs under a private dockerd). Starts a PostgreSQL 15 of
 * its own (test/bed/postgres.ts), fills `network_probe` with the platform's schema and
 * generated task results (src/sandbox/schema.ts) to about 1 GB, runs a `management` sleeper
 * container under a private Docker engine (test/bed/docker.ts) whose health URL is served by
 * this process (200 when a fresh connection to network_probe answers SELECT 1), then measures,
 * in rounds that run every contender once (the order rotating from round to round):
 *   - the guide: bench/guide/backup-database.sh (`pg_dump | gzip`), then
 *     bench/guide/disaster-recovery.sh FILE full (its pre-recovery backup, `docker stop
 *     management`, DROP DATABASE, CREATE DATABASE, `gunzip -c | psql`, `docker start management`),
 *     with a timestamp per phase;
 *   - probe-ops, per setting (format custom/directory, jobs, compress level): `backup database
 *     --json`, then `restore ID --mode full --yes --json` (its steps' durationMs, the swap's
 *     downtimeMs); and, for the checksum's cost, a bare `pg_dump` with the same format and level
 *     into a file, and the product's own sha256File/sha256Directory over the data it wrote;
 *   - issue 14's physical contenders (bench/restore/physical.ts): `backup base`, then `restore
 *     latest-base --mode full`, to just after the backup or to the end of the archive, from a
 *     local repository, local + s3rver, and age-encrypted; the cluster archives through `probe-ops
 *     wal push` (backup wal-setup --apply) only during their cycles.
 * Between backup and restore some rows are deleted, so a restore that did not happen cannot
 * pass: after every restore, every table's row count must equal the counts at the backup (and,
 * for probe-ops, the kept pre-restore database must hold the changed counts); a run that fails
 * that aborts the benchmark. Between cycles (untimed): the pre-restore database and the backups
 * are removed, VACUUM (FREEZE, ANALYZE) and CHECKPOINT, so every cycle starts from the same state.
 */
import { readdirSync, statSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { stringify } from 'yaml'
import { INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../src/sandbox/schema.js'
import { sha256Directory, sha256File } from '../src/backups/store.js'
import { DOCKER_CLI, dockerCli, runSleeperContainer, startDockerEngine } from '../test/bed/docker.js'
import { PG_BIN_DIR, pgClientConfig, startPostgres, type PostgresInfo } from '../test/bed/postgres.js'
import { ROOT, UsageError, integer, interleave, runIfMain, text, type Bench, type BenchDefinition, type RawFile } from './lib/harness.js'
import { table } from './lib/markdown.js'
import { serveDatabaseHealth } from './lib/platform.js'
import { cleanEnv, timed, type TimedResult } from './lib/proc.js'
import { ARCHIVING_SETTINGS, PHYSICAL, physicalCycle, renderPhysical, setUpPhysical, type PhysicalContender, type PhysicalCycle } from './restore/physical.js'
import {
  DATABASE,
  RUN_TIMEOUT_MS,
  check,
  counts,
  databases,
  describeCounts,
  dropDatabase,
  mb,
  met,
  mutate,
  normalize,
  parseReport,
  pct,
  sameCounts,
  step,
  verifyRestored,
  withClient,
  type Counts,
  type Ctx,
} from './restore/common.js'
import { median, ratio, seconds } from './lib/stats.js'

const GUIDE_BACKUP = path.join(ROOT, 'bench/guide/backup-database.sh')
const GUIDE_RESTORE = path.join(ROOT, 'bench/guide/disaster-recovery.sh')
/** Issue 4's targets. */
const TARGET_SPEEDUP = 2
const TARGET_CHECKSUM_SHARE = 0.1

// ---------------------------------------------------------------------------------------------
// Arguments

/** A probe-ops backup setting. */
interface Setting {
  key: string
  label: string
  format: 'custom' | 'directory'
  jobs: number
  compress: number
}

const SETTINGS: Setting[] = [
  { key: 'custom-z6', label: 'custom, -Z6', format: 'custom', jobs: 2, compress: 6 },
  { key: 'custom-z1', label: 'custom, -Z1 (default)', format: 'custom', jobs: 2, compress: 1 },
  { key: 'dir-j2-z6', label: 'directory, jobs 2, -Z6', format: 'directory', jobs: 2, compress: 6 },
  { key: 'dir-j2-z1', label: 'directory, jobs 2, -Z1', format: 'directory', jobs: 2, compress: 1 },
  { key: 'custom-z0', label: 'custom, -Z0 (no compression)', format: 'custom', jobs: 2, compress: 0 },
  { key: 'dir-j2-z0', label: 'directory, jobs 2, -Z0 (no compression)', format: 'directory', jobs: 2, compress: 0 },
]

interface Args {
  runs: number
  variants: Setting[]
  /** Issue 14's contenders (bench/restore/physical.ts). */
  physical: PhysicalContender[]
  days: number
  rowsPerDay: number
  fsync: boolean
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL helpers

async function createDemoDatabase(bench: Bench, info: PostgresInfo, args: Args): Promise<{ bytes: number; loadMs: number }> {
  const started = performance.now()
  await withClient(info, DATABASE, async (c) => {
    await c.query(SCHEMA_SQL)
    await c.query(referenceDataSql({ agents: 10, tasks: 50 }))
    bench.log(`generating ${(args.days * args.rowsPerDay).toLocaleString('en-US')} task results`)
    await c.query(TASK_RESULTS_SQL, [args.days, args.rowsPerDay])
    bench.log('indexes and constraints')
    await c.query(INDEX_SQL)
  })
  await normalize(info)
  const bytes = await withClient(info, DATABASE, async (c) =>
    Number((await c.query<{ b: string }>('select pg_database_size(current_database()) as b')).rows[0]!.b),
  )
  return { bytes, loadMs: performance.now() - started }
}

const PG_SETTINGS = [
  'server_version',
  'fsync',
  'synchronous_commit',
  'full_page_writes',
  'wal_level',
  'shared_buffers',
  'maintenance_work_mem',
  'work_mem',
  'max_wal_size',
  'checkpoint_timeout',
  'max_parallel_maintenance_workers',
  'max_worker_processes',
]

async function pgSettings(info: PostgresInfo): Promise<string> {
  return withClient(info, 'postgres', async (c) => {
    const rows = await c.query<{ name: string; setting: string; unit: string | null }>(
      'select name, setting, unit from pg_settings where name = any($1) order by name',
      [PG_SETTINGS],
    )
    return rows.rows
      .map((r) => {
        if (r.unit === '8kB') return `${r.name}=${(Number(r.setting) * 8) / 1024} MB`
        if (r.unit === 'kB') return `${r.name}=${Number(r.setting) / 1024} MB`
        if (r.unit === 'MB') return `${r.name}=${r.setting} MB`
        if (r.unit === 's') return `${r.name}=${r.setting} s`
        return `${r.name}=${r.setting}`
      })
      .join(', ')
  })
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface GuideCycle {
  backupMs: number
  restoreMs: number
  preBackupMs: number
  stopMs: number
  dropCreateMs: number
  loadMs: number
  startMs: number
  /** docker stop .. docker start returned (the guide does not wait for health). */
  downMs: number
  /** DROP DATABASE .. load done: no network_probe, or a partial one. */
  databaseGoneMs: number
  /** The restore without its pre-recovery backup (the brief's "guide's way"). */
  restoreNoPreMs: number
  fileBytes: number
  psqlErrors: number
}

interface ProbeCycle {
  backupMs: number
  dumpStepMs: number
  restoreMs: number
  steps: Record<string, number>
  downtimeMs: number
  timeline: unknown
  bytes: number
  rawDumpMs: number
  rawBytes: number
  sha256Ms: number
}

function sizeOf(p: string): number {
  const s = statSync(p)
  if (!s.isDirectory()) return s.size
  return readdirSync(p).reduce((sum, n) => sum + sizeOf(path.join(p, n)), 0)
}

async function guideCycle(ctx: Ctx): Promise<GuideCycle> {
  const dir = path.join(ctx.work, 'guide')
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const backupDir = path.join(dir, 'backups')
  const marks = path.join(dir, 'marks')
  const env = { ...ctx.env, BACKUP_DIR: backupDir, BACKUP_SCRIPT: GUIDE_BACKUP, LOG_FILE: path.join(dir, 'disaster-recovery.log'), BENCH_MARKS: marks }

  const backup = await timed('bash', [GUIDE_BACKUP], { env, cwd: ctx.cwd, timeoutMs: RUN_TIMEOUT_MS })
  check(backup, 'guide backup-database.sh')
  const files = readdirSync(backupDir).filter((n) => n.endsWith('.sql.gz'))
  if (files.length !== 1) throw new Error(`guide backup: expected one .sql.gz in ${backupDir}, found ${files.join(', ') || 'none'}`)
  const file = path.join(backupDir, files[0]!)
  const fileBytes = statSync(file).size
  // The pre-recovery backup must not land on the same name (same second): move ours aside.
  const kept = path.join(dir, 'backup.sql.gz')
  execFileSync('mv', [file, kept])

  await mutate(ctx.info)
  const restore = await timed('bash', [GUIDE_RESTORE, kept, 'full'], { env, cwd: ctx.cwd, timeoutMs: RUN_TIMEOUT_MS })
  check(restore, 'guide disaster-recovery.sh')
  const psqlErrors = restore.stderr.split('\n').filter((l) => /ERROR/.test(l)).length
  await verifyRestored(ctx, 'guide disaster-recovery.sh')
  const at: Record<string, number> = {}
  for (const line of (await readFile(marks, 'utf8')).trim().split('\n')) {
    const [t, event] = line.split(' ') as [string, string]
    at[event] = Number(t)
  }
  for (const e of ['pre-backup-begin', 'pre-backup-end', 'stop-begin', 'stop-end', 'dropped', 'created', 'loaded', 'start-end']) {
    if (at[e] === undefined) throw new Error(`guide disaster-recovery.sh: no ${e} mark in ${marks}`)
  }
  const preBackupMs = at['pre-backup-end']! - at['pre-backup-begin']!
  return {
    backupMs: backup.ms,
    restoreMs: restore.ms,
    preBackupMs,
    stopMs: at['stop-end']! - at['stop-begin']!,
    dropCreateMs: at['created']! - at['stop-end']!,
    loadMs: at['loaded']! - at['created']!,
    startMs: at['start-end']! - at['loaded']!,
    downMs: at['start-end']! - at['stop-begin']!,
    databaseGoneMs: at['loaded']! - at['stop-end']!,
    restoreNoPreMs: restore.ms - preBackupMs,
    fileBytes,
    psqlErrors,
  }
}

async function writeProbeConfig(ctx: Ctx, v: Setting, healthUrl: string): Promise<{ configPath: string; backupDir: string }> {
  const dir = path.join(ctx.work, v.key)
  await mkdir(dir, { recursive: true })
  const backupDir = path.join(dir, 'backups')
  const config = {
    log: { file: path.join(dir, 'maintenance.log') },
    lock: { dir: path.join(dir, 'lock') },
    metrics: { textfileDir: path.join(dir, 'metrics') },
    postgres: { host: ctx.info.host, port: ctx.info.port, user: ctx.info.user, database: DATABASE },
    docker: { host: ctx.env.DOCKER_HOST },
    services: {
      web: { enabled: false },
      postgres: { enabled: false },
      redis: { enabled: false },
      management: { container: 'management', url: healthUrl, dependsOn: [], readinessTimeoutSeconds: 60, stopGraceSeconds: 10 },
    },
    backup: { dir: backupDir, format: v.format, jobs: v.jobs, compress: v.compress, configPaths: ['/etc/hostname'] },
    restore: { stopServices: ['management'] },
  }
  const configPath = path.join(dir, 'probe-ops.yaml')
  await writeFile(configPath, stringify(config), { mode: 0o600 })
  return { configPath, backupDir }
}

async function probeCycle(ctx: Ctx, v: Setting, configPath: string, backupDir: string): Promise<ProbeCycle> {
  await rm(backupDir, { recursive: true, force: true })
  const run = (args: string[]): Promise<TimedResult> =>
    timed(process.execPath, [ctx.bin, ...args, '--config', configPath], { env: ctx.env, cwd: ctx.cwd, timeoutMs: RUN_TIMEOUT_MS })

  const backup = await run(['backup', 'database', '--json'])
  check(backup, `probe-ops backup database (${v.key})`)
  const dump = step(parseReport(backup, 'backup database'), 'dump')
  const id = dump.data!.id as string
  const dataPath = dump.data!.path as string
  const bytes = dump.data!.bytes as number

  // The checksum's cost: the product's own hashing over the data it wrote, and a bare pg_dump.
  const hashStarted = performance.now()
  if (v.format === 'custom') await sha256File(dataPath)
  else await sha256Directory(dataPath)
  const sha256Ms = performance.now() - hashStarted
  const rawPath = path.join(ctx.work, `raw-${v.key}`)
  await rm(rawPath, { recursive: true, force: true })
  const rawArgs = [
    '-h',
    ctx.info.host,
    '-p',
    String(ctx.info.port),
    '-U',
    ctx.info.user,
    '--no-password',
    '-d',
    DATABASE,
    `-Z${v.compress}`,
    ...(v.format === 'custom' ? ['-Fc'] : ['-Fd', `--jobs=${v.jobs}`]),
    '-f',
    rawPath,
  ]
  const raw = await timed(path.join(PG_BIN_DIR, 'pg_dump'), rawArgs, { env: ctx.env, cwd: ctx.cwd, timeoutMs: RUN_TIMEOUT_MS })
  check(raw, `bare pg_dump (${v.key})`)
  const rawBytes = sizeOf(rawPath)
  await rm(rawPath, { recursive: true, force: true })

  await mutate(ctx.info)
  const changed = await counts(ctx.info, DATABASE)
  const restore = await run(['restore', id, '--mode', 'full', '--yes', '--json'])
  const report = parseReport(restore, 'restore')
  check(restore, `probe-ops restore --mode full (${v.key}): ${report.steps.map((s) => `${s.id} ${s.status}`).join(', ')}`)
  await verifyRestored(ctx, `probe-ops restore (${v.key})`)
  const swap = step(report, 'swap').data as { preRestore: string; downtimeMs: number; timeline: unknown }
  const before = await counts(ctx.info, swap.preRestore)
  if (!sameCounts(before, changed))
    throw new Error(
      `probe-ops restore (${v.key}): the pre-restore database ${swap.preRestore} has ${describeCounts(before)}, the live one had ${describeCounts(changed)}`,
    )
  await dropDatabase(ctx.info, swap.preRestore)
  await rm(backupDir, { recursive: true, force: true })
  const steps: Record<string, number> = {}
  for (const s of report.steps) steps[s.id] = s.durationMs
  return {
    backupMs: backup.ms,
    dumpStepMs: dump.durationMs,
    restoreMs: restore.ms,
    steps,
    downtimeMs: swap.downtimeMs,
    timeline: swap.timeline,
    bytes,
    rawDumpMs: raw.ms,
    rawBytes,
    sha256Ms,
  }
}

// ---------------------------------------------------------------------------------------------
// Report helpers

// ---------------------------------------------------------------------------------------------
// The markdown section, from the measurements alone (so `--render RAW` can redo it)

/** What --raw keeps of a run (its `data`), from which the markdown is made. */
interface Measurements {
  settings: string
  dockerVersion: string
  runs: number
  days: number
  rowsPerDay: number
  database: { bytes: number; counts: Counts; loadMs: number }
  variants: Setting[]
  guide: GuideCycle[]
  probe: Record<string, ProbeCycle[]>
  /** Absent in the files of runs before issue 14. */
  physical?: PhysicalContender[]
  physicalCycles?: Record<string, PhysicalCycle[]>
}

function render(file: RawFile): string[] {
  const r = file.data as unknown as Measurements
  const out: string[] = []
  const guide = r.guide
  const probe = new Map(Object.entries(r.probe))
  const args = { variants: r.variants, runs: r.runs, days: r.days }
  const expected = r.database.counts
  const demo = r.database
  const med = <T>(xs: T[], f: (x: T) => number): number => median(xs.map(f))
  const gBackup = med(guide, (c) => c.backupMs)
  const gCycleBrief = med(guide, (c) => c.backupMs + c.restoreNoPreMs)
  const gCycleScript = med(guide, (c) => c.backupMs + c.restoreMs)
  const gLike = med(guide, (c) => c.backupMs + c.dropCreateMs + c.loadMs)
  /** Median over rounds of (guide's value in round r) / (this setting's value in round r): paired, so load drifts cancel. */
  const paired = (cs: ProbeCycle[], g: (c: GuideCycle) => number, p: (c: ProbeCycle) => number): number => median(cs.map((c, i) => g(guide[i]!) / p(c)))
  type Sum = {
    v: Setting
    cycle: number
    pairedCycle: number
    pairedScript: number
    pairedLike: number
    overhead: number
    process: number
    backup: number
    restore: number
    like: number
    dumpStep: number
    raw: number
    sha: number
    down: number
    bytes: number
    rawBytes: number
    steps: Record<string, number>
  }
  const sums: Sum[] = args.variants.map((v) => {
    const cs = probe.get(v.key)!
    const stepIds = Object.keys(cs[0]!.steps)
    return {
      v,
      cycle: med(cs, (c) => c.backupMs + c.restoreMs),
      pairedCycle: paired(
        cs,
        (g) => g.backupMs + g.restoreNoPreMs,
        (c) => c.backupMs + c.restoreMs,
      ),
      pairedScript: paired(
        cs,
        (g) => g.backupMs + g.restoreMs,
        (c) => c.backupMs + c.restoreMs,
      ),
      pairedLike: paired(
        cs,
        (g) => g.backupMs + g.dropCreateMs + g.loadMs,
        (c) => c.dumpStepMs + (c.steps.restore ?? 0),
      ),
      overhead: med(cs, (c) => (c.backupMs - c.rawDumpMs) / c.backupMs),
      // safety-backup and restore run at the same time: they count once, as the longer of the two.
      process: med(
        cs,
        (c) =>
          c.restoreMs -
          Object.entries(c.steps).reduce(
            (a, [id, ms]) => (id === 'safety-backup' ? a : id === 'restore' ? a + Math.max(ms, c.steps['safety-backup'] ?? 0) : a + ms),
            0,
          ),
      ),
      backup: med(cs, (c) => c.backupMs),
      restore: med(cs, (c) => c.restoreMs),
      like: med(cs, (c) => c.dumpStepMs + (c.steps.restore ?? 0)),
      dumpStep: med(cs, (c) => c.dumpStepMs),
      raw: med(cs, (c) => c.rawDumpMs),
      sha: med(cs, (c) => c.sha256Ms),
      down: med(cs, (c) => c.downtimeMs),
      bytes: med(cs, (c) => c.bytes),
      rawBytes: med(cs, (c) => c.rawBytes),
      steps: Object.fromEntries(stepIds.map((id) => [id, med(cs, (c) => c.steps[id] ?? 0)])),
    }
  })
  const best = [...sums].sort((a, b) => a.cycle - b.cycle)[0]!
  const bestLike = [...sums].sort((a, b) => a.like - b.like)[0]!
  const checksumOk = sums.filter((s) => s.sha / s.backup < TARGET_CHECKSUM_SHARE)
  const defaults = sums.find((s) => s.v.key === 'custom-z1')

  const { dockerVersion, settings } = r
  const rows = (expected['public.task_results'] ?? 0).toLocaleString('en-US')
  out.push(
    '- Everything on 127.0.0.1; backups and the database on the same disk; the 1 GB database fits in the page cache.',
    `- PostgreSQL (test/bed/postgres.ts \`startPostgres()\`, on the host): ${settings}`,
    `- Database: \`${DATABASE}\`, the platform schema of src/sandbox/schema.ts (10 agents, 50 tasks, ${rows} task results over ${args.days} days, indexes and constraints of INDEX_SQL), VACUUM (FREEZE, ANALYZE)d: pg_database_size ${mb(demo.bytes)}.`,
    `- Management service: a sleeper container \`management\` under a private dockerd ${dockerVersion} (test/bed/docker.ts); its health URL is served by the bench (200 when a new connection to \`${DATABASE}\` answers \`select 1\`). probe-ops stops and starts it through Docker (\`restore.stopServices: [management]\`, stopGraceSeconds 10, readiness timeout 60 s); the guide's script with \`docker stop/start management\`.`,
    `- Method: ${args.runs} rounds; each round runs every contender once, the order rotating by one each round. A cycle is a backup, then (untimed) some rows deleted (1 % of task_results, one user), then a full restore; every restore is verified: every table's row count equals the count at the backup, the probe-ops pre-restore database holds the changed counts. Untimed between cycles: the pre-restore database and the backups removed, VACUUM (FREEZE, ANALYZE), CHECKPOINT. Wall times from spawn to exit, measured by the bench; probe-ops's step times from its \`--json\` report. Medians of the ${args.runs} runs.`,
    `- The guide: bench/guide/backup-database.sh (the guide names it but does not show it: the usual \`pg_dump network_probe | gzip > network_probe_DATE.sql.gz\`, plain SQL, gzip -6) and bench/guide/disaster-recovery.sh (the guide's script; changes marked BENCH CHANGE in its header: host psql instead of \`docker exec postgres psql\`, \`docker\` instead of \`docker-compose\`, phase timestamps). Its \`full\` restore first takes a pre-recovery backup (the same backup script), then stop, DROP, CREATE, \`gunzip -c | psql\`, start. "Guide cycle" below is backup + restore **without** that pre-recovery backup (the brief's \`pg_dump | gzip\`, then DROP/CREATE/\`gunzip | psql\`; its time is the script's minus the pre-recovery backup's, from the script's timestamps); "guide script as written" includes it.`,
  )
  if (sums.length > 0)
    out.push(
      '',
      '### 1. End to end: backup, then full restore',
      '',
      table(
        ['contender (median of runs)', 'backup', 'restore', 'cycle', 'dump size', 'guide cycle / this', 'per round', 'guide script / this', 'per round'],
        [
          [
            'guide: `pg_dump | gzip`, then DROP/CREATE/`gunzip | psql`',
            seconds(gBackup),
            seconds(med(guide, (c) => c.restoreNoPreMs)),
            seconds(gCycleBrief),
            mb(med(guide, (c) => c.fileBytes)),
            '1.00×',
            '',
            ratio(gCycleScript, gCycleBrief),
            '',
          ],
          [
            'guide: disaster-recovery.sh as written (+ pre-recovery backup)',
            seconds(gBackup),
            seconds(med(guide, (c) => c.restoreMs)),
            seconds(gCycleScript),
            mb(med(guide, (c) => c.fileBytes)),
            ratio(gCycleBrief, gCycleScript),
            '',
            '1.00×',
            '',
          ],
          ...sums.map((s) => [
            `probe-ops, ${s.v.label}`,
            seconds(s.backup),
            seconds(s.restore),
            seconds(s.cycle),
            mb(s.bytes),
            ratio(gCycleBrief, s.cycle),
            `${s.pairedCycle.toFixed(2)}×`,
            ratio(gCycleScript, s.cycle),
            `${s.pairedScript.toFixed(2)}×`,
          ]),
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      '"Per round": the median over the rounds of the ratio within each round (guide and setting measured minutes apart), which cancels slow drifts of the machine\'s load; the other ratio columns divide medians.',
      '',
      `The guide's restore, split (medians, from its timestamps): pre-recovery backup ${seconds(med(guide, (c) => c.preBackupMs))}, \`docker stop\` ${seconds(med(guide, (c) => c.stopMs))}, DROP + CREATE ${seconds(med(guide, (c) => c.dropCreateMs))}, \`gunzip -c | psql\` ${seconds(med(guide, (c) => c.loadMs))}, \`docker start\` ${seconds(med(guide, (c) => c.startMs))}; psql printed ${Math.max(...guide.map((c) => c.psqlErrors))} ERROR lines at most in a run.`,
      '',
      'Where `probe-ops restore --mode full` spends its time (median of each step\'s `durationMs`; safety-backup and restore run at the same time; "process" is the median of the wall time not in any step: node start, config, report; medians of parts need not add up to the median of the whole):',
      '',
      table(
        ['probe-ops setting', ...Object.keys(sums[0]!.steps), 'process', 'restore (wall)'],
        sums.map((s) => [s.v.label, ...Object.keys(sums[0]!.steps).map((id) => seconds(s.steps[id] ?? 0)), seconds(s.process), seconds(s.restore)]),
        ['l', ...Object.keys(sums[0]!.steps).map(() => 'r' as const), 'r', 'r'],
      ),
      '',
      "Like for like, dump + restore alone (guide: `pg_dump | gzip` + DROP/CREATE/`gunzip | psql`; probe-ops: the backup's `dump` step + the restore's `restore` step, i.e. without verify, safety backup, count check and swap):",
      '',
      table(
        ['contender', 'dump', 'restore', 'dump + restore', 'guide / this', 'per round'],
        [
          ['guide', seconds(gBackup), seconds(med(guide, (c) => c.dropCreateMs + c.loadMs)), seconds(gLike), '1.00×', ''],
          ...sums.map((s) => [
            `probe-ops, ${s.v.label}`,
            seconds(s.dumpStep),
            seconds(s.steps.restore ?? 0),
            seconds(s.like),
            ratio(gLike, s.like),
            `${s.pairedLike.toFixed(2)}×`,
          ]),
        ],
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      '### 2. The cost of the checksum',
      '',
      "The bare `pg_dump` has the same format, level and jobs, written straight to a file (no hashing, no row counts, no fsync, no node). The SHA-256 column is the product's own `sha256File` / `sha256Directory` (src/backups/store.ts) run by the bench over the data the backup wrote (file in the page cache): for the custom format the product computes it while streaming, in parallel with pg_dump, so this is an upper bound of its cost; for the directory format the product runs exactly this after pg_dump, so it adds in full.",
      '',
      table(
        [
          'probe-ops setting',
          'bare pg_dump',
          'probe-ops backup (wall)',
          'dump step',
          'SHA-256 of the data',
          'SHA-256 / backup',
          'all probe-ops overhead / backup',
        ],
        sums.map((s) => [s.v.label, seconds(s.raw), seconds(s.backup), seconds(s.dumpStep), seconds(s.sha), pct(s.sha / s.backup), pct(s.overhead)]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      'The last column is the median over the runs of (probe-ops backup − bare pg_dump) / probe-ops backup: node start, the exact row counts of every table for the manifest, the checksum, fsync and the manifest together. The two dumps ran one after the other on a shared machine, so this difference is noisy (it can come out negative); the SHA-256 column is the checksum alone.',
      '',
      '### 3. Downtime of the management service during a full restore',
      '',
      table(
        ['contender', 'restore (wall)', 'management down', 'down / restore'],
        [
          [
            'guide: disaster-recovery.sh (docker stop .. docker start returned; no health wait)',
            seconds(med(guide, (c) => c.restoreMs)),
            seconds(med(guide, (c) => c.downMs)),
            pct(med(guide, (c) => c.downMs / c.restoreMs)),
          ],
          ...sums.map((s) => [
            `probe-ops, ${s.v.label} (swap step \`downtimeMs\`: stop .. healthy again)`,
            seconds(s.restore),
            seconds(s.down),
            pct(med(probe.get(s.v.key)!, (c) => c.downtimeMs / c.restoreMs)),
          ]),
        ],
        ['l', 'r', 'r', 'r'],
      ),
      '',
      `In the guide's restore \`${DATABASE}\` does not exist or is partly loaded for ${seconds(med(guide, (c) => c.databaseGoneMs))} (DROP .. end of psql), and nothing checks the result; probe-ops's live database is whole at every moment.`,
      '',
      '### Verdicts',
      '',
      `- Target 1 (probe-ops cycle at least ${TARGET_SPEEDUP}× faster than the guide's): ${met(gCycleBrief / best.cycle >= TARGET_SPEEDUP)}: the fastest setting, ${best.v.label}, takes ${seconds(best.cycle)} against the guide cycle's ${seconds(gCycleBrief)} (${ratio(gCycleBrief, best.cycle)}, per round ${best.pairedCycle.toFixed(2)}×; ${ratio(gCycleScript, best.cycle)} against the guide script as written, with its pre-recovery backup). Like for like (dump + restore alone): ${ratio(gLike, bestLike.like)} with ${bestLike.v.label}.${defaults ? ` The default setting (${defaults.v.label}): ${ratio(gCycleBrief, defaults.cycle)}.` : ''}`,
      `- Target 2 (checksum under ${pct(TARGET_CHECKSUM_SHARE)} of the backup time): ${
        checksumOk.length === sums.length
          ? met(true)
          : checksumOk.length === 0
            ? met(false)
            : `**met for ${checksumOk.map((s) => s.v.key).join(', ')}; not met for ${sums
                .filter((s) => !checksumOk.includes(s))
                .map((s) => s.v.key)
                .join(', ')}**`
      }: SHA-256 of the data ${sums.map((s) => `${pct(s.sha / s.backup)} (${s.v.key})`).join(', ')} of the backup's wall time (for the custom format an upper bound: the product hashes while pg_dump streams).`,
      `- Target 3 (management down for seconds, not the length of the restore): ${met(sums.every((s) => s.down < 10_000 && s.down < s.restore / 5))}: ${sums.map((s) => `${seconds(s.down)} of ${seconds(s.restore)} (${s.v.key})`).join(', ')}; the guide's script: ${seconds(med(guide, (c) => c.downMs))} of ${seconds(med(guide, (c) => c.restoreMs))}.`,
      '',
    )
  out.push(
    '',
    ...renderPhysical(r.physical ?? [], r.physicalCycles ?? {}, { backupMs: guide.map((c) => c.backupMs), restoreMs: guide.map((c) => c.restoreNoPreMs) }),
  )
  return out
}

// ---------------------------------------------------------------------------------------------

/** The bench's PostgreSQL with the ~1 GB demo database, the `management` container under a private dockerd, its health URL. */
async function setUp(bench: Bench, args: Args) {
  const work = await bench.tempDir('po-bench-br-')
  const cwd = path.join(work, 'cwd')
  await mkdir(cwd)

  bench.log(`starting PostgreSQL 15 (fsync ${args.fsync ? 'on' : 'off'})`)
  const onOff = args.fsync ? 'on' : 'off'
  const server = await startPostgres({
    extraConf: {
      fsync: onOff,
      synchronous_commit: onOff,
      shared_buffers: "'256MB'",
      maintenance_work_mem: "'256MB'",
      max_wal_size: "'2GB'",
      ...(args.physical.length > 0 ? ARCHIVING_SETTINGS : {}),
    },
  })
  bench.teardown.add('postgres', () => server.stop())
  bench.watch({ pids: [server.info.pid] })
  const info = server.info

  bench.log('starting a private Docker engine and the `management` container')
  const engine = await startDockerEngine()
  bench.teardown.add('docker engine (and every container in it)', async () => {
    try {
      await engine.stop()
    } catch (err) {
      // Ctrl-C signals the whole process group: dockerd may have shut down (and stopped its
      // containers) by itself before the teardown asks it to remove them. Everything else of
      // the engine's teardown ran; the /proc check still catches anything left.
      const message = err instanceof Error ? err.message : String(err)
      const onlyThat = /removing containers: [\s\S]*Cannot connect to the Docker daemon/.test(message) && !/still mounted|removing \//.test(message)
      if (!onlyThat) throw err
      bench.log('teardown: dockerd had already exited (it got the signal too); its containers went with it')
    }
  })
  bench.watch({ pids: [engine.info.pid], needles: [`${engine.info.dir}/`] })
  await runSleeperContainer(engine.info, { name: 'management', logLines: ['INFO management API started on :8000'] })
  // The management API's health: 200 while a fresh connection to network_probe answers.
  const healthUrl = await serveDatabaseHealth(bench, pgClientConfig(info, DATABASE), { timeoutMs: 2000 })

  bench.log('creating the demo database')
  const demo = await createDemoDatabase(bench, info, args)
  const expected = await counts(info, DATABASE)
  bench.log(`demo database: ${mb(demo.bytes)} (pg_database_size), ${describeCounts(expected)}, made in ${seconds(demo.loadMs)}`)
  const env = cleanEnv({
    PATH: `${PG_BIN_DIR}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGUSER: info.user,
    PGPASSWORD: info.password,
    DOCKER_HOST: engine.info.host,
    DOCKER_CLI,
  })
  const ctx: Ctx = { bin: bench.cli.bin, env, cwd, work, info, expected }
  return { ctx, engine, healthUrl, demo }
}

async function run(bench: Bench, args: Args): Promise<void> {
  const { ctx, engine, healthUrl, demo } = await setUp(bench, args)
  const { info } = ctx
  const configs = new Map<string, { configPath: string; backupDir: string }>()
  for (const v of args.variants) configs.set(v.key, await writeProbeConfig(ctx, v, healthUrl))
  const physical = await setUpPhysical(bench, ctx, args.physical)
  const physicalCycles = new Map<string, PhysicalCycle[]>(args.physical.map((c) => [c.key, []]))

  // Rounds of every contender, the order rotating; each cycle starts from the same state and must leave no database behind.
  const guide: GuideCycle[] = []
  const probe = new Map<string, ProbeCycle[]>(args.variants.map((v) => [v.key, []]))
  const cycle = (key: string, once: () => Promise<{ ms: number; line: string }>) => ({
    key,
    label: key,
    async run() {
      await normalize(info)
      const { ms, line } = await once()
      bench.log(`  ${key}: ${line}`)
      const left = (await databases(info)).filter((d) => d.startsWith(`${DATABASE}_`))
      if (left.length > 0) throw new Error(`databases left behind after ${key}: ${left.join(', ')}`)
      return { ms }
    },
  })
  const contenders = [
    cycle('guide', async () => {
      const c = await guideCycle(ctx)
      guide.push(c)
      return {
        ms: c.backupMs + c.restoreMs,
        line: `backup ${seconds(c.backupMs)}, restore ${seconds(c.restoreMs)} (pre-recovery backup ${seconds(c.preBackupMs)}, load ${seconds(c.loadMs)}), ${c.psqlErrors} psql ERROR lines`,
      }
    }),
    ...args.variants.map((v) =>
      cycle(v.key, async () => {
        const { configPath, backupDir } = configs.get(v.key)!
        const c = await probeCycle(ctx, v, configPath, backupDir)
        probe.get(v.key)!.push(c)
        const steps = Object.entries(c.steps)
          .map(([k, t]) => `${k} ${seconds(t)}`)
          .join(', ')
        return {
          ms: c.backupMs + c.restoreMs,
          line: `backup ${seconds(c.backupMs)} (bare pg_dump ${seconds(c.rawDumpMs)}, sha256 ${seconds(c.sha256Ms)}), restore ${seconds(c.restoreMs)} (${steps}), down ${seconds(c.downtimeMs)}`,
        }
      }),
    ),
    ...args.physical.map((p) =>
      cycle(p.key, async () => {
        const c = await physicalCycle(ctx, p, physical.configs.get(p.key)!)
        physicalCycles.get(p.key)!.push(c)
        const steps = Object.entries(c.steps)
          .map(([k, t]) => `${k} ${seconds(t)}`)
          .join(', ')
        return {
          ms: c.backupMs + c.restoreMs,
          line: `backup ${seconds(c.backupMs)}, restore ${seconds(c.restoreMs)} (${steps}), down ${seconds(c.downtimeMs)}, WAL ${mb(c.walBytes)} pushed in ${seconds(c.archiveWaitMs)} (untimed), timeline ${c.timelineBefore} -> ${c.timelineAfter}`,
        }
      }),
    ),
  ]
  await interleave(bench, 'cycles', contenders, args.runs, { warmup: 0, order: 'rotate', describe: (sample) => seconds(sample.ms) })

  const measurements: Measurements = {
    settings: await pgSettings(info),
    dockerVersion: (await dockerCli(engine.info, ['version', '--format', '{{.Server.Version}}'])).stdout.trim(),
    runs: args.runs,
    days: args.days,
    rowsPerDay: args.rowsPerDay,
    database: { bytes: demo.bytes, counts: ctx.expected, loadMs: demo.loadMs },
    variants: args.variants,
    guide,
    probe: Object.fromEntries(probe),
    physical: args.physical,
    physicalCycles: Object.fromEntries(physicalCycles),
  }
  Object.assign(bench.raw, measurements)
}

export const definition: BenchDefinition<Args> = {
  name: 'backup-restore',
  title: 'Issue 4: backup and full restore',
  summary: "issue 4: backup + full restore against `pg_dump | gzip` and the guide's restore on ~1 GB, checksum cost, management downtime",
  root: 'the management service runs under a private dockerd, PostgreSQL as the postgres user',
  cli: true,
  options: {
    runs: { type: 'string', value: 'N', default: '3', help: 'rounds; every contender runs once per round' },
    variants: {
      type: 'string',
      value: 'K,K',
      default: SETTINGS.map((v) => v.key).join(','),
      help: 'probe-ops settings to measure (logical: pg_dump/pg_restore)',
    },
    physical: {
      type: 'string',
      value: 'K,K',
      default: PHYSICAL.map((c) => c.key).join(','),
      help: 'issue 14: physical contenders to measure (backup base, restore latest-base --mode full); "none" for none',
    },
    only: {
      type: 'string',
      value: 'K,K',
      help: `only these contenders, instead of --variants and --physical (guide is always run: every ratio is against it), e.g. --only physical,custom-z1`,
    },
    days: { type: 'string', value: 'N', default: '120', help: 'days of task_results (120 × 41500 a day: about 1 GB)' },
    'rows-per-day': { type: 'string', value: 'N', default: '41500', help: 'task_results a day' },
    fsync: { type: 'string', value: 'on|off', default: 'on', help: 'PostgreSQL fsync/synchronous_commit (on, as in production)' },
  },
  parse(values) {
    const only = text(values, 'only')
    const pick = <T extends { key: string }>(name: string, known: T[], keys: string[]): T[] =>
      keys.map((k) => {
        const found = known.find((v) => v.key === k)
        if (!found) throw new UsageError(`--${name}: unknown ${k} (known: ${known.map((v) => v.key).join(', ')})`)
        return found
      })
    const list = (name: string) => (text(values, name) ?? '').split(',').filter((k) => k && k !== 'none')
    let variants: Setting[]
    let physical: PhysicalContender[]
    if (only !== undefined) {
      const keys = list('only').filter((k) => k !== 'guide')
      const all: { key: string }[] = [...SETTINGS, ...PHYSICAL]
      pick('only', [{ key: 'guide' }, ...all], keys)
      variants = SETTINGS.filter((v) => keys.includes(v.key))
      physical = PHYSICAL.filter((c) => keys.includes(c.key))
    } else {
      variants = pick('variants', SETTINGS, list('variants'))
      physical = pick('physical', PHYSICAL, list('physical'))
    }
    if (variants.length + physical.length === 0) throw new UsageError('name at least one probe-ops contender (--variants, --physical or --only)')
    const fsync = text(values, 'fsync')
    if (fsync !== 'on' && fsync !== 'off') throw new UsageError('--fsync must be on or off')
    return {
      runs: integer(values, 'runs'),
      variants,
      physical,
      days: integer(values, 'days'),
      rowsPerDay: integer(values, 'rows-per-day'),
      fsync: fsync === 'on',
    }
  },
  run,
  render,
}

runIfMain(import.meta, definition)
