import type { Step, StepOutcome } from '../../report/runner.js'
import { formatCount, textTable } from '../../report/table.js'
import { postgresFailure, queryRows, withPostgres } from '../../systems/postgres.js'
import type { PerformanceContext, Problem } from './context.js'

/**
 * The tables read most by sequential scans (a missing index shows here) and those with the
 * most dead tuples (a vacuum that cannot keep up shows here).
 */

/** A table scanned this often, reading this many rows a scan on average, likely misses an index. */
const SEQ_SCANS_MIN = 100
const ROWS_PER_SCAN_MIN = 100_000
/** Mostly dead: more dead than live tuples, and at least this many. */
const DEAD_MIN = 10_000

interface Row {
  table: string
  seq_scan: string
  seq_tup_read: string
  idx_scan: string | null
  live: string
  dead: string
  last_vacuum: Date | null
  last_analyze: Date | null
}

const SQL = (order: string) => `
select case when schemaname = 'public' then relname else schemaname || '.' || relname end as table,
       seq_scan, seq_tup_read, idx_scan, n_live_tup as live, n_dead_tup as dead,
       greatest(last_vacuum, last_autovacuum) as last_vacuum, greatest(last_analyze, last_autoanalyze) as last_analyze
  from pg_stat_user_tables order by ${order} desc nulls last limit $1`

export const tablesStep: Step<PerformanceContext> = {
  id: 'tables',
  title: 'Sequential scans and dead tuples',
  async run({ config }): Promise<StepOutcome> {
    const limit = config.performance.top
    try {
      return await withPostgres(config.postgres, async (client) => {
        const map = (r: Row) => {
          const seqScans = Number(r.seq_scan)
          const live = Number(r.live)
          const dead = Number(r.dead)
          return {
            table: r.table,
            seqScans,
            seqRowsRead: Number(r.seq_tup_read),
            rowsPerSeqScan: seqScans > 0 ? Math.round(Number(r.seq_tup_read) / seqScans) : 0,
            indexScans: r.idx_scan === null ? null : Number(r.idx_scan),
            liveTuples: live,
            deadTuples: dead,
            deadRatio: live + dead > 0 ? dead / (live + dead) : 0,
            lastVacuum: r.last_vacuum ? new Date(r.last_vacuum).toISOString() : null,
            lastAnalyze: r.last_analyze ? new Date(r.last_analyze).toISOString() : null,
          }
        }
        const bySeq = (await queryRows<Row>(client, SQL('seq_tup_read'), [limit])).map(map).filter((t) => t.seqScans > 0)
        const byDead = (await queryRows<Row>(client, SQL('n_dead_tup'), [limit])).map(map).filter((t) => t.deadTuples > 0)
        const problems: Problem[] = []
        for (const t of bySeq) {
          if (t.seqScans >= SEQ_SCANS_MIN && t.rowsPerSeqScan >= ROWS_PER_SCAN_MIN) {
            problems.push({
              severity: 'warning',
              message: `${t.table}: ${formatCount(t.seqScans)} sequential scans reading ${formatCount(t.rowsPerSeqScan)} rows each`,
              next: 'find the statement (statements step) and add the index it lacks',
            })
          }
        }
        for (const t of byDead) {
          if (t.deadTuples >= DEAD_MIN && t.deadTuples > t.liveTuples) {
            problems.push({
              severity: 'warning',
              message: `${t.table} is mostly dead tuples: ${formatCount(t.deadTuples)} dead, ${formatCount(t.liveTuples)} live`,
              next: 'probe-ops maintain daily --only vacuum; if they come back, look for long transactions holding vacuum back',
            })
          }
        }
        const details = [
          'most rows read by sequential scans:',
          ...textTable(
            ['table', 'seq scans', 'rows read', 'rows/scan', 'index scans'],
            bySeq.map((t) => [
              t.table,
              formatCount(t.seqScans),
              formatCount(t.seqRowsRead),
              formatCount(t.rowsPerSeqScan),
              t.indexScans === null ? '-' : formatCount(t.indexScans),
            ]),
            ['l', 'r', 'r', 'r', 'r'],
          ).map((l) => `  ${l}`),
          'most dead tuples:',
          ...textTable(
            ['table', 'dead', 'live', 'dead %', 'last vacuum'],
            byDead.map((t) => [
              t.table,
              formatCount(t.deadTuples),
              formatCount(t.liveTuples),
              `${Math.round(t.deadRatio * 100)}%`,
              t.lastVacuum?.slice(0, 16) ?? 'never',
            ]),
            ['l', 'r', 'r', 'r', 'l'],
          ).map((l) => `  ${l}`),
        ]
        const first = bySeq[0]
        const dead = byDead[0]
        const summary = [
          first
            ? `most scanned: ${first.table} (${formatCount(first.seqScans)} sequential scans, ${formatCount(first.seqRowsRead)} rows)`
            : 'no sequential scans',
          dead ? `most dead: ${dead.table} (${formatCount(dead.deadTuples)}, ${Math.round(dead.deadRatio * 100)}%)` : 'no dead tuples',
        ].join('; ')
        const data = { bySequentialScans: bySeq, byDeadTuples: byDead, details, problems }
        if (problems.length === 0) return { summary, data }
        return { status: 'warning', summary, data, error: { message: problems[0]!.message, hint: problems[0]!.next } }
      })
    } catch (error) {
      throw postgresFailure(error, config.postgres)
    }
  },
}
