/**
 * backup-restore.ts's physical contenders (issue 14, design-14 §6.4 and §9): `probe-ops backup
 * base`, then `probe-ops restore latest-base --mode full`, on the same PostgreSQL and the same
 * ~1 GB database as the guide's cycle.
 *
 * The cluster runs with archive_mode on and archive_command `/bin/true` (the guide's and the
 * logical contenders' cycles push nothing, as in issue 4's run). Before each physical cycle
 * (untimed) `probe-ops backup wal-setup --apply` points archive_command at `probe-ops wal push`
 * into the contender's repositories and checks one segment end to end; after it, archive_command
 * is `/bin/true` again. Each contender has repositories of its own: a local directory PostgreSQL's
 * user owns, plus a prefix in one s3rver (test/bed/s3.ts), plus age encryption through the `age`
 * program (`program: auto`); its PostgreSQL service is the bench's cluster, stopped through its pid
 * file and started with pg_ctl as the postgres user (test/helpers/postgres-service.ts).
 *
 * A cycle: the backup (timed); then, untimed, a change the restore is checked against, and a wait
 * until the archiver has pushed every segment written so far (so no push runs during the timed
 * restore); then the restore (timed). Two kinds of restore:
 *   - to the backup (`--target-time` just after the backup ended): the same change as the logical
 *     contenders (alice deleted, then 1 % of task_results), which the restore must undo: every
 *     table's count equals the count at the backup. Recovery stops at alice's commit, the first
 *     one after the target, before the big delete's WAL.
 *   - to the end of the archive: about a day of new task results (1/120 of the rows, copied with
 *     new ids: what the platform writes between two nightly base backups), which the restore must
 *     keep: every count equals the live count before the restore. Untimed afterwards they are
 *     deleted again (at the table's end, so VACUUM gives the space back and the layout of the rows
 *     every other cycle works on stays as it was: moving the deleted rows back instead would
 *     gather them at the end and make later deletes write far less WAL).
 * Either way the restored cluster must run on a new timeline, and the old data directory must be
 * kept beside it (removed by the bench, untimed).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type pg from 'pg'
import { stringify } from 'yaml'
import { execa } from 'execa'
import { PG_BIN_DIR, type PostgresInfo } from '../../test/bed/postgres.js'
import { osUser } from '../../test/bed/process.js'
import { S3RVER_ACCESS_KEY_ID, startS3, type S3Server } from '../../test/bed/s3.js'
import type { Bench } from '../lib/harness.js'
import { table } from '../lib/markdown.js'
import { timed, type TimedResult } from '../lib/proc.js'
import { median, ratio, seconds } from '../lib/stats.js'
import {
  DATABASE,
  RUN_TIMEOUT_MS,
  check,
  counts,
  describeCounts,
  mb,
  met,
  mutate,
  parseReport,
  sameCounts,
  step,
  withClient,
  type Counts,
  type Ctx,
} from './common.js'

export interface PhysicalContender {
  key: string
  label: string
  s3: boolean
  age: boolean
  /** Recover to the end of the archive; else to just after the backup (--target-time). */
  toEnd: boolean
}

export const PHYSICAL: PhysicalContender[] = [
  { key: 'physical', label: 'physical: local, to the backup', s3: false, age: false, toEnd: false },
  { key: 'physical-end', label: 'physical: local, to the end of the archive (a day of results after the backup)', s3: false, age: false, toEnd: true },
  { key: 'physical+s3', label: 'physical: local + s3rver, to the backup', s3: true, age: false, toEnd: false },
  { key: 'physical+s3+age', label: 'physical: local + s3rver, age (program), to the backup', s3: true, age: true, toEnd: false },
]

/** The archive_command of the cycles that are not physical: a segment counts as archived at once. */
const NO_ARCHIVE = '/bin/true'
/** How long the archiver may take to push what a cycle wrote (the delete writes ~40 segments). */
const ARCHIVE_WAIT_MS = 10 * 60_000

/** What the bench's PostgreSQL must be started with for the physical contenders. */
export const ARCHIVING_SETTINGS = { archive_mode: 'on', archive_command: `'${NO_ARCHIVE}'` }

