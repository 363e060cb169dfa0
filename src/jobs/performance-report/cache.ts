import type { Step, StepOutcome } from '../../report/runner.js'
import { formatCount, formatPercent, textTable } from '../../report/table.js'
import { postgresFailure, queryRows, withPostgres } from '../../systems/postgres.js'
import type { PerformanceContext } from './context.js'

/** Below this share of blocks found in shared buffers (once enough were read to tell), a warning. */
export const CACHE_HIT_WARNING = 0.95
const MIN_BLOCKS = 10_000

interface TableReads {
  table: string
  heapRead: number
  heapHit: number
  ratio: number | null
}

const ratio = (hit: number, read: number): number | null => (hit + read > 0 ? hit / (hit + read) : null)

export const cacheStep: Step<PerformanceContext> = {
  id: 'cache',
  title: 'Cache hit ratio',
  async run({ config }): Promise<StepOutcome> {
    try {
      return await withPostgres(config.postgres, async (client) => {
        const [db] = await queryRows<{ hit: string; read: string; reset: Date | null }>(
          client,
          `select blks_hit as hit, blks_read as read, stats_reset as reset from pg_stat_database where datname = current_database()`,
        )
        const [t] = await queryRows<{ heap_hit: string | null; heap_read: string | null; idx_hit: string | null; idx_read: string | null }>(
          client,
          `select sum(heap_blks_hit) as heap_hit, sum(heap_blks_read) as heap_read, sum(idx_blks_hit) as idx_hit, sum(idx_blks_read) as idx_read from pg_statio_user_tables`,
        )
        const worst = await queryRows<{ table: string; heap_hit: string; heap_read: string }>(
          client,
          `select case when schemaname = 'public' then relname else schemaname || '.' || relname end as table, heap_blks_hit as heap_hit, heap_blks_read as heap_read
             from pg_statio_user_tables where heap_blks_read > 0 order by heap_blks_read desc limit $1`,
          [Math.min(config.performance.top, 5)],
        )
        const hit = Number(db?.hit ?? 0)
        const read = Number(db?.read ?? 0)
        const database = ratio(hit, read)
        const tables = ratio(Number(t?.heap_hit ?? 0), Number(t?.heap_read ?? 0))
        const indexes = ratio(Number(t?.idx_hit ?? 0), Number(t?.idx_read ?? 0))
        const reads: TableReads[] = worst.map((w) => ({
          table: w.table,
          heapHit: Number(w.heap_hit),
          heapRead: Number(w.heap_read),
          ratio: ratio(Number(w.heap_hit), Number(w.heap_read)),
        }))
        const pct = (r: number | null) => (r === null ? 'n/a' : formatPercent(r, 2))
        const summary = `database ${pct(database)}, tables ${pct(tables)}, indexes ${pct(indexes)} of blocks from shared buffers`
        const details = [
          `blocks: ${formatCount(hit)} hit, ${formatCount(read)} read from disk${db?.reset ? ` since ${new Date(db.reset).toISOString().slice(0, 16)}Z` : ''}`,
          ...(reads.length
            ? [
                'tables reading most from disk:',
                ...textTable(
                  ['table', 'read', 'hit', 'ratio'],
                  reads.map((r) => [r.table, formatCount(r.heapRead), formatCount(r.heapHit), pct(r.ratio)]),
                  ['l', 'r', 'r', 'r'],
                ).map((l) => `  ${l}`),
              ]
            : []),
        ]
        const data = {
          databaseRatio: database,
          tableRatio: tables,
          indexRatio: indexes,
          blocksHit: hit,
          blocksRead: read,
          warningBelow: CACHE_HIT_WARNING,
          tablesReadingMost: reads,
          details,
        }
        if (database !== null && read >= MIN_BLOCKS && database < CACHE_HIT_WARNING) {
          return {
            status: 'warning',
            summary,
            data,
            error: {
              message: `cache hit ratio ${pct(database)} is below ${formatPercent(CACHE_HIT_WARNING, 0)}`,
              hint: 'raise shared_buffers (about a quarter of RAM), or find the sequential scans of large tables (see the tables step)',
            },
          }
        }
        return { summary, data }
      })
    } catch (error) {
      throw postgresFailure(error, config.postgres)
    }
  },
}
