/**
 * The markdown of bench/maintain-daily.ts, from its measurements alone: one function per section,
 * and the verdicts against issue 3's targets.
 */
import { median } from '../lib/stats.js'
import { table } from '../lib/markdown.js'
import type { FullDetail, DeleteDetail, HeldDetail, KillDetail, PartitionDetail, VacReindexDetail } from './contenders.js'
import type { Shape, ShapeResult } from './batch-shapes.js'
import { BASELINE_MS, byLabel, fmt, fmtN, fmtX, lat, pooled, type Args, type LatencyStats, type Measured } from './lab.js'

/** Issue 3's targets. */
export const TARGET_RATIO = 1.5
export const TARGET_BATCH_MS = 1000
const TARGET_WAIT_MS = 1000
const TARGET_PARTITIONED_MS = 1000
/** How long the reader's transaction has been open when the contender starts (as contenders.ts holds it). */
const READER_AGE_MS = 1500

/** A retention contender of section A, over its runs. */
export interface RetentionSummary {
  label: string
  wall: number
  stepMs?: number
  ratio: number
  stepRatio: number
  longestTx: number
  longestTxMax: number
  batches: number
  deleted: number
  writer: LatencyStats
  writerP99Median: number
  baselineP99: number
  errors: number
}

export interface Candidate extends RetentionSummary {
  batchRows: number
}

export interface DataSets {
  version: string
  settings: Array<{ name: string; setting: string }>
  flat: { rows: number; rowsPerDay: number; older: number; size: string }
  flatMs: number
  /** Rows the guide's DELETE left dead in tpl_bloated. */
  bloatedDeleted: number
  partSmall: { rows: number; partitions: number }
  partBig: { rows: number; partitions: number }
}

export interface Results {
  args: Args
  data: DataSets
  A: Measured<DeleteDetail>[]
  aSummary: RetentionSummary[]
  del: RetentionSummary
  candidates: Candidate[]
  chosen: Candidate
  shapes: Shape[]
  A2: Array<{ run: number; shape: Shape } & ShapeResult>
  B: Measured<VacReindexDetail>[]
  bLabels: string[]
  C: Measured<PartitionDetail>[]
  cLabels: string[]
  H: Measured<HeldDetail>[]
  heldLabels: string[]
  lockNeeds: string[][]
  D: Measured<FullDetail>[]
  K: Measured<KillDetail>[]
}

const met = (ok: boolean): string => (ok ? '**met**' : '**not met**')

/** The single DELETE's time in the same run of A′ (its shapes' ratios are taken within a run). */
const singleMs = (A2: Results['A2'], run: number): number => A2.find((x) => x.shape === 'single' && x.run === run)!.ms

export function intro(r: Results): string[] {
  const {
    args,
    data: { version, settings, flat, flatMs },
  } = r
  const out: string[] = []
  out.push(
    `PostgreSQL ${version}; settings from its configuration file (initdb's and the bench's; everything else default, fsync and synchronous_commit on): ${settings.map((s) => `${s.name}=${s.setting}`).join(', ')}.`,
    '',
    `Data: the demo schema (src/sandbox/schema.ts) with ${fmtN(flat.rows)} task_results rows over 120 days ending now (${fmtN(flat.rowsPerDay)}/day, ${fmtN(flat.older)} older than 90 days; database ${flat.size}), built in ${fmt(flatMs)}, vacuumed and analyzed, used as a template: every run works on a fresh \`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY\` copy. ` +
      `A separate process inserts one result every ${args.writerInterval} ms (closed loop) into task_results with the current time and records each insert's latency; “writer p50 / p99 / max” pools the inserts that overlapped the contender's run over all runs, “idle p99” is the ${BASELINE_MS / 1000} s before each run. ` +
      `Runs are interleaved (the order rotates each run); ratios are taken within a run, then the median over ${args.runs} runs.`,
    '',
  )

  return out
}

