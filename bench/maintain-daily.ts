/**
 * Benchmark of issue 3: `probe-ops maintain daily` against the guide's daily-maintenance.sh.
 *
 *   npm run bench -- maintain-daily [--rows 2000000] [--runs 3] [--small-rows 500000]
 *        [--part-runs 5] [--batch-rows 5000,20000] [--writer-interval 10] [--build] [--raw FILE]
 *
 * Run as root: starts a private PostgreSQL 15 (test/bed/postgres.ts, as the `postgres` OS user,
 * on 127.0.0.1, default durability settings: fsync and synchronous_commit on, shared_buffers
 * 128MB) and builds the demo schema with `--rows` task_results over 120 days (a quarter older
 * than 90 days) once, as template databases (bench/maintain/data.ts). Every measured run works
 * on a fresh CREATE DATABASE ... TEMPLATE copy, dropped afterwards, while a separate process
 * (bench/maintain/writer.ts) inserts one result every --writer-interval ms and records how long
 * each insert takes. It measures, interleaved run by run:
 *   A. the guide's `DELETE FROM task_results WHERE execution_time < now() - interval '90 days'`
 *      (psql, as the script runs it) against `probe-ops maintain daily --only retention` with each
 *      --batch-rows: wall time, the longest transaction (the DELETE's one statement; the
 *      report's data.rules[0].longestBatchMs), the writer's insert latency; then chooses a batch
 *      size by issue 3's targets, and kills each contender with SIGKILL at half its median time
 *      to count the deleted rows that stayed deleted (and lets probe-ops run again to finish);
 *   B. the guide's `VACUUM ANALYZE;` + `REINDEX DATABASE` (two psql calls, as the script does)
 *      against `--only vacuum,reindex` (reindex.minIndexBytes 0, minBloatPercent 10), on a copy
 *      where the DELETE has left dead rows and bloated indexes, once with probe-ops' own bloat
 *      estimate and once with pgstattuple installed (its pgstatindex method): the writer's
 *      longest wait, what each method finds bloated;
 *   C. `--only retention` on the same rows partitioned by day (and on a --small-rows subset),
 *      with the server log's ERROR lines (and their DETAIL/STATEMENT) of every run;
 *   C′. the partition drops while another session holds a lock on `tasks` (a report's open
 *      transaction): probe-ops' run then (outcome, the writer's longest wait) and the next run
 *      after the lock is gone; beside it, the statement the code before sent (ALTER TABLE … DROP
 *      CONSTRAINT under lock_timeout 2 s), and which locks each way of dropping needs;
 *   D. the whole `maintain daily` run, step by step.
 * The parts: bench/maintain/lab.ts (PostgreSQL, the writer, one measured run), contenders.ts
 * (what each contender does and verifies), render.ts (the markdown and the verdicts).
 */
import pg from 'pg'
import { pgClientConfig } from '../test/bed/postgres.js'
import { integer, integers, interleave, runIfMain, type Bench, type BenchDefinition } from './lib/harness.js'
import { median } from './lib/stats.js'
import { runShape, type Shape } from './maintain/batch-shapes.js'
import {
  fullRun,
  guideDelete,
  guideVacuumReindex,
  heldPartitionedRetention,
  heldPreviousDrop,
  killed,
  partitionedRetention,
  probeVacuumReindex,
  retention,
  dropLockNeeds,
  type DeleteDetail,
  type KillDetail,
} from './maintain/contenders.js'
import { RETENTION_DAYS, buildBloated, buildFlat, buildPartitioned, copyDatabase, countRows, dropDatabase } from './maintain/data.js'
import { DAY_MS, byLabel, contender, epochNow, fmt, fmtN, fmtX, pooled, rounds, setUpLab, type Args, type Lab, type Measured } from './maintain/lab.js'
import {
  TARGET_BATCH_MS,
  heldSection,
  intro,
  partitionedSection,
  retentionSection,
  vacuumReindexSection,
  verdicts,
  wholeRunSection,
  type Candidate,
  type DataSets,
  type Results,
  type RetentionSummary,
} from './maintain/render.js'