export interface PhysicalCycle {
  backupMs: number
  /** The backup's `base` step. */
  baseStepMs: number
  /** The base's plain size (the tar, before compression and encryption). */
  bytes: number
  restoreMs: number
  steps: Record<string, number>
  downtimeMs: number
  /** Which repository the restore read (the prepare step's `from`). */
  from: string
  /** WAL written from the backup's end to the restore (pg_wal_lsn_diff). */
  walBytes: number
  /** Untimed: waiting for the archiver to push it. */
  archiveWaitMs: number
  timelineBefore: number
  timelineAfter: number
  /** The recovery as the side cluster's log tells it (its last start in pitr.log). */
  recovery: RecoveryLog | undefined
  /** What the restore's WAL spool served, from the recover step's summary (absent in runs before the spool). */
  spool?: SpoolWork | undefined
}

/** The recover step's "WAL: N files (size), M of them read ahead". */
export interface SpoolWork {
  files: number
  readAhead: number
}

export function readSpoolWork(summary: string): SpoolWork | undefined {
  const m = /WAL: (\d+) files \([^)]*\), (\d+) of them read ahead/.exec(summary)
  return m ? { files: Number(m[1]), readAhead: Number(m[2]) } : undefined
}

/** Milliseconds from the side cluster's first log line of its last start. */
export interface RecoveryLog {
  /** "database system was interrupted" .. "starting point-in-time/archive recovery": the data directory synced (recovery_init_sync_method), the newest timeline looked up through restore_command. */
  syncDone: number
  redoStarts: number
  redoDone: number
  ready: number
  /** WAL files restore_command brought ("restored log file" lines: segments, and history files). */
  restored: number
  /** The log lines of that start, for the --raw file. */
  lines: string[]
}

const LOG_TIME = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (UTC|GMT)/

/** The side cluster's log (pg_ctl -l pitr.log, kept in the recovered data directory): when it started replaying, ended, answered. */
export function readRecoveryLog(text: string): RecoveryLog | undefined {
  const lines = text.split('\n')
  const first = lines.findLastIndex((l) => /starting PostgreSQL/.test(l))
  if (first < 0) return undefined
  const last = lines.slice(first)
  const at = (l: string | undefined) => {
    const m = l ? LOG_TIME.exec(l) : null
    return m ? Date.parse(`${m[1]!.replace(' ', 'T')}Z`) : NaN
  }
  const t0 = at(last[0])
  const when = (re: RegExp) => at(last.find((l) => re.test(l))) - t0
  return {
    syncDone: when(/starting (point-in-time|archive) recovery/) - when(/database system was interrupted/),
    redoStarts: when(/redo starts at/),
    redoDone: when(/redo done at|archive recovery complete/),
    ready: when(/database system is ready to accept connections/),
    restored: last.filter((l) => /restored log file/.test(l)).length,
    lines: last.slice(0, 80),
  }
}

/**
 * A contender's directory, which PostgreSQL's user goes through (its wal push and wal fetch read the
 * configuration there): a local repository it owns, s3rver's credentials and an age identity
 * that only it (and root) can read, as `backup wal-setup` asks on a host.
 */
async function contenderFiles(key: string): Promise<{ root: string; local: string; credentials: string; identity: string; recipient: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), `po-bench-${key.replaceAll('+', '-')}-`))
  chmodSync(root, 0o711)
  const postgres = osUser('postgres')
  const local = path.join(root, 'local')
  const credentials = path.join(root, 'credentials')
  const identity = path.join(root, 'identity')
  mkdirSync(local, { mode: 0o700 })
  writeFileSync(credentials, `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = S3RVER\n`)
  await execa('age-keygen', ['-o', identity])
  for (const owned of [local, credentials, identity]) chownSync(owned, postgres.uid, postgres.gid)
  chmodSync(credentials, 0o600)
  chmodSync(identity, 0o600)
  const recipient = (await execa('age-keygen', ['-y', identity])).stdout.trim()
  return { root, local, credentials, identity, recipient }
}

/** The bench's cluster as probe-ops' postgres service: stopped through its pid file, started with pg_ctl as its user. */
function clusterService(dataDir: string): Record<string, unknown> {
  const pgCtl = path.join(PG_BIN_DIR, 'pg_ctl')
  const start = ['runuser', '-u', 'postgres', '--', pgCtl, '-D', dataDir, '-l', path.join(path.dirname(dataDir), 'restarted.log'), '-w', 'start']
  const off = { enabled: false }
  return {
    management: off,
    web: off,
    redis: off,
    postgres: { runtime: 'process', pidFile: path.join(dataDir, 'postmaster.pid'), dataDir, start, readinessTimeoutSeconds: 60, stopGraceSeconds: 30 },
  }
}

