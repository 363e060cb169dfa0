import { formatCount } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { textTable } from '../../report/table.js'
import { queryRows } from '../../systems/postgres.js'
import { withDatabase, type PerformanceContext } from './context.js'
import type { TableStatistics, TablesData } from './data.js'
import { tableFindings } from './findings.js'

/**
 * The tables read most by sequential scans (a missing index shows here) and those with the
 * most dead tuples (a vacuum that cannot keep up shows here).
 */

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

function statistics(r: Row): TableStatistics {
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

/** A column of a table list: its header beside its cell, right-aligned unless said. */
type Column = [header: string, cell: (table: TableStatistics) => string, align?: 'l' | 'r']

/** Tables under a title, as details lines: each table's name, then the columns; indented. */
function tableList(title: string, tables: readonly TableStatistics[], columns: readonly Column[]): string[] {
  const header = ['table', ...columns.map(([name]) => name)]
  const rows = tables.map((t) => [t.table, ...columns.map(([, cell]) => cell(t))])
  const align = ['l' as const, ...columns.map(([, , side = 'r']) => side)]
  return [title, ...textTable(header, rows, align).map((l) => `  ${l}`)]
}

export const tables: StepDefinition<PerformanceContext, TablesData> = {
  async run({ config, top }) {
    return withDatabase(config, async (client) => {
      const bySeq = (await queryRows<Row>(client, SQL('seq_tup_read'), [top])).map(statistics).filter((t) => t.seqScans > 0)
      const byDead = (await queryRows<Row>(client, SQL('n_dead_tup'), [top])).map(statistics).filter((t) => t.deadTuples > 0)
      const details = [
        ...tableList('most rows read by sequential scans:', bySeq, [
          ['seq scans', (t) => formatCount(t.seqScans)],
          ['rows read', (t) => formatCount(t.seqRowsRead)],
          ['rows/scan', (t) => formatCount(t.rowsPerSeqScan)],
          ['index scans', (t) => (t.indexScans === null ? '-' : formatCount(t.indexScans))],
        ]),
        ...tableList('most dead tuples:', byDead, [
          ['dead', (t) => formatCount(t.deadTuples)],
          ['live', (t) => formatCount(t.liveTuples)],
          ['dead %', (t) => `${Math.round(t.deadRatio * 100)}%`],
          ['last vacuum', (t) => t.lastVacuum?.slice(0, 16) ?? 'never', 'l'],
        ]),
      ]
      const first = bySeq[0]
      const dead = byDead[0]
      const summary = [
        first
          ? `most scanned: ${first.table} (${formatCount(first.seqScans)} sequential scans, ${formatCount(first.seqRowsRead)} rows)`
          : 'no sequential scans',
        dead ? `most dead: ${dead.table} (${formatCount(dead.deadTuples)}, ${Math.round(dead.deadRatio * 100)}%)` : 'no dead tuples',
      ].join('; ')
      return { summary, findings: tableFindings(bySeq, byDead), details, data: { bySequentialScans: bySeq, byDeadTuples: byDead } }
    })
  },
}
