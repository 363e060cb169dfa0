/**
 * Issue 14: what one 16 MB WAL segment costs `wal push` before it is sent (design-14 §1.4):
 * sha256, zstd level 1 (node:zlib) and age encryption through the `age` program or the
 * age-encryption library, each run a cold `node` process (spawn to exit) loading the CLI's own
 * built modules (src/systems/compression.ts, src/systems/age.ts), against `node -e 0`.
 * Issue 14's target is `wal push` ≤ 0.5 s median including start-up; this shows what its
 * pieces take, without the repositories (LIST, PUT) or the configuration.
 *
 *   npm run bench -- wal-segment [--runs 11] [--build]
 *
 * The segments are real: a PostgreSQL 15 of the test bed's kind, with `wal_recycle = off`, gets
 * inserts until a segment is full ("full"), then a few rows and pg_switch_wal() (the rest of
 * that segment is zeros, what archive_timeout produces: "switched"). Root (initdb as postgres).
 */
import { copyFileSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { execa } from 'execa'
import { parseSegmentName, segmentName } from '../src/wal/names.js'
import { pgClientConfig, pgQuery, startPostgres } from '../test/bed/postgres.js'
import { integer, interleave, medianOf, runIfMain, type Bench, type BenchDefinition, type Sample, type Variant } from './lib/harness.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv, fail, timed } from './lib/proc.js'
import { median, ms } from './lib/stats.js'

interface Args {
  runs: number
}

const SEGMENT_BYTES = 16 * 1024 * 1024
const TARGET_MS = 500
const PIECES = ['none', 'zstd', 'program', 'library'] as const
type Piece = (typeof PIECES)[number]

const LABELS: Record<Piece, string> = {
  none: '`node` start only (the script, nothing loaded)',
  zstd: 'read + sha256 + zstd -1',
  program: 'read + sha256 + zstd -1 + encrypt (age program)',
  library: 'read + sha256 + zstd -1 + encrypt (age-encryption library)',
}

interface PieceSample extends Sample {
  phases: Record<string, number>
  compressedBytes?: number
}

/** Two real segments out of a fresh cluster: one full of inserts, one cut short by pg_switch_wal(). */
async function makeSegments(bench: Bench, dir: string): Promise<Record<'full' | 'switched', string>> {
  bench.log('starting PostgreSQL 15 and writing WAL')
  const server = await startPostgres({ extraConf: { wal_recycle: 'off', max_wal_size: "'1GB'", checkpoint_timeout: "'1h'" } })
  bench.teardown.add('postgres', () => server.stop())
  const config = pgClientConfig(server.info)
  const query = async (sql: string): Promise<Record<string, string> | undefined> => (await pgQuery<Record<string, string>>(config, sql)).rows[0]
  await query('CREATE TABLE measurements (id bigint, probe text, value double precision, at timestamptz DEFAULT now())')
  const first = (await query('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name'))!.name!
  // About 3 segments of inserts: the one after `first` is full of them.
  await query("INSERT INTO measurements SELECT i, 'probe-' || (i % 500), random() * 100 FROM generate_series(1, 400000) i")
  const full = (await query(`SELECT pg_walfile_name(pg_current_wal_lsn()) AS name`))!.name!
  if (full <= first) throw new Error(`the inserts did not fill a segment (${first} .. ${full})`)
  const firstSegment = parseSegmentName(first)!
  const fullName = segmentName({ timeline: firstSegment.timeline, number: firstSegment.number + 1n })
  // Copied at once: without archiving, a checkpoint removes finished segments.
  const copies = { full: path.join(dir, `full-${fullName}`), switched: '' }
  copyFileSync(path.join(server.info.dataDir, 'pg_wal', fullName), copies.full)
  await query('SELECT pg_switch_wal()')
  await query("INSERT INTO measurements SELECT i, 'probe-x', 1 FROM generate_series(1, 500) i")
  const switched = (await query('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name'))!.name!
  await query('SELECT pg_switch_wal()')
  copies.switched = path.join(dir, `switched-${switched}`)
  copyFileSync(path.join(server.info.dataDir, 'pg_wal', switched), copies.switched)
  return copies
}

function pieceVariant(bench: Bench, piece: Piece, segment: string, recipient: string, cacheDir: string): Variant<PieceSample> {
  const script = path.join(import.meta.dirname, 'wal/segment-pieces.mjs')
  const label = `${piece} ${path.basename(segment)}`
  return {
    key: piece,
    label,
    async run() {
      const result = await timed(process.execPath, [script, path.join(bench.cli.root, 'dist'), segment, piece, recipient], {
        env: cleanEnv({ NODE_COMPILE_CACHE: cacheDir }),
        cwd: bench.cli.root,
        timeoutMs: 60_000,
      })
      if (result.exitCode !== 0) fail(label, `exit ${result.exitCode}, expected 0`, result)
      const out = JSON.parse(result.stdout) as { phases: Record<string, number>; plainBytes?: number; compressedBytes?: number; ageHeader?: string }
      if (piece !== 'none' && out.plainBytes !== SEGMENT_BYTES) fail(label, `read ${out.plainBytes} bytes, not a 16 MB segment`, result)
      if ((piece === 'program' || piece === 'library') && out.ageHeader !== 'age-encryption.org/v1') fail(label, 'the output is not age', result)
      return { ms: result.ms, phases: out.phases, ...(out.compressedBytes === undefined ? {} : { compressedBytes: out.compressedBytes }) }
    },
  }
}

function phaseCells(samples: readonly PieceSample[]): string[] {
  const of = (name: string) => {
    const values = samples.map((sample) => sample.phases[name]).filter((value): value is number => value !== undefined)
    return values.length === 0 ? '–' : ms(median(values))
  }
  return ['load', 'read', 'sha256', 'zstd', 'encrypt'].map(of)
}

async function run(bench: Bench, args: Args): Promise<void> {
  const dir = await bench.tempDir('po-bench-wal-')
  const keyFile = path.join(dir, 'key.txt')
  await execa('age-keygen', ['-o', keyFile])
  const recipient = /public key: (age1\S+)/.exec(readFileSync(keyFile, 'utf8'))![1]!
  const segments = await makeSegments(bench, dir)
  const cacheDir = path.join(dir, 'compile-cache')
  const rows: string[][] = []
  const shares: string[] = []
  for (const [kind, segment] of Object.entries(segments)) {
    const variants = PIECES.map((piece) => pieceVariant(bench, piece, segment, recipient, cacheDir))
    const samples = await interleave(bench, `${kind} segment`, variants, args.runs, { order: 'rotate' })
    bench.raw[kind] = Object.fromEntries(samples)
    for (const piece of PIECES) {
      const pieceSamples = samples.get(piece)!
      const compressed = pieceSamples[0]!.compressedBytes
      rows.push([
        kind,
        LABELS[piece],
        ms(medianOf(pieceSamples)),
        ...phaseCells(pieceSamples),
        compressed === undefined ? '–' : `${(compressed / 1_000_000).toFixed(2)} MB`,
      ])
    }
    const program = medianOf(samples.get('program')!)
    const library = medianOf(samples.get('library')!)
    const share = (value: number) => `${Math.round((value / TARGET_MS) * 100)}%`
    // Not a verdict: the pieces are only part of a push (the configuration, LIST and PUT are not here).
    shares.push(
      `- ${kind} segment: the pieces take ${ms(program)} with the age program (${share(program)} of the 0.5 s \`wal push\` budget) and ${ms(library)} with the library (${share(library)}).`,
    )
  }
  bench.out.push(
    `- Method: each run is a cold \`node\` (spawn to exit, compile cache on) running ${code('bench/wal/segment-pieces.mjs')} on the CLI copy's built modules, ${args.runs} interleaved runs per variant after a warm-up; phases are in-process medians (load = importing the modules; the library's own lazy load falls in "encrypt"). One X25519 recipient. Segments from a PostgreSQL 15 cluster: "full" of inserts, "switched" cut short by pg_switch_wal() (zeros after).`,
    '',
    table(['segment', 'what', 'median (spawn to exit)', 'load', 'read', 'sha256', 'zstd -1', 'encrypt', 'zstd output'], rows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
    ]),
    '',
    'Shares of the budget:',
    '',
    ...shares,
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'wal-segment',
  title: 'Issue 14: WAL segment costs',
  summary:
    'issue 14: one 16 MB WAL segment from a cold `node`: sha256 + zstd -1 + age encryption through the age program and through the age-encryption library',
  cli: true,
  root: 'it starts PostgreSQL (initdb as the postgres user) to write real WAL segments',
  notes: ['Needs Debian age (age, age-keygen) and PostgreSQL 15: scripts/install-test-deps.sh.'],
  options: {
    runs: { type: 'string', value: 'N', default: '11', help: 'timed runs of each variant on each segment, after one warm-up' },
  },
  parse(values) {
    return { runs: integer(values, 'runs') }
  },
  run,
}

runIfMain(import.meta, definition)