export interface PhysicalSetup {
  configs: Map<string, string>
}

/** s3rver when a contender needs it, and each contender's repositories and configuration. */
export async function setUpPhysical(bench: Bench, ctx: Ctx, contenders: PhysicalContender[]): Promise<PhysicalSetup> {
  // PostgreSQL's user runs wal push and wal fetch from the bench's private copy of the CLI.
  await chmod(bench.cli.root, 0o755)
  let s3: S3Server | undefined
  if (contenders.some((c) => c.s3)) {
    bench.log('starting s3rver')
    s3 = await startS3()
    bench.teardown.add('s3rver', () => s3!.stop())
    bench.watch({ needles: [`${s3.dir}`] })
  }
  // The restored cluster is started by probe-ops (pg_ctl), no longer a child of the bench.
  bench.watch({ needles: [`${path.dirname(ctx.info.dataDir)}/`] })
  const configs = new Map<string, string>()
  for (const c of contenders) {
    const files = await contenderFiles(c.key)
    bench.teardown.add(`remove ${files.root}`, () => rm(files.root, { recursive: true, force: true }))
    bench.watch({ needles: [`${files.root}/`] })
    const repositories: Record<string, unknown>[] = [{ name: 'local', type: 'local', path: files.local }]
    if (c.s3)
      repositories.push({
        name: 'offsite',
        type: 's3',
        bucket: s3!.bucket,
        prefix: `${c.key}/`,
        endpoint: s3!.endpoint,
        forcePathStyle: true,
        credentialsFile: files.credentials,
      })
    const config = {
      host: 'bench',
      log: { file: path.join(files.root, 'maintenance.log') },
      lock: { dir: path.join(files.root, 'lock') },
      postgres: { host: ctx.info.host, port: ctx.info.port, user: ctx.info.user, database: DATABASE },
      services: clusterService(ctx.info.dataDir),
      backup: {
        dir: files.local,
        repositories,
        ...(c.age ? { encryption: { recipients: [files.recipient], identityFile: files.identity, program: 'auto' } } : {}),
      },
    }
    const configPath = path.join(files.root, 'probe-ops.yaml')
    writeFileSync(configPath, stringify(config))
    // PostgreSQL's user reads it (archive_command, restore_command).
    chmodSync(configPath, 0o644)
    configs.set(c.key, configPath)
  }
  return { configs }
}

async function one<R extends pg.QueryResultRow>(info: PostgresInfo, sql: string): Promise<R> {
  return withClient(info, DATABASE, async (c) => (await c.query<R>(sql)).rows[0]!)
}

/** The timeline the cluster writes WAL on (the first 8 hex digits of the current segment's name). */
async function timeline(info: PostgresInfo): Promise<number> {
  const { name } = await one<{ name: string }>(info, 'select pg_walfile_name(pg_current_wal_lsn()) as name')
  return parseInt(name.slice(0, 8), 16)
}

