import { formatCount, formatPercent } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { textTable } from '../../report/table.js'
import { queryRows } from '../../systems/postgres.js'
import { withDatabase, type PerformanceContext } from './context.js'
import type { CacheData } from './data.js'
import { CACHE_HIT_WARNING, cacheFindings } from './findings.js'

const ratio = (hit: number, read: number): number | null => (hit + read > 0 ? hit / (hit + read) : null)

export const cache: StepDefinition<PerformanceContext, CacheData> = {
  async run({ config, top }) {
    return withDatabase(config, async (client) => {
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
        [Math.min(top, 5)],
      )
      const hit = Number(db?.hit ?? 0)
      const read = Number(db?.read ?? 0)
      const database = ratio(hit, read)
      const tables = ratio(Number(t?.heap_hit ?? 0), Number(t?.heap_read ?? 0))
      const indexes = ratio(Number(t?.idx_hit ?? 0), Number(t?.idx_read ?? 0))
      const reads = worst.map((w) => ({
        table: w.table,
        heapHit: Number(w.heap_hit),
        heapRead: Number(w.heap_read),
        ratio: ratio(Number(w.heap_hit), Number(w.heap_read)),
      }))
      const pct = (r: number | null) => (r === null ? 'n/a' : formatPercent(r, 2))
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
      return {
        summary: `database ${pct(database)}, tables ${pct(tables)}, indexes ${pct(indexes)} of blocks from shared buffers`,
        findings: cacheFindings(database, read),
        details,
        data: {
          databaseRatio: database,
          tableRatio: tables,
          indexRatio: indexes,
          blocksHit: hit,
          blocksRead: read,
          warningBelow: CACHE_HIT_WARNING,
          tablesReadingMost: reads,
        },
      }
    })
  },
}