/** The template databases (bench/maintain/data.ts), built once; every run works on a copy. */
async function buildDataSets(lab: Lab): Promise<DataSets> {
  const { sql, args } = lab
  const log = (line: string): void => lab.bench.log(line)
  const [version] = await sql<{ v: string }>('postgres', `select current_setting('server_version') as v`)
  const settings = await sql<{ name: string; setting: string }>(
    'postgres',
    `select name, current_setting(name) as setting from pg_settings where source = 'configuration file' and name not in ('port', 'unix_socket_directories', 'listen_addresses') order by name`,
  )
  let t = epochNow()
  log(`building tpl_flat: ${fmtN(args.rows)} rows over 120 days`)
  const flat = await buildFlat(sql, 'tpl_flat', args.rows)
  const flatMs = epochNow() - t
  log(`  ${fmtN(flat.rows)} rows (${fmtN(flat.older)} older than 90 days) in ${fmt(flatMs)}`)
  t = epochNow()
  log('building tpl_bloated (the DELETE done, not vacuumed)')
  const bloatedDeleted = await buildBloated(sql, 'tpl_flat', 'tpl_bloated')
  log('building the partitioned sets')
  const every = Math.max(1, Math.round(flat.rows / args.smallRows))
  const partSmall = await buildPartitioned(sql, 'tpl_flat', 'tpl_part_small', every)
  const partBig = await buildPartitioned(sql, 'tpl_flat', 'tpl_part_big', 1)
  log(`  partitioned: ${fmtN(partSmall.rows)} and ${fmtN(partBig.rows)} rows in ${partBig.partitions} daily partitions (${fmt(epochNow() - t)})`)
  return { version: version!.v, settings, flat, flatMs, bloatedDeleted, partSmall, partBig }
}

/** A: the guide's DELETE against retention with each batch size; chooses the batch size C and D use. */
async function measureRetention(lab: Lab): Promise<Pick<Results, 'A' | 'aSummary' | 'del' | 'candidates' | 'chosen'>> {
  const { args } = lab
  const aLabels = ['guide DELETE', ...args.batchRows.map((b) => `retention batchRows ${b}`)]
  const A = await rounds<DeleteDetail>(
    lab,
    'A',
    [
      contender(lab, 'guide DELETE', 'tpl_flat', guideDelete(lab)),
      ...args.batchRows.map((b) => contender(lab, `retention batchRows ${b}`, 'tpl_flat', retention(lab, b))),
    ],
    args.runs,
  )
  const deleteWall = (run: number): number => A.find((m) => m.run === run && m.label === 'guide DELETE')!.ms
  const aSummary = aLabels.map((label): RetentionSummary => {
    const runs = byLabel(A, label)
    return {
      label,
      wall: median(runs.map((m) => m.ms)),
      stepMs: runs[0]!.detail.stepMs === undefined ? undefined : median(runs.map((m) => m.detail.stepMs!)),
      ratio: median(runs.map((m) => m.ms / deleteWall(m.run))),
      stepRatio: median(runs.map((m) => (m.detail.stepMs ?? m.ms) / deleteWall(m.run))),
      longestTx: median(runs.map((m) => m.detail.longestTxMs)),
      longestTxMax: Math.max(...runs.map((m) => m.detail.longestTxMs)),
      batches: median(runs.map((m) => m.detail.batches)),
      deleted: median(runs.map((m) => m.detail.deleted)),
      writer: pooled(runs),
      writerP99Median: median(runs.map((m) => m.writer.p99)),
      baselineP99: median(runs.map((m) => m.baseline.p99)),
      errors: runs.reduce((s, m) => s + m.writerErrors, 0),
    }
  })
  const del = aSummary[0]!
  const candidates = aSummary.slice(1).map((s, i): Candidate => ({ ...s, batchRows: args.batchRows[i]! }))
  // The targets first (no batch over 1 s, writer p99 no worse than the DELETE's), then the lowest wall ratio.
  const score = (c: Candidate): number => (c.longestTxMax <= TARGET_BATCH_MS ? 0 : 2) + (c.writer.p99 <= del.writer.p99 ? 0 : 1)
  const chosen = [...candidates].sort((a, b) => score(a) - score(b) || a.ratio - b.ratio)[0]!
  lab.bench.log(
    `chosen batchRows ${chosen.batchRows} (ratio ${fmtX(chosen.ratio)}, longest batch ${fmt(chosen.longestTxMax)}, writer p99 ${fmt(chosen.writer.p99)} vs DELETE ${fmt(del.writer.p99)})`,
  )
  return { A, aSummary, del, candidates, chosen }
}