/** Ends the current segment and waits until the archiver has pushed it (and so everything before it). */
async function archiveNow(info: PostgresInfo): Promise<void> {
  const { segment } = await one<{ segment: string }>(info, 'select pg_walfile_name(pg_switch_wal()) as segment')
  const deadline = Date.now() + ARCHIVE_WAIT_MS
  for (;;) {
    const state = await one<{ last: string | null; failed: string; failure: string | null }>(
      info,
      'select last_archived_wal as last, failed_count as failed, last_failed_wal as failure from pg_stat_archiver',
    )
    if (state.last !== null && state.last >= segment) return
    if (Date.now() > deadline)
      throw new Error(
        `${segment} not archived after ${ARCHIVE_WAIT_MS / 1000} s (last archived ${state.last}, ${state.failed} failures, last ${state.failure})`,
      )
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function setArchiveCommand(info: PostgresInfo, command: string): Promise<void> {
  await withClient(info, DATABASE, async (c) => {
    await c.query(`alter system set archive_command = '${command.replaceAll("'", "''")}'`)
    await c.query('select pg_reload_conf()')
  })
}

/** A change recovery to the end must keep: about a day of new task results. Returns the highest id before it. */
async function addDay(info: PostgresInfo): Promise<string> {
  return withClient(info, DATABASE, async (c) => {
    const { last } = (await c.query<{ last: string }>('select max(id) as last from task_results')).rows[0]!
    await c.query(
      `insert into task_results (task_id, agent_id, execution_time, status, response_time_ms, error_message, result, created_at)
       select task_id, agent_id, execution_time + interval '1 day', status, response_time_ms, error_message, result, now() from task_results where id % 120 = 1`,
    )
    await c.query('checkpoint')
    return last
  })
}

async function removeDay(info: PostgresInfo, last: string): Promise<void> {
  await withClient(info, DATABASE, (c) => c.query('delete from task_results where id > $1', [last]))
}

function failedSteps(report: { steps: { id: string; status: string; error?: { message: string } }[] }): string {
  return report.steps.map((s) => `${s.id} ${s.status}${s.error ? ` (${s.error.message})` : ''}`).join(', ')
}

/** One cycle of a physical contender: backup, change, restore, verified; the cluster left as it was before it. */
export async function physicalCycle(ctx: Ctx, c: PhysicalContender, configPath: string): Promise<PhysicalCycle> {
  const { info } = ctx
  const run = (args: string[]): Promise<TimedResult> =>
    timed(process.execPath, [ctx.bin, ...args, '--config', configPath], { env: ctx.env, cwd: ctx.cwd, timeoutMs: RUN_TIMEOUT_MS })

  const setup = await run(['backup', 'wal-setup', '--apply', '--json'])
  check(setup, `probe-ops backup wal-setup --apply (${c.key})`)
  const timelineBefore = await timeline(info)

  const backup = await run(['backup', 'base', '--json'])
  check(backup, `probe-ops backup base (${c.key})`)
  const base = step(parseReport(backup, 'backup base'), 'base')
  const bytes = base.data!.bytes as number

  const { at, lsn } = await one<{ at: Date; lsn: string }>(info, 'select clock_timestamp() as at, pg_current_wal_lsn() as lsn')
  // The target strictly before the change's first commit.
  await new Promise((r) => setTimeout(r, 50))
  const lastBefore = c.toEnd ? await addDay(info) : undefined
  if (!c.toEnd) await mutate(info)
  const expected: Counts = c.toEnd ? await counts(info, DATABASE) : ctx.expected
  const { walBytes } = await one<{ walBytes: string }>(info, `select pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsn}') as "walBytes"`)
  const waitStarted = performance.now()
  await archiveNow(info)
  const archiveWaitMs = performance.now() - waitStarted

  const target = c.toEnd ? [] : ['--target-time', at.toISOString()]
  const restore = await run(['restore', 'latest-base', '--mode', 'full', ...target, '--yes', '--json'])
  const report = parseReport(restore, `restore latest-base (${c.key})`)
  check(restore, `probe-ops restore latest-base --mode full (${c.key}): ${failedSteps(report)}`)
  const switched = step(report, 'switch').data as { previous: string; downtimeMs: number }

  const now = await counts(info, DATABASE)
  if (!sameCounts(now, expected))
    throw new Error(`probe-ops restore latest-base (${c.key}): after the restore ${DATABASE} has ${describeCounts(now)}; expected ${describeCounts(expected)}`)
  const timelineAfter = await timeline(info)
  if (timelineAfter <= timelineBefore)
    throw new Error(
      `probe-ops restore latest-base (${c.key}): the cluster is on timeline ${timelineAfter}, as before the restore (${timelineBefore}): nothing was recovered`,
    )
  if (!existsSync(path.join(switched.previous, 'PG_VERSION')))
    throw new Error(`probe-ops restore latest-base (${c.key}): the old data directory ${switched.previous} is not there`)

  const recovery = readRecoveryLog(await readFile(path.join(info.dataDir, 'pitr.log'), 'utf8').catch(() => ''))
  // Untimed: the cluster back to the state every cycle starts from.
  await rm(switched.previous, { recursive: true, force: true })
  if (lastBefore !== undefined) await removeDay(info, lastBefore)
  await setArchiveCommand(info, NO_ARCHIVE)
  const steps: Record<string, number> = {}
  for (const s of report.steps) steps[s.id] = s.durationMs
  return {
    backupMs: backup.ms,
    baseStepMs: base.durationMs,
    bytes,
    restoreMs: restore.ms,
    steps,
    downtimeMs: switched.downtimeMs,
    from: (step(report, 'prepare').data?.from as string | undefined) ?? '',
    walBytes: Number(walBytes),
    archiveWaitMs,
    timelineBefore,
    timelineAfter,
    recovery,
    spool: readSpoolWork(step(report, 'recover').summary),
  }
}

// ---------------------------------------------------------------------------------------------
// The markdown, from the measurements alone

/** The spool's figures as medians, "–" for a run made before the spool (its --raw file has none). */
function spoolMedians(cs: PhysicalCycle[]): { files: string; readAhead: string } {
  const works = cs.flatMap((x) => (x.spool ? [x.spool] : []))
  if (works.length === 0) return { files: '–', readAhead: '–' }
  return { files: String(median(works.map((w) => w.files))), readAhead: String(median(works.map((w) => w.readAhead))) }
}

/** Issue 14's targets against the guide's cycle and restore (without its pre-recovery backup). */
const TARGET_CYCLE = 2
const TARGET_RESTORE = 3

/** The guide's figures of each round, in round order (paired with each contender's). */
export interface GuideRounds {
  backupMs: number[]
  restoreMs: number[]
}

export function renderPhysical(contenders: PhysicalContender[], cycles: Record<string, PhysicalCycle[]>, guide: GuideRounds): string[] {
  if (contenders.length === 0) return []
  const gCycles = guide.backupMs.map((b, i) => b + guide.restoreMs[i]!)
  const gCycle = median(gCycles)
  const gRestore = median(guide.restoreMs)
  const sums = contenders.map((c) => {
    const cs = cycles[c.key]!
    const med = (f: (x: PhysicalCycle) => number): number => median(cs.map(f))
    const stepIds = Object.keys(cs[0]!.steps)
    const logs = cs.flatMap((x) => (x.recovery ? [x.recovery] : []))
    const logMed = (f: (l: RecoveryLog) => number): number => (logs.length ? median(logs.map(f)) : NaN)
    const stepSum = (x: PhysicalCycle) => Object.values(x.steps).reduce((a, b) => a + b, 0)
    return {
      c,
      backup: med((x) => x.backupMs),
      baseStep: med((x) => x.baseStepMs),
      restore: med((x) => x.restoreMs),
      cycle: med((x) => x.backupMs + x.restoreMs),
      pairedCycle: median(cs.map((x, i) => gCycles[i]! / (x.backupMs + x.restoreMs))),
      pairedRestore: median(cs.map((x, i) => guide.restoreMs[i]! / x.restoreMs)),
      roundsCycle: cs.map((x, i) => `${(gCycles[i]! / (x.backupMs + x.restoreMs)).toFixed(2)}×`).join(', '),
      roundsRestore: cs.map((x, i) => `${(guide.restoreMs[i]! / x.restoreMs).toFixed(2)}×`).join(', '),
      steps: Object.fromEntries(stepIds.map((id) => [id, med((x) => x.steps[id] ?? 0)])),
      process: med((x) => x.restoreMs - stepSum(x)),
      down: med((x) => x.downtimeMs),
      bytes: med((x) => x.bytes),
      wal: med((x) => x.walBytes),
      archiveWait: med((x) => x.archiveWaitMs),
      from: [...new Set(cs.map((x) => x.from))].join('; '),
      log: {
        sync: logMed((l) => l.syncDone),
        start: logMed((l) => l.redoStarts),
        replay: logMed((l) => l.redoDone - l.redoStarts),
        end: logMed((l) => l.ready - l.redoDone),
        ready: logMed((l) => l.ready),
        restored: logMed((l) => l.restored),
      },
      spool: spoolMedians(cs),
    }
  })
  const stepIds = Object.keys(sums[0]!.steps)
  const out: string[] = [
    '### 4. Issue 14: physical full restore (`backup base`, then `restore latest-base --mode full`)',
    '',
    `Measured in the same rounds as the contenders above, against the guide's cycle (\`pg_dump | gzip\`, then DROP/CREATE/\`gunzip | psql\`, without the script's pre-recovery backup). Targets: cycle ≥ ${TARGET_CYCLE}× faster, restore alone ≥ ${TARGET_RESTORE}× faster. "Per round": the median of the ratios within each round; the rounds' own ratios follow.`,
    '',
    table(
      ['contender (median of runs)', 'backup', 'restore', 'cycle', 'base (plain tar)', 'guide cycle / this', 'per round', 'guide restore / this', 'per round'],
      [
        [
          'guide: `pg_dump | gzip`, then DROP/CREATE/`gunzip | psql`',
          seconds(median(guide.backupMs)),
          seconds(gRestore),
          seconds(gCycle),
          '',
          '1.00×',
          '',
          '1.00×',
          '',
        ],
        ...sums.map((s) => [
          `probe-ops, ${s.c.label}`,
          seconds(s.backup),
          seconds(s.restore),
          seconds(s.cycle),
          mb(s.bytes),
          ratio(gCycle, s.cycle),
          `${s.pairedCycle.toFixed(2)}× (${s.roundsCycle})`,
          ratio(gRestore, s.restore),
          `${s.pairedRestore.toFixed(2)}× (${s.roundsRestore})`,
        ]),
      ],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Where the restore spends its time (median of each step\'s `durationMs`: verify = manifest, identity and programs checked; prepare = fetch + checksum (+ decrypt) + `tar --zstd -x` as postgres into the side directory; recover = side cluster started, WAL read into the restore\'s spool and replayed, promoted; check = table counts; switch = side cluster stopped, live stopped, renames, started, ready; "down" = the switch\'s `downtimeMs`, live stopped .. ready on the recovered data; "process" = wall time outside the steps: node start, config, report). The backup\'s `base` step and the WAL written between the backup and the restore (pushed before the restore, untimed) beside it:',
    '',
    table(
      ['contender', ...stepIds, 'of which down', 'process', 'restore (wall)', 'backup: base step', 'WAL after the backup', 'read from'],
      sums.map((s) => [
        s.c.key,
        ...stepIds.map((id) => seconds(s.steps[id] ?? 0)),
        seconds(s.down),
        seconds(s.process),
        seconds(s.restore),
        seconds(s.baseStep),
        mb(s.wal),
        s.from,
      ]),
      ['l', ...stepIds.map(() => 'r' as const), 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
    'The recover step, from the side cluster\'s own log (its last start in pitr.log; medians): start = postmaster start .. "redo starts" (reading the control file and backup_label; "sync + timeline lookup" = "database system was interrupted" .. "starting point-in-time recovery": the unpacked data directory made durable, by one syncfs since the side cluster runs with `recovery_init_sync_method = syncfs`, and the newest timeline\'s history file asked of restore_command; then the first segment fetched); replay = "redo starts" .. "redo done" (each WAL file copied out of the spool by restore_command, fetch.sh, then replayed; the restore job reads segments into the spool ahead of it); end = "redo done" .. "ready to accept connections" (new timeline: history files looked up through restore_command, end-of-recovery checkpoint); the rest of the step is `pg_ctl start -w` and the job\'s polling.',
    '',
    table(
      [
        'contender',
        'start',
        'of which sync + timeline lookup',
        'replay',
        'end',
        'log: first line .. ready',
        'recover step',
        'WAL files restored',
        'through the spool',
        'of them read ahead',
      ],
      sums.map((s) => [
        s.c.key,
        seconds(s.log.start),
        seconds(s.log.sync),
        seconds(s.log.replay),
        seconds(s.log.end),
        seconds(s.log.ready),
        seconds(s.steps.recover ?? 0),
        String(s.log.restored),
        s.spool.files,
        s.spool.readAhead,
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    '#### Verdicts (issue 14)',
    '',
    ...sums.flatMap((s) => [
      `- ${s.c.key}: cycle ≥ ${TARGET_CYCLE}×: ${met(gCycle / s.cycle >= TARGET_CYCLE)} (${seconds(s.cycle)} against ${seconds(gCycle)}: ${ratio(gCycle, s.cycle)}, per round ${s.pairedCycle.toFixed(2)}×); restore ≥ ${TARGET_RESTORE}×: ${met(gRestore / s.restore >= TARGET_RESTORE)} (${seconds(s.restore)} against ${seconds(gRestore)}: ${ratio(gRestore, s.restore)}, per round ${s.pairedRestore.toFixed(2)}×); PostgreSQL down ${seconds(s.down)}.`,
    ]),
    '',
  ]
  return out
}
