import type { Client } from 'pg'
import type { StepDefinition } from '../../report/outcome.js'
import { formatCount, formatPercent, textTable } from '../../report/table.js'
import { queryRows, sqlState } from '../../systems/postgres.js'
import { oneLine, withDatabase, type PerformanceContext } from './context.js'
import type { Statement, StatementsData } from './data.js'

/**
 * The statements that cost the most, from pg_stat_statements: by total time (what to optimise
 * first) and by mean time (what users wait on). Only this database's statements.
 */

interface Row {
  queryid: string | null
  query: string
  calls: string
  total_ms: number
  mean_ms: number
  rows: string
  hit: string
  read: string
}

const COLUMNS = (total: string, mean: string) =>
  `queryid::text as queryid, query, calls, ${total}::float8 as total_ms, ${mean}::float8 as mean_ms, rows, shared_blks_hit as hit, shared_blks_read as read`

async function top(client: Client, order: 'total' | 'mean', limit: number, names: [string, string]): Promise<Statement[]> {
  const rows = await queryRows<Row>(
    client,
    `select ${COLUMNS(...names)} from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
      order by ${order === 'total' ? names[0] : names[1]} desc limit $1`,
    [limit],
  )
  return rows.map((r) => {
    const hit = Number(r.hit)
    const read = Number(r.read)
    return {
      queryId: r.queryid,
      query: oneLine(r.query),
      calls: Number(r.calls),
      totalMs: round(r.total_ms),
      meanMs: round(r.mean_ms),
      rows: Number(r.rows),
      cacheHitRatio: hit + read > 0 ? hit / (hit + read) : null,
    }
  })
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(1)} ms`
}

function lines(list: readonly Statement[]): string[] {
  return textTable(
    ['calls', 'total', 'mean', 'rows', 'hit', 'statement'],
    list.map((s) => [
      formatCount(s.calls),
      ms(s.totalMs),
      ms(s.meanMs),
      formatCount(s.rows),
      s.cacheHitRatio === null ? '-' : formatPercent(s.cacheHitRatio),
      oneLine(s.query, 90),
    ]),
    ['r', 'r', 'r', 'r', 'r', 'l'],
  ).map((l) => `  ${l}`)
}

export const statements: StepDefinition<PerformanceContext, StatementsData> = {
  async run({ config, top: limit }) {
    return withDatabase(config, async (client) => {
      const [ext] = await queryRows<{ version: string }>(client, `select extversion as version from pg_extension where extname = 'pg_stat_statements'`)
      if (!ext) {
        return {
          summary: `pg_stat_statements is not installed in ${config.postgres.database}`,
          skipped: true,
          findings: [
            {
              id: 'pg-stat-statements-missing',
              severity: 'info',
              message: 'no statement statistics without pg_stat_statements',
              fix: 'add pg_stat_statements to shared_preload_libraries, restart PostgreSQL, then: create extension pg_stat_statements',
            },
          ],
          data: { installed: false },
        }
      }
      let names: [string, string] = ['total_exec_time', 'mean_exec_time']
      let byTotal: Statement[]
      try {
        byTotal = await top(client, 'total', limit, names)
      } catch (error) {
        if (sqlState(error) === '55000') {
          return {
            summary: 'pg_stat_statements is installed but not loaded',
            findings: [
              {
                id: 'pg-stat-statements-not-loaded',
                severity: 'medium',
                message: 'pg_stat_statements must be loaded via shared_preload_libraries',
                fix: 'add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart PostgreSQL',
              },
            ],
            data: { installed: true, loaded: false, version: ext.version },
          }
        }
        // PostgreSQL 12 and older name the columns total_time and mean_time.
        if (sqlState(error) !== '42703') throw error
        names = ['total_time', 'mean_time']
        byTotal = await top(client, 'total', limit, names)
      }
      const byMean = await top(client, 'mean', limit, names)
      const [all] = await queryRows<{ statements: string; total_ms: number | null }>(
        client,
        `select count(*) as statements, sum(${names[0]})::float8 as total_ms from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())`,
      )
      const since = await queryRows<{ reset: Date | null }>(client, 'select stats_reset as reset from pg_stat_statements_info').catch(() => [])
      const totalMs = all?.total_ms ?? 0
      const first = byTotal[0]
      const summary = first
        ? `${formatCount(Number(all?.statements ?? 0))} statements, ${ms(totalMs)} in all; the costliest ${ms(first.totalMs)} (${formatPercent(totalMs > 0 ? first.totalMs / totalMs : 0)}) over ${formatCount(first.calls)} calls`
        : 'no statements recorded yet'
      return {
        summary,
        details: byTotal.length === 0 ? [] : ['by total time:', ...lines(byTotal), 'by mean time:', ...lines(byMean)],
        data: {
          installed: true,
          loaded: true,
          version: ext.version,
          since: since[0]?.reset ? new Date(since[0].reset).toISOString() : null,
          statements: Number(all?.statements ?? 0),
          totalMs: round(totalMs),
          byTotalTime: byTotal,
          byMeanTime: byMean,
        },
      }
    })
  },
}