/** A′: the batch statement's own cost, in-process (no writer, no probe-ops start-up). */
async function measureShapes(lab: Lab, shapes: Shape[], batchRows: number): Promise<Results['A2']> {
  const variants = shapes.map((shape) => {
    let run = 0
    return {
      key: shape,
      label: shape,
      async run() {
        const db = `shape_${lab.nextId()}`
        await copyDatabase(lab.sql, 'tpl_flat', db)
        const client = new pg.Client({ ...pgClientConfig(lab.info, db), application_name: 'bench-shapes' })
        client.on('error', () => undefined)
        try {
          await client.connect()
          const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS)
          const r = await runShape(client, shape, cutoff, batchRows)
          const left = await countRows(lab.sql, db, cutoff)
          if (left.older !== 0) throw new Error(`batch shape ${shape} left ${left.older} old rows`)
          return { run: ++run, shape, ...r }
        } finally {
          await client.end().catch(() => undefined)
          await dropDatabase(lab.sql, db)
        }
      },
    }
  })
  const measured = await interleave(lab.bench, 'A′', variants, lab.args.runs, {
    warmup: 0,
    order: 'rotate',
    describe: (r) => `${fmt(r.ms)}, ${fmtN(r.rows)} rows in ${r.batches} batches, longest ${fmt(r.longestMs)}`,
  })
  return shapes.flatMap((shape) => measured.get(shape)!)
}

/** The kills: SIGKILL halfway through the work, then count what stayed deleted. */
async function measureKills(lab: Lab, del: RetentionSummary, candidates: Candidate[]): Promise<Measured<KillDetail>[]> {
  // Halfway through the work: psql's start-up is a few ms; probe-ops' is most of its wall time
  // when the deletes are fast, so it is killed at its start-up (wall − step) plus half its step.
  const once = (label: string, body: Parameters<typeof contender<KillDetail>>[3]) => contender(lab, label, 'tpl_flat', body).run()
  const K = [
    await once('guide DELETE, psql killed', killed(lab, 'delete', del.wall / 2)),
    await once('guide DELETE, psql killed + backend terminated', killed(lab, 'delete+terminate', del.wall / 2)),
  ]
  for (const c of candidates)
    K.push(await once(`retention batchRows ${c.batchRows}, probe-ops killed`, killed(lab, 'retention', c.wall - c.stepMs! / 2, c.batchRows)))
  return K
}

