/**
 * Issue 14: `probe-ops wal push` of one 16 MB segment, as PostgreSQL's archive_command runs it:
 * a cold process, spawn to exit, start-up included (bin/run.js's fast path, without oclif).
 * Target: median ≤ 0.5 s to a local repository; the S3 figure is reported beside it.
 *
 *   npm run bench -- wal-push [--runs 11] [--build]
 *
 * Root: a PostgreSQL 15 of the test bed's kind writes real segments (inserts, wal_recycle off),
 * copied out of pg_wal under their names; s3rver (test/bed/s3.ts) is the S3 repository. Each
 * variant has repositories of its own and pushes a segment it has not pushed before in every run
 * (the warm-up creates the repository file and fills the compile cache), except "again", which
 * pushes one its repositories already hold (one LIST each, nothing written). Variants:
 * `node -e 0` (the floor), `probe-ops --version` (oclif's start, for comparison), local; local +
 * s3rver; local + s3rver encrypted through the `age` program; the same through the
 * age-encryption library; and again.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { parseSegmentName, segmentName } from '../src/wal/names.js'
import { pgClientConfig, pgQuery, startPostgres } from '../test/bed/postgres.js'
import { S3RVER_ACCESS_KEY_ID, startS3, type S3Server } from '../test/bed/s3.js'
import {
  integer,
  interleave,
  medianOf,
  runIfMain,
  sampleOf,
  summaryTable,
  verdict,
  type Bench,
  type BenchDefinition,
  type SummaryRow,
  type Variant,
} from './lib/harness.js'
import { cleanEnv, fail, timed } from './lib/proc.js'
import { ms, ratio } from './lib/stats.js'

interface Args {
  runs: number
}

const TARGET_MS = 500

/** Real segments out of a fresh cluster, copied under their own names into `dir`. */
async function makeSegments(bench: Bench, dir: string, count: number): Promise<string[]> {
  bench.log(`starting PostgreSQL 15 and writing ${count} segments of WAL`)
  const server = await startPostgres({ extraConf: { wal_recycle: 'off', max_wal_size: "'4GB'", checkpoint_timeout: "'1h'" } })
  bench.teardown.add('postgres', () => server.stop())
  const config = pgClientConfig(server.info)
  const query = async (sql: string): Promise<Record<string, string> | undefined> => (await pgQuery<Record<string, string>>(config, sql)).rows[0]
  await query('CREATE TABLE measurements (id bigint, probe text, value double precision, at timestamptz DEFAULT now())')
  const first = parseSegmentName((await query('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name'))!.name!)!
  // About 7 segments per 1,000,000 rows.
  for (let done = 0; ; done++) {
    const now = parseSegmentName((await query('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name'))!.name!)!
    if (now.number - first.number > BigInt(count)) break
    await query(
      `INSERT INTO measurements SELECT i, 'probe-' || (i % 500), random() * 100 FROM generate_series(${done * 400_000}, ${(done + 1) * 400_000 - 1}) i`,
    )
  }
  const names: string[] = []
  for (let n = 1n; n <= BigInt(count); n++) {
    const name = segmentName({ timeline: first.timeline, number: first.number + n })
    copyFileSync(path.join(server.info.dataDir, 'pg_wal', name), path.join(dir, name))
    names.push(name)
  }
  return names
}

interface Setup {
  s3: S3Server
  recipient: string
  credentials: string
  work: string
}

type Kind = 'local' | 's3' | 'program' | 'library'

/** A configuration with repositories of the variant's own. */
function configFor(setup: Setup, key: string, kind: Kind): string {
  const local = path.join(setup.work, 'repositories', key)
  const repositories: Record<string, unknown>[] = [{ name: 'local', type: 'local', path: local }]
  if (kind !== 'local')
    repositories.push({
      name: 'offsite',
      type: 's3',
      bucket: setup.s3.bucket,
      prefix: `${key}/`,
      endpoint: setup.s3.endpoint,
      forcePathStyle: true,
      credentialsFile: setup.credentials,
    })
  const encryption = kind === 'program' || kind === 'library' ? { encryption: { recipients: [setup.recipient], program: kind } } : {}
  const file = path.join(setup.work, `${key}.yaml`)
  writeFileSync(
    file,
    stringify({ host: 'bench', log: { file: path.join(setup.work, 'maintenance.log') }, backup: { dir: local, repositories, ...encryption } }),
  )
  return file
}

function pushVariant(bench: Bench, setup: Setup, key: string, label: string, kind: Kind, segments: () => string, env: Record<string, string>): Variant {
  const config = configFor(setup, key, kind)
  return {
    key,
    label,
    async run() {
      const segment = segments()
      const result = await timed(process.execPath, [bench.cli.bin, 'wal', 'push', segment, '--config', config], {
        env,
        cwd: setup.work,
        timeoutMs: 60_000,
        rusage: true,
      })
      if (result.exitCode !== 0 || result.stderr !== '') fail(label, `exit ${result.exitCode}, expected 0 and nothing on stderr`, result)
      return sampleOf(result)
    },
  }
}

