/**
 * Where a full restore's load time goes (issue 4): pg_restore of the demo database into a new
 * database, with the server logging every statement's duration, against the guide's
 * `gunzip -c | psql` of a plain dump of the same data, and with session settings a restore
 * can pass through PGOPTIONS.
 *
 *   npm run bench -- restore-phases [--rows-per-day N] [--days N] [--runs N]
 *
 * Run as root. Starts its own PostgreSQL 15 (test/bed/postgres.ts, the settings of
 * bench/backup-restore.ts), builds the demo database, dumps it once in each format, then in
 * rounds (order rotating) restores it each way into a fresh database and drops it.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../src/sandbox/schema.js'
import { PG_BIN_DIR, pgClientConfig, startPostgres, type PostgresInfo } from '../test/bed/postgres.js'
import { integer, interleave, runIfMain, type Bench, type BenchDefinition, type Sample, type Variant } from './lib/harness.js'
import { table } from './lib/markdown.js'
import { cleanEnv, timed } from './lib/proc.js'
import { median, seconds } from './lib/stats.js'

interface Args {
  rowsPerDay: number
  days: number
  runs: number
}

/** A restore's wall time, and the server's time per kind of statement. */
interface PhaseSample extends Sample {
  phases: Record<string, number>
}

async function withClient<T>(info: PostgresInfo, database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...pgClientConfig(info), database })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

interface Contender {
  key: string
  label: string
  run(info: PostgresInfo, database: string): Promise<void>
}

/** Statement durations the server logged since `offset`, summed by kind. */
function phases(logFile: string, offset: number): Record<string, number> {
  const text = readFileSync(logFile, 'utf8').slice(offset)
  const sums: Record<string, number> = {}
  for (const match of text.matchAll(/duration: ([\d.]+) ms {2}statement: ([^\n]*(?:\n[ \t]+[^\n]*)*)/g)) {
    // A statement of several lines goes on in lines that start with white space.
    const sql = match[2]!.toLowerCase().replace(/\s+/g, ' ')
    const kind = sql.startsWith('copy')
      ? 'COPY'
      : sql.includes('create index') || sql.includes('create unique index')
        ? 'CREATE INDEX'
        : sql.includes('foreign key')
          ? 'ADD FOREIGN KEY'
          : sql.includes('primary key') || sql.includes(' unique ')
            ? 'ADD PRIMARY KEY / UNIQUE'
            : 'other'
    sums[kind] = (sums[kind] ?? 0) + Number(match[1])
  }
  return sums
}

/** The bench's own PostgreSQL (logging every statement's duration) with the demo database, dumped in each format. */
async function setUp(bench: Bench, args: Args) {
  const server = await startPostgres({
    extraConf: {
      shared_buffers: "'256MB'",
      maintenance_work_mem: "'256MB'",
      max_wal_size: "'2GB'",
      fsync: 'on',
      synchronous_commit: 'on',
      log_min_duration_statement: 0,
    },
  })
  bench.teardown.add('postgres', () => server.stop())
  bench.watch({ pids: [server.info.pid] })
  const info = server.info
  const dir = await bench.tempDir('po-phases-')

  bench.log(`building ${(args.rowsPerDay * args.days).toLocaleString('en-US')} task results`)
  await withClient(info, info.database, async (c) => {
    await c.query(SCHEMA_SQL)
    await c.query(referenceDataSql({ agents: 10, tasks: 50 }))
    await c.query(TASK_RESULTS_SQL, [args.days, args.rowsPerDay])
    await c.query(INDEX_SQL)
    await c.query('vacuum (freeze, analyze)')
    await c.query('checkpoint')
  })
  const env = cleanEnv({ PGPASSWORD: info.password })
  const conn = ['-h', info.host, '-p', String(info.port), '-U', info.user, '--no-password']
  const custom = path.join(dir, 'db.dump')
  const plain = path.join(dir, 'db.sql.gz')
  execFileSync(path.join(PG_BIN_DIR, 'pg_dump'), [...conn, '-d', info.database, '-Fc', '-Z1', '-f', custom], { env })
  execFileSync('bash', ['-c', `"${PG_BIN_DIR}/pg_dump" ${conn.join(' ')} -d ${info.database} | gzip > ${plain}`], { env })
  bench.log(`dumps: custom -Z1 ${(statSync(custom).size / 2 ** 20).toFixed(0)} MiB, plain.gz ${(statSync(plain).size / 2 ** 20).toFixed(0)} MiB`)
  return { info, dir, env, conn, custom, plain }
}