async function run(bench: Bench, args: Args): Promise<void> {
  const lab = await setUpLab(bench, args)
  const data = await buildDataSets(lab)
  const retentionResults = await measureRetention(lab)
  const { chosen } = retentionResults
  const shapes: Shape[] = ['single', 'probe-ops', 'key-cte', 'range']
  const A2 = await measureShapes(lab, shapes, chosen.batchRows)
  const bLabels = ['guide VACUUM ANALYZE; REINDEX DATABASE', 'probe-ops --only vacuum,reindex', 'probe-ops --only vacuum,reindex, pgstattuple installed']
  const B = await rounds(
    lab,
    'B',
    [
      contender(lab, bLabels[0]!, 'tpl_bloated', guideVacuumReindex(lab)),
      contender(lab, bLabels[1]!, 'tpl_bloated', probeVacuumReindex(lab, { pgstattuple: false })),
      contender(lab, bLabels[2]!, 'tpl_bloated', probeVacuumReindex(lab, { pgstattuple: true })),
    ],
    args.runs,
  )
  const cLabels = [`partitioned ${fmtN(data.partSmall.rows)} rows`, `partitioned ${fmtN(data.partBig.rows)} rows`]
  const C = await rounds(
    lab,
    'C',
    [
      contender(lab, cLabels[0]!, 'tpl_part_small', partitionedRetention(lab, chosen.batchRows)),
      contender(lab, cLabels[1]!, 'tpl_part_big', partitionedRetention(lab, chosen.batchRows)),
    ],
    args.partRuns,
  )
  const heldLabels = ['probe-ops --only retention, tasks held', 'the code before: DROP CONSTRAINT under lock_timeout 2 s, tasks held']
  const H = await rounds(
    lab,
    'C′',
    [
      contender(lab, heldLabels[0]!, 'tpl_part_small', heldPartitionedRetention(lab, chosen.batchRows)),
      contender(lab, heldLabels[1]!, 'tpl_part_small', heldPreviousDrop(lab)),
    ],
    args.runs,
  )
  const lockNeeds = await dropLockNeeds(lab, 'tpl_part_small')
  const D = await rounds(lab, 'D', [contender(lab, `maintain daily (batchRows ${chosen.batchRows})`, 'tpl_flat', fullRun(lab, chosen.batchRows))], args.runs)
  const K = await measureKills(lab, retentionResults.del, retentionResults.candidates)

  const results: Results = { args, data, ...retentionResults, shapes, A2, B, bLabels, C, cLabels, H, heldLabels, lockNeeds, D, K }
  const withoutLatencies = <T>(runs: Measured<T>[]) => runs.map(({ latencies: _latencies, ...m }) => m)
  Object.assign(bench.raw, {
    A: withoutLatencies(retentionResults.A),
    A2,
    B: withoutLatencies(B),
    C: withoutLatencies(C),
    H: withoutLatencies(H),
    lockNeeds,
    D: withoutLatencies(D),
    K: withoutLatencies(K),
  })
  bench.out.push(
    ...intro(results),
    ...retentionSection(results),
    ...vacuumReindexSection(results),
    ...partitionedSection(results),
    ...heldSection(results),
    ...wholeRunSection(results),
    ...verdicts(results),
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'maintain-daily',
  title: 'maintain daily (issue 3)',
  summary:
    "issue 3: retention against the guide's single DELETE (wall, longest batch, writer latency, kill -9), VACUUM + REINDEX CONCURRENTLY against REINDEX DATABASE, partitioned retention, the whole nightly run",
  root: 'it starts PostgreSQL as the postgres OS user',
  cli: true,
  options: {
    rows: { type: 'string', value: 'N', default: '2000000', help: 'task_results rows of the data set (120 days, a quarter older than 90)' },
    'small-rows': { type: 'string', value: 'N', default: '500000', help: 'rows of the smaller partitioned set' },
    runs: { type: 'string', value: 'N', default: '3', help: 'measured runs of each contender' },
    'part-runs': { type: 'string', value: 'N', default: '5', help: 'runs of each partitioned retention (they take seconds)' },
    'batch-rows': { type: 'string', value: 'A,B', default: '5000,20000', help: 'retention.batchRows values to compare' },
    'writer-interval': { type: 'string', value: 'MS', default: '10', help: "ms between the concurrent writer's inserts" },
  },
  parse: (values) => ({
    rows: integer(values, 'rows', { min: 1200 }),
    smallRows: integer(values, 'small-rows', { min: 1200 }),
    runs: integer(values, 'runs'),
    partRuns: integer(values, 'part-runs'),
    batchRows: integers(values, 'batch-rows'),
    writerInterval: integer(values, 'writer-interval'),
  }),
  run,
}

runIfMain(import.meta, definition)