async function run(bench: Bench, args: Args): Promise<void> {
  const work = await bench.tempDir('po-bench-wal-push-')
  const segmentDir = path.join(work, 'segments')
  mkdirSync(segmentDir)
  const names = await makeSegments(bench, segmentDir, args.runs + 1)
  const keyFile = path.join(work, 'identity')
  await execa('age-keygen', ['-o', keyFile])
  const recipient = (await execa('age-keygen', ['-y', keyFile])).stdout.trim()
  const credentials = path.join(work, 'credentials')
  writeFileSync(credentials, `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = S3RVER\n`)
  chmodSync(credentials, 0o600)
  bench.log('starting s3rver')
  const s3 = await startS3()
  bench.teardown.add('s3rver', () => s3.stop())
  const setup: Setup = { s3, recipient, credentials, work }
  const env = cleanEnv({ XDG_CACHE_HOME: path.join(work, 'cache') })
  // Each variant takes the segments in order: a new one every run, the warm-up's first.
  const next = () => {
    let index = 0
    return () => path.join(segmentDir, names[index++ % names.length]!)
  }
  const floor = (key: string, label: string, argv: (bin: string) => string[]): Variant => ({
    key,
    label,
    async run() {
      const result = await timed(process.execPath, argv(bench.cli.bin), { env, cwd: work, timeoutMs: 60_000, rusage: true })
      if (result.exitCode !== 0) fail(label, `exit ${result.exitCode}, expected 0`, result)
      return sampleOf(result)
    },
  })
  const variants: Variant[] = [
    floor('node', '`node -e 0` (the floor)', () => ['-e', '0']),
    floor('version', '`probe-ops --version` (oclif starts)', (bin) => [bin, '--version']),
    pushVariant(bench, setup, 'local', 'wal push: local', 'local', next(), env),
    pushVariant(bench, setup, 's3', 'wal push: local + s3rver', 's3', next(), env),
    pushVariant(bench, setup, 'program', 'wal push: local + s3rver, encrypted (age program)', 'program', next(), env),
    pushVariant(bench, setup, 'library', 'wal push: local + s3rver, encrypted (age-encryption library)', 'library', next(), env),
    pushVariant(bench, setup, 'again', 'wal push again: local + s3rver, already there', 's3', () => path.join(segmentDir, names[0]!), env),
  ]
  const samples = await interleave(bench, 'wal push', variants, args.runs, { order: 'rotate' })
  bench.raw.samples = Object.fromEntries(samples)
  const floorMs = medianOf(samples.get('node')!)
  const rows = variants.map((variant): SummaryRow => {
    const these = samples.get(variant.key)!
    return [variant.label, these, [ratio(medianOf(these), floorMs)]]
  })
  const stored = readdirSync(path.join(work, 'repositories', 'local', 'wal'), { recursive: true }).filter((entry) => String(entry).endsWith('.zst')).length
  const median = (key: string) => medianOf(samples.get(key)!)
  bench.out.push(
    `- Method: ${args.runs} interleaved rounds (rotated each round) after one warm-up of each variant; each run a cold \`node ${'bin/run.js'} wal push <segment> --config …\`, spawn to exit, compile cache on (warm), under GNU time for CPU and peak RSS. Each push variant has repositories of its own (a local directory; a prefix in one s3rver on 127.0.0.1) and pushes a real 16 MB segment it has not pushed before in every run; "again" pushes one its repositories hold. One X25519 recipient. ${stored} segments in the local variant's wal/ at the end.`,
    '',
    summaryTable(rows, { columns: ['runs', 'median', 'p90', 'min', 'max', 'cpu', 'rss'], first: 'variant', extra: ['median / node -e 0'] }),
    '',
    '### Verdicts',
    '',
    verdict(
      '`wal push` of a 16 MB segment to a local repository, median ≤ 0.5 s including start-up',
      median('local') <= TARGET_MS,
      `${ms(median('local'))} (to local + s3rver: ${ms(median('s3'))}; encrypted through the age program: ${ms(median('program'))}).`,
    ),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'wal-push',
  title: 'Issue 14: wal push latency',
  summary: 'issue 14: a cold `probe-ops wal push` of a real 16 MB segment (start-up included) to local, local + s3rver, encrypted, and again',
  cli: true,
  rusage: true,
  root: 'it starts PostgreSQL (initdb as the postgres user) to write real WAL segments',
  notes: ['Needs Debian age (age, age-keygen), PostgreSQL 15 and s3rver (devDependencies): scripts/install-test-deps.sh.'],
  options: {
    runs: { type: 'string', value: 'N', default: '11', help: 'timed runs of each variant, after one warm-up' },
  },
  parse(values) {
    return { runs: integer(values, 'runs') }
  },
  run,
}

runIfMain(import.meta, definition)