async function run(bench: Bench, args: Args): Promise<void> {
  const { info, dir, env, conn, custom, plain } = await setUp(bench, args)
  const pgRestore =
    (jobs: number, options = '') =>
    async (_info: PostgresInfo, database: string) => {
      const result = await timed(path.join(PG_BIN_DIR, 'pg_restore'), [...conn, '-d', database, '--exit-on-error', `--jobs=${jobs}`, custom], {
        env: { ...env, ...(options ? { PGOPTIONS: options } : {}) },
        cwd: dir,
        timeoutMs: 30 * 60_000,
      })
      if (result.exitCode !== 0) throw new Error(`pg_restore: ${result.stderr}`)
    }
  const contenders: Contender[] = [
    {
      key: 'psql',
      label: 'guide: `gunzip -c | psql` (plain dump, gzip -6)',
      run: async (_i, database) =>
        void execFileSync('bash', ['-c', `gunzip -c ${plain} | "${PG_BIN_DIR}/psql" ${conn.join(' ')} -X -q -d ${database} >/dev/null`], { env }),
    },
    { key: 'j2', label: 'pg_restore --jobs=2 (probe-ops today)', run: pgRestore(2) },
    {
      key: 'j2-mwm',
      label: 'pg_restore --jobs=2, PGOPTIONS maintenance_work_mem=1GB, synchronous_commit=off',
      run: pgRestore(2, '-c maintenance_work_mem=1GB -c synchronous_commit=off'),
    },
    { key: 'j4', label: 'pg_restore --jobs=4', run: pgRestore(4) },
  ]
  let databases = 0
  /** Each restore into a fresh database after a checkpoint, its phases from the server log, the database dropped. */
  const variants: Variant<PhaseSample>[] = contenders.map((c) => ({
    key: c.key,
    label: c.label,
    async run() {
      const database = `phase_${c.key.replace(/\W/g, '_')}_${++databases}`
      await withClient(info, 'postgres', (cl) => cl.query(`create database ${database} template template0`))
      await withClient(info, 'postgres', (cl) => cl.query('checkpoint'))
      const offset = statSync(info.logFile).size
      const started = performance.now()
      await c.run(info, database)
      const ms = performance.now() - started
      await withClient(info, 'postgres', (cl) => cl.query(`drop database ${database} with (force)`))
      return { ms, phases: phases(info.logFile, offset) }
    },
  }))
  const results = await interleave(bench, 'restore', variants, args.runs, { warmup: 0, order: 'rotate', describe: (r) => seconds(r.ms) })
  bench.raw.results = Object.fromEntries(results)
  const kinds = ['COPY', 'CREATE INDEX', 'ADD PRIMARY KEY / UNIQUE', 'ADD FOREIGN KEY', 'other']
  bench.out.push(
    'Server time per kind of statement, summed over the statements (with --jobs they overlap; wall is from spawn to exit), medians of the runs:',
    '',
    table(
      ['contender', 'wall', ...kinds],
      contenders.map((c) => [
        c.label,
        seconds(median(results.get(c.key)!.map((r) => r.ms))),
        ...kinds.map((k) => seconds(median(results.get(c.key)!.map((r) => r.phases[k] ?? 0)))),
      ]),
    ),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'restore-phases',
  title: "Issue 4: where a full restore's load time goes",
  summary:
    "issue 4: where a restore's load time goes (COPY, index and constraint builds per statement, from the server log): `gunzip | psql` against `pg_restore` with 2 or 4 jobs and session settings",
  root: 'it starts PostgreSQL as the postgres OS user',
  options: {
    'rows-per-day': { type: 'string', value: 'N', default: '41500', help: 'task results a day' },
    days: { type: 'string', value: 'N', default: '120', help: 'days of task results' },
    runs: { type: 'string', value: 'N', default: '3', help: 'rounds; every contender restores once per round' },
  },
  parse: (values) => ({ rowsPerDay: integer(values, 'rows-per-day'), days: integer(values, 'days'), runs: integer(values, 'runs') }),
  run,
}

runIfMain(import.meta, definition)