export function retentionSection(r: Results): string[] {
  const { A, aSummary, chosen, K, A2, shapes } = r
  const out: string[] = []
  out.push("### A. Retention: the guide's DELETE vs `maintain daily --only retention`", '')
  out.push(
    table(
      [
        'contender',
        'wall (median)',
        'retention step',
        'wall ÷ DELETE (same run)',
        'step ÷ DELETE',
        'longest transaction (median / worst)',
        'batches',
        'rows deleted',
        'writer p50 / p99 / max',
        'writer p99 (median of runs)',
        'idle p99',
      ],
      aSummary.map((s) => [
        s.label,
        fmt(s.wall),
        s.stepMs === undefined ? '–' : fmt(s.stepMs),
        s.label === 'guide DELETE' ? '1.00×' : fmtX(s.ratio),
        s.label === 'guide DELETE' ? '1.00×' : fmtX(s.stepRatio),
        `${fmt(s.longestTx)} / ${fmt(s.longestTxMax)}`,
        fmtN(s.batches),
        fmtN(s.deleted),
        lat(s.writer),
        fmt(s.writerP99Median),
        fmt(s.baselineP99),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    "The DELETE's longest transaction is its one statement (psql `\\timing`); retention's is the report's `data.rules[0].longestBatchMs`. Wall times are of the whole process (psql; `node bin/run.js maintain daily`, whose start-up, config and lock take part of it); “retention step” is the step's own `durationMs`.",
    '',
    'Every run:',
    '',
    table(
      ['run', 'contender', 'wall', 'longest transaction', 'batches', 'rows deleted', 'writer p50 / p99 / max', 'writer errors'],
      [...A]
        .sort((a, b) => a.run - b.run)
        .map((m) => [
          String(m.run),
          m.label,
          fmt(m.ms),
          fmt(m.detail.longestTxMs),
          fmtN(m.detail.batches),
          fmtN(m.detail.deleted),
          lat(m.writer),
          String(m.writerErrors),
        ]),
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Batch size chosen by the targets (no batch over 1 s, writer p99 no worse than during the DELETE, then the lowest wall ratio): **batchRows ${chosen.batchRows}**; it is used for C and D.`,
    '',
  )

  out.push(
    "#### Killed halfway (SIGKILL halfway through the work, one run each: psql at half the DELETE's median wall time, probe-ops at its median start-up (wall − step) plus half its median step)",
    '',
  )
  out.push(
    table(
      ['contender', 'killed after', 'old rows', 'deleted rows that stayed deleted', 'server backend after the kill', 'next run'],
      K.map((m) => {
        const d = m.detail
        // What the kill hit is read from the rows, not assumed: a statement that committed before the
        // kill (or before pg_terminate_backend) kept everything, and says so.
        const backend = d.finishedBeforeKill
          ? 'the client had finished before the kill'
          : d.terminated
            ? d.kept === 0
              ? `pg_terminate_backend: gone in ${fmt(d.backendEndedAfterKillMs)}, rolled back`
              : `pg_terminate_backend came too late: the DELETE had committed (gone in ${fmt(d.backendEndedAfterKillMs)})`
            : `kept running ${fmt(d.backendEndedAfterKillMs)} more${d.resume && d.kept === d.before ? ' (every batch had committed: nothing was left to interrupt)' : ''}`
        const next = d.resume
          ? `exit ${d.resume.exitCode}, took over the dead run's lock, deleted ${fmtN(d.resume.deleted)} more in ${fmt(d.resume.ms)}; ${fmtN(d.resume.left)} old rows left`
          : '–'
        return [m.label, fmt(d.killedAtMs), fmtN(d.before), `${fmtN(d.kept)} (${((100 * d.kept) / d.before).toFixed(0)}%)`, backend, next]
      }),
      ['l', 'r', 'r', 'r', 'l', 'l'],
    ),
    '',
    (() => {
      const k = K.find((m) => m.label === 'guide DELETE, psql killed')!.detail
      if (k.finishedBeforeKill || k.kept === 0) return 'The DELETE was not under way when psql was killed (too little data to kill it halfway).'
      return `Killing psql did not stop the DELETE: the server notices a vanished client only when it next talks to it, so the statement ran ${fmt(k.backendEndedAfterKillMs)} more and committed (the cron job was gone, the transaction was not). An interruption that does stop it — \`pg_terminate_backend\`, a server restart or crash, a statement_timeout — rolls the whole DELETE back. probe-ops loses at most the batch in flight: it runs in its own transaction, which either commits whole or, its COMMIT never sent, is rolled back.`
    })(),
    '',
  )

  out.push(`#### A′. Where retention's time goes: the batch statement alone (in-process, batchRows ${chosen.batchRows}, no writer)`, '')
  out.push(
    "The same deletes sent from the bench process over one connection, so without probe-ops' start-up: the guide's single DELETE; what retention does now (`deleteInTimeWindows()` of src/jobs/maintain-daily/retention-batches.ts itself: time windows `DELETE … WHERE execution_time >= lo AND execution_time < hi`, each in begin/commit, the width adapted to batchRows rows and batchTargetMs 500 from the previous batch; the first width from the planner's estimate); the statement retention.ts sent per batch from 217523c until then (a CTE finds the batch's last key among the next n in (execution_time, id) order, then `DELETE … WHERE (execution_time, id) > cursor AND <= (select last)`: each batch read twice); and the same key-range batches in two statements (the last key by an index scan with OFFSET n−1, then the range DELETE). Each batch is its own transaction. bench/maintain/batch-shapes.ts.",
    '',
    table(
      ['shape', 'time (median)', '÷ single DELETE (same run)', 'batches', 'longest batch (worst)'],
      shapes.map((shape) => {
        const xs = A2.filter((x) => x.shape === shape)
        return [
          shape === 'single'
            ? 'single DELETE'
            : shape === 'probe-ops'
              ? 'probe-ops time windows (now)'
              : shape === 'key-cte'
                ? 'previous probe-ops batch statement (key range found by a CTE, 217523c)'
                : shape === 'join'
                  ? 'probe-ops batch statement before 217523c (select, join back)'
                  : 'key-range batches (two statements)',
          fmt(median(xs.map((x) => x.ms))),
          fmtX(median(xs.map((x) => x.ms / singleMs(A2, x.run)))),
          fmtN(median(xs.map((x) => x.batches))),
          fmt(Math.max(...xs.map((x) => x.longestMs))),
        ]
      }),
      ['l', 'r', 'r', 'r', 'r'],
    ),
    '',
  )

  return out
}

export function vacuumReindexSection(r: Results): string[] {
  const {
    B,
    bLabels,
    data: { bloatedDeleted },
  } = r
  const out: string[] = []
  out.push("### B. VACUUM + REINDEX: the guide's vs `--only vacuum,reindex`", '')
  out.push(
    `On a copy where the guide's DELETE has removed ${fmtN(bloatedDeleted)} rows (dead, not yet vacuumed: the indexes hold them). probe-ops config: \`reindex: {minIndexBytes: 0, minBloatPercent: 10}\`; the second probe-ops contender has pgstattuple installed in the copy (before the timing starts), so reindex.ts measures bloat with \`pgstatindex()\` instead of its estimate; the last column lists what each method found at or above 10%. Note: pg_stat counters start empty in a copied database, so the vacuum step's “dead rows cleared” says 0 here; the work is the same.`,
    '',
    table(
      [
        'contender',
        'wall (median)',
        'vacuum',
        'reindex',
        'task_results index bytes before → after',
        'writer longest wait (median / worst run)',
        'writer max during the reindex part (worst run)',
        'writer p50 / p99',
        'rebuilt (last run)',
        'bloat probe-ops found (last run)',
      ],
      bLabels.map((label) => {
        const ms = byLabel(B, label)
        const p = pooled(ms)
        const last = ms[ms.length - 1]!.detail
        return [
          label,
          fmt(median(ms.map((m) => m.ms))),
          fmt(median(ms.map((m) => m.detail.vacuumMs))),
          fmt(median(ms.map((m) => m.detail.reindexMs))),
          `${fmtN(median(ms.map((m) => m.detail.indexBytesBefore)) / 2 ** 20)} → ${fmtN(median(ms.map((m) => m.detail.indexBytesAfter)) / 2 ** 20)} MiB`,
          `${fmt(median(ms.map((m) => m.writer.max)))} / ${fmt(Math.max(...ms.map((m) => m.writer.max)))}`,
          fmt(Math.max(...ms.map((m) => m.windows.reindex?.max ?? Number.NaN))),
          `${fmt(p.p50)} / ${fmt(p.p99)}`,
          last.rebuilt,
          last.estimated ?? '–',
        ]
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
    '',
    'Every run:',
    '',
    table(
      ['run', 'contender', 'wall', 'vacuum', 'reindex', 'writer max', 'writer errors'],
      [...B]
        .sort((a, b) => a.run - b.run)
        .map((m) => [String(m.run), m.label, fmt(m.ms), fmt(m.detail.vacuumMs), fmt(m.detail.reindexMs), fmt(m.writer.max), String(m.writerErrors)]),
      ['r', 'l', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  )

  return out
}

export function partitionedSection(r: Results): string[] {
  const {
    C,
    cLabels,
    chosen,
    data: { partBig },
  } = r
  const out: string[] = []
  out.push('### C. Retention on task_results partitioned by day', '')
  out.push(
    `The same rows in daily range partitions on execution_time, primary key (id, execution_time) (test/helpers/platform-db.ts's layout; ${partBig.partitions} partitions), \`--only retention\` with batchRows ${chosen.batchRows}: whole partitions older than the cutoff are detached and dropped, the rows of the day the cutoff falls in are deleted in batches.`,
    '',
    table(
      [
        'data set',
        'retention step (median / worst)',
        'wall (median)',
        'runs ok',
        'partitions dropped',
        'rows deleted by batches',
        'longest batch',
        'writer p50 / p99 / max',
        'writer inserts failed',
        'old rows left / orphaned detached tables',
      ],
      cLabels.map((label) => {
        const ms = byLabel(C, label)
        const ok = ms.filter((m) => m.detail.status === 'ok')
        const orphans = ms.flatMap((m) => m.detail.orphans)
        return [
          label,
          `${fmt(median(ms.map((m) => m.detail.stepMs)))} / ${fmt(Math.max(...ms.map((m) => m.detail.stepMs)))}`,
          fmt(median(ms.map((m) => m.ms))),
          `${ok.length} of ${ms.length}`,
          ok.length ? fmtN(median(ok.map((m) => m.detail.partitionsDropped))) : '–',
          ok.length ? fmtN(median(ok.map((m) => m.detail.deleted))) : '–',
          ok.length ? fmt(Math.max(...ok.map((m) => m.detail.longestBatchMs))) : '–',
          lat(pooled(ms)),
          `${ms.reduce((n, m) => n + m.writerErrors, 0)} in ${ms.filter((m) => m.writerErrors > 0).length} runs`,
          `${fmtN(ms.reduce((n, m) => n + m.detail.left, 0))} / ${orphans.length}${orphans.length ? ` (${fmtN(ms.reduce((n, m) => n + m.detail.orphanRows, 0))} rows)` : ''}`,
        ]
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Every run:',
    '',
    table(
      ['run', 'data set', 'status', 'retention step', 'writer max', 'writer error', 'orphaned tables'],
      [...C]
        .sort((a, b) => a.run - b.run)
        .map((m) => [
          String(m.run),
          m.label,
          m.detail.error ? `${m.detail.status}: ${m.detail.error}` : m.detail.status,
          fmt(m.detail.stepMs),
          fmt(m.writer.max),
          m.writerFirstError ?? '–',
          m.detail.orphans.join(', ') || '–',
        ]),
      ['r', 'l', 'l', 'r', 'r', 'l', 'l'],
    ),
    '',
    ...(() => {
      const withErrors = [...C].sort((a, b) => a.run - b.run).filter((m) => m.detail.serverErrors.length > 0)
      if (withErrors.length === 0) return ['The server logged no ERROR during any partitioned run.', '']
      return [
        "The server log's ERROR entries during the partitioned runs, verbatim (DETAIL, CONTEXT and STATEMENT lines of the same backend under each):",
        '',
        '```',
        ...withErrors.flatMap((m) => [`-- run ${m.run}, ${m.label}`, ...m.detail.serverErrors]),
        '```',
        '',
      ]
    })(),
  )

  return out
}

export function heldSection(r: Results): string[] {
  const {
    H,
    heldLabels,
    lockNeeds,
    data: { partSmall },
  } = r
  const out: string[] = []
  out.push('### C′. Partition drops while another session holds `tasks`', '')
  out.push(
    `On the ${fmtN(partSmall.rows)}-row partitioned set, a second session runs \`begin; select count(*) from tasks\` and keeps its transaction open (a report, an idle transaction, pg_dump: an ACCESS SHARE lock on tasks), ${READER_AGE_MS / 1000} s before the contender starts and until it ends; the writer inserts into task_results all along (its foreign-key check locks tasks too). probe-ops: \`--only retention\`, then the next run once the lock is gone. The code before: the oldest partition detached, then \`alter table P drop constraint task_results_task_id_fkey\` under lock_timeout 2 s, as dropDetached() sent it.`,
    '',
    table(
      [
        'run',
        'contender',
        'outcome',
        'blocked drop (lock, attempts, waited)',
        'partitions dropped / left attached',
        'rows kept in the detached partition',
        'writer max (p99) while held',
        'writer idle max (p99), the 3 s before',
        'next run (lock gone)',
        'old rows / marked tables left after it',
      ],
      [...H]
        .sort((a, b) => a.run - b.run)
        .map((m) => [
          String(m.run),
          m.label,
          `${m.detail.status}: ${m.detail.message}`,
          m.detail.blocked ?? '–',
          m.label.startsWith('probe-ops') ? `${m.detail.partitionsDropped} / ${m.detail.leftAttached}` : '–',
          m.label.startsWith('probe-ops') ? fmtN(m.detail.markedRows) : '–',
          `${fmt(m.writer.max)} (${fmt(m.writer.p99)})`,
          `${fmt(m.baseline.max)} (${fmt(m.baseline.p99)})`,
          m.detail.next
            ? `${m.detail.next.status}: dropped ${m.detail.next.partitionsDropped} (~${fmtN(m.detail.next.rowsDropped)} rows) in ${fmt(m.detail.next.stepMs)}; writer max ${fmt(m.windows.next?.max ?? Number.NaN)}`
            : '–',
          m.detail.next ? `${fmtN(m.detail.next.left)} / ${m.detail.next.marked}` : '–',
        ]),
      ['r', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'l', 'r'],
    ),
    '',
    `Summary: the writer's longest insert while the lock was held — probe-ops ${fmt(Math.max(...byLabel(H, heldLabels[0]!).map((m) => m.writer.max)))} worst over ${byLabel(H, heldLabels[0]!).length} runs; the code before ${fmt(Math.max(...byLabel(H, heldLabels[1]!).map((m) => m.writer.max)))} worst.`,
    '',
    "Which locks each way of dropping a detached partition P takes on the other tables (in a transaction without the reader, from pg_locks, rolled back), and what it gets behind the reader with retention's 50 ms per attempt:",
    '',
    table(['statement', 'locks on tasks / agents / task_results', 'behind the reader (lock_timeout 50 ms)'], lockNeeds, ['l', 'l', 'l']),
    '',
  )

  return out
}

export function wholeRunSection(r: Results): string[] {
  const {
    D,
    chosen,
    data: { flat },
  } = r
  const out: string[] = []
  out.push(`### D. The whole \`maintain daily\` run (batchRows ${chosen.batchRows}, reindex thresholds as in B)`, '')
  const stepIds = D[0]!.detail.steps.map((s) => s.id)
  out.push(
    `On a fresh copy of the ${fmtN(flat.rows)}-row set with the writer running; 40 old log files and 5 old temp files to clean, one PostgreSQL service (runtime process) to check, disk of the work dir, a stub AlertManager on 127.0.0.1. Overall status per run: ${D.map((m) => `${m.detail.status} (exit ${m.detail.exitCode})`).join(', ')}; wall ${fmt(median(D.map((m) => m.ms)))} median; writer p50 / p99 / max ${lat(pooled(D))}.`,
    '',
    table(
      ['step', 'durationMs (median)', 'min – max', 'status', 'summary (last run)'],
      stepIds.map((id) => {
        const all = D.map((m) => m.detail.steps.find((s) => s.id === id)!)
        return [
          id,
          fmt(median(all.map((s) => s.durationMs))),
          `${fmt(Math.min(...all.map((s) => s.durationMs)))} – ${fmt(Math.max(...all.map((s) => s.durationMs)))}`,
          [...new Set(all.map((s) => s.status))].join(', '),
          all[all.length - 1]!.summary,
        ]
      }),
      ['l', 'r', 'r', 'l', 'l'],
    ),
    '',
  )

  return out
}

export function verdicts(r: Results): string[] {
  const { args, A, A2, B, C, H, D, K, candidates, del, cLabels } = r
  const out: string[] = []
  // ---- verdicts
  const bProbe = B.filter((m) => m.label.startsWith('probe-ops'))
  const bGuide = byLabel(B, 'guide VACUUM ANALYZE; REINDEX DATABASE')
  const probeWorstWait = Math.max(...bProbe.map((m) => m.writer.max))
  const guideWorstWait = Math.max(...bGuide.map((m) => m.writer.max))
  const cWorst = Math.max(...C.map((m) => m.detail.stepMs))
  const cFailed = C.filter((m) => m.detail.status !== 'ok').length
  const cWriterFailed = C.reduce((n, m) => n + m.writerErrors, 0)
  const cOrphans = C.flatMap((m) => m.detail.orphans).length
  out.push('### Verdicts', '')
  for (const c of candidates) {
    out.push(
      `- Wall time, batchRows ${c.batchRows}: ${met(c.ratio <= TARGET_RATIO)} for ≤ ${TARGET_RATIO}× — retention ${fmtX(c.ratio)} the DELETE's wall time (median of same-run ratios; ${fmt(c.wall)} vs ${fmt(del.wall)}; the step alone ${fmtX(c.stepRatio)}).`,
    )
  }
  for (const c of candidates) {
    out.push(
      `- Longest transaction, batchRows ${c.batchRows}: ${met(c.longestTxMax <= TARGET_BATCH_MS)} for no batch over 1 s — worst batch ${fmt(c.longestTxMax)} over ${args.runs} runs (${fmtN(c.batches)} batches), against the DELETE's one ${fmt(del.longestTx)} transaction.`,
    )
  }
  for (const c of candidates) {
    out.push(
      `- Writer p99, batchRows ${c.batchRows}: ${met(c.writer.p99 <= del.writer.p99)} for no worse than during the DELETE — ${fmt(c.writer.p99)} vs ${fmt(del.writer.p99)} (pooled; medians of runs ${fmt(c.writerP99Median)} vs ${fmt(del.writerP99Median)}).`,
    )
  }
  const shapeRatio = (shape: Shape): number => median(A2.filter((x) => x.shape === shape).map((x) => x.ms / singleMs(A2, x.run)))
  out.push(
    `- Why: probe-ops' time windows alone cost ${fmtX(shapeRatio('probe-ops'))} the single DELETE in-process (A′; the previous key-range statement ${fmtX(shapeRatio('key-cte'))}, two-statement key-range batches of the same size ${fmtX(shapeRatio('range'))}); the rest of the wall-time gap is the CLI's start-up (wall − step ≈ ${fmt(median(A.filter((m) => m.detail.stepMs !== undefined).map((m) => m.ms - m.detail.stepMs!)))}).`,
  )
  const kDel = K.find((m) => m.label.includes('terminated'))!
  const kDelKill = K.find((m) => m.label === 'guide DELETE, psql killed')!
  const kRet = K.filter((m) => m.detail.resume)
  // Only runs the kill really interrupted count: a run that had deleted everything proves nothing.
  const kHit = kRet.filter((m) => !m.detail.finishedBeforeKill && m.detail.kept < m.detail.before)
  const kMissed = kRet.filter((m) => !kHit.includes(m))
  const kDelText =
    kDel.detail.kept === 0
      ? `the DELETE kept 0 when its backend was stopped`
      : `the DELETE had already committed when its backend was terminated (${fmtN(kDel.detail.kept)} kept; not measured)`
  out.push(
    `- Work kept when killed halfway: ${kHit.length === 0 ? '**not measured**' : met(kHit.every((m) => m.detail.kept > 0 && m.detail.resume!.left === 0))} — ` +
      (kHit.length
        ? `probe-ops kept ${kHit.map((m) => `${fmtN(m.detail.kept)} of ${fmtN(m.detail.before)} (${m.label.replace(', probe-ops killed', '')})`).join(', ')} and the next run finished the rest`
        : 'no probe-ops run was still deleting when it was killed') +
      `${kMissed.length ? ` (${kMissed.map((m) => m.label.replace(', probe-ops killed', '')).join(', ')}: finished before the kill, not counted)` : ''}; ${kDelText}, and when only psql was killed it ran on for ${fmt(kDelKill.detail.backendEndedAfterKillMs)} and committed ${fmtN(kDelKill.detail.kept)}.`,
  )
  out.push(
    `- VACUUM + REINDEX, writer's longest wait: ${met(probeWorstWait < TARGET_WAIT_MS)} for under 1 s — probe-ops worst ${fmt(probeWorstWait)} over ${bProbe.length} runs (estimate and pgstattuple), against ${fmt(guideWorstWait)} with the guide's REINDEX DATABASE.`,
  )
  out.push(
    `- Partitioned retention: ${met(cWorst < TARGET_PARTITIONED_MS && cFailed === 0)} for under 1 s whatever the row count — ${cLabels.map((l) => `${l}: median ${fmt(median(byLabel(C, l).map((m) => m.detail.stepMs)))}`).join('; ')}; worst ${fmt(cWorst)}. ` +
      `${cFailed} of ${C.length} runs failed, the platform's writer had ${cWriterFailed} inserts fail, ${cOrphans} detached partitions were left undropped.`,
  )
  {
    const probe = byLabel(H, 'probe-ops --only retention, tasks held')
    const before = byLabel(H, 'the code before: DROP CONSTRAINT under lock_timeout 2 s, tasks held')
    const warned = probe.filter((m) => m.detail.status === 'warning' && m.detail.blocked).length
    const finished = probe.filter((m) => m.detail.next?.status === 'ok' && m.detail.next.left === 0 && m.detail.next.marked === 0).length
    out.push(
      `- Partition drops behind a session holding tasks (C′): probe-ops warned naming the partition in ${warned} of ${probe.length} runs, kept its rows, and the next run dropped everything in ${finished} of ${probe.length}; the writer's longest insert meanwhile ${fmt(Math.max(...probe.map((m) => m.writer.max)))} worst, against ${fmt(Math.max(...before.map((m) => m.writer.max)))} behind the code before's 2 s wait (which then failed: ${before[0]?.detail.message ?? '–'}).`,
    )
  }
  out.push(`- Whole run: ${D.every((m) => m.detail.status !== 'failed') ? 'completed' : 'a step failed'} — median ${fmt(median(D.map((m) => m.ms)))}; see D.`)
  out.push('')
  return out
}
