/**
 * Start-up cost of the CLI: wall time (spawn to exit), CPU time and peak RSS of short runs, on
 * each Node.js binary given, with and without Node's compile cache (bin/run.js turns it on).
 * Start-up is most of a cron job that finds nothing to do and decides the wall-time figure of
 * issue 3 on small data.
 *
 *   npm run bench -- startup [--runs 15] [--node /path/to/node22,/path/to/node24] [--build]
 *
 * Run as root: starts a private PostgreSQL 15 (test/bed/postgres.ts, on 127.0.0.1) with the demo
 * schema and a few expired results, so the measured `maintain daily --only retention` connects and
 * works as it does at night. Measured, interleaved run by run, for each binary and cache state:
 * `node -e 0` (the floor), `probe-ops --version`, `probe-ops config validate`,
 * `probe-ops diagnose --help` and `probe-ops maintain daily --only retention --json`. The cache
 * state "on" uses a private XDG_CACHE_HOME, filled by the warm-up run; "off" sets
 * NODE_DISABLE_COMPILE_CACHE=1. With `--baseline REF`, every probe-ops command also runs on the
 * CLI of git REF right after (or, every other round, right before) the current one, and a second
 * table puts the two side by side.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, realpathSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../src/sandbox/schema.js'
import { pgClientConfig, pgQuery, startPostgres } from '../test/bed/postgres.js'
import {
  UsageError,
  baselineTable,
  baselineVerdict,
  commandVariant,
  integer,
  interleave,
  medianOf,
  runIfMain,
  text,
  type Bench,
  type BaselinePair,
  type BenchDefinition,
  type Sample,
  type Variant,
} from './lib/harness.js'
import { table } from './lib/markdown.js'
import { cleanEnv, type TimedResult } from './lib/proc.js'
import type { CliSnapshot } from './lib/snapshot.js'
import { megabytes, ms, ratio } from './lib/stats.js'

interface Args {
  runs: number
  nodes: string[]
}

interface Command {
  label: string
  args(bin: string): string[]
  /** It runs probe-ops: once per CLI (the floor, `node -e 0`, runs once). */
  cli: boolean
  /** What its stdout must match for the run to count. */
  stdout?: RegExp
}

/** The CLI a variant runs: the current one, or --baseline REF's. */
interface Cli {
  tag: 'current' | 'baseline'
  snapshot: CliSnapshot
}

interface NodeBinary {
  path: string
  version: string
}

type Cache = 'off' | 'on'
const CACHES: Cache[] = ['off', 'on']

/** A private PostgreSQL with the demo schema and a config that points at it; the config's path. */
async function database(bench: Bench, work: string): Promise<{ config: string; password: string }> {
  bench.log('starting PostgreSQL 15')
  const server = await startPostgres({ database: 'network_probe' })
  bench.teardown.add('PostgreSQL', () => server.stop())
  bench.watch({ pids: [server.info.pid] })
  const { info } = server
  const db = pgClientConfig(info, 'network_probe')
  await pgQuery(db, SCHEMA_SQL)
  await pgQuery(db, referenceDataSql({ agents: 5, tasks: 12 }))
  await pgQuery(db, TASK_RESULTS_SQL, [120, 24])
  const config = path.join(work, 'probe-ops.yaml')
  const settings = {
    host: 'bench',
    postgres: { host: info.host, port: info.port, user: info.user, database: 'network_probe' },
    log: { file: path.join(work, 'maintenance.log') },
    lock: { dir: path.join(work, 'lock') },
    metrics: { textfileDir: path.join(work, 'metrics') },
  }
  writeFileSync(config, `${JSON.stringify(settings)}\n`)
  return { config, password: info.password }
}

async function run(bench: Bench, args: Args): Promise<void> {
  const work = await bench.tempDir('po-bench-start-')
  const { config, password } = await database(bench, work)
  const commands: Command[] = [
    { label: 'node -e 0', args: () => ['-e', '0'], cli: false },
    { label: 'probe-ops --version', args: (bin) => [bin, '--version'], cli: true, stdout: /^probe-ops\/\d+\.\d+\.\d+ / },
    { label: 'probe-ops config validate', args: (bin) => [bin, 'config', 'validate', '--config', config], cli: true },
    { label: 'probe-ops diagnose --help', args: (bin) => [bin, 'diagnose', '--help'], cli: true, stdout: /USAGE[\s\S]*check-timeout/ },
    {
      label: 'probe-ops maintain daily --only retention',
      args: (bin) => [bin, 'maintain', 'daily', '--only', 'retention', '--json', '--config', config],
      cli: true,
    },
  ]
  const clis: Cli[] = [{ tag: 'current', snapshot: bench.cli }, ...(bench.baseline ? [{ tag: 'baseline' as const, snapshot: bench.baseline }] : [])]
  const nodes: NodeBinary[] = args.nodes.map((node) => ({ path: node, version: execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() }))
  const key = (node: NodeBinary, cache: Cache, command: Command, cli: Cli['tag'] = 'current'): string =>
    `${node.version} cache ${cache}: ${command.label}${cli === 'baseline' ? ` (baseline ${bench.baselineRef})` : ''}`
  const check =
    (command: Command) =>
    (result: TimedResult): string | undefined =>
      !command.stdout || command.stdout.test(result.stdout) ? undefined : `stdout does not match ${command.stdout}`
  // The current and the baseline run of a command are neighbours in every round.
  const variants: Variant[] = nodes.flatMap((node, n) => {
    const cacheHome = path.join(work, `cache-${n}`)
    return CACHES.flatMap((cache) => {
      const env = cleanEnv({ PGPASSWORD: password, XDG_CACHE_HOME: cacheHome, ...(cache === 'off' ? { NODE_DISABLE_COMPILE_CACHE: '1' } : {}) })
      return commands.flatMap((command) =>
        (command.cli ? clis : clis.slice(0, 1)).map((cli) => {
          const label = key(node, cache, command, cli.tag)
          return commandVariant({
            key: label,
            label,
            command: node.path,
            args: command.args(cli.snapshot.bin),
            env,
            cwd: work,
            rusage: true,
            check: check(command),
          })
        }),
      )
    })
  })
  // The warm-up run of each also fills the compile caches. Against a baseline, every other round
  // runs in reverse, so that neither CLI always goes first.
  const samples = await interleave(bench, 'start-up', variants, args.runs, { order: bench.baseline ? 'alternate' : 'same' })
  bench.raw.samples = Object.fromEntries(samples)

  const rows = commands.flatMap((command) =>
    nodes.map((node) => {
      const [off, on] = CACHES.map((cache) => samples.get(key(node, cache, command))!) as [Sample[], Sample[]]
      return [
        command.label,
        node.version,
        ms(medianOf(off)),
        ms(medianOf(on)),
        ratio(medianOf(off), medianOf(on)),
        ms(medianOf(off, 'cpuMs')),
        ms(medianOf(on, 'cpuMs')),
        megabytes(medianOf(off, 'peakRssKb')),
        megabytes(medianOf(on, 'peakRssKb')),
      ]
    }),
  )
  bench.out.push(
    `- Method: one warm-up run of each (it fills the compile caches), then ${args.runs} rounds of every command × node × cache state${bench.baseline ? ' × CLI' : ''} in turn${bench.baseline ? ' (every other round in reverse)' : ''}. "cache off": NODE_DISABLE_COMPILE_CACHE=1; "cache on": bin/run.js's compile cache in a private XDG_CACHE_HOME, warm. \`maintain daily --only retention\` runs against a private PostgreSQL 15 with the demo schema. Medians of the rounds.`,
    '',
    table(
      ['command', 'node', 'wall, cache off', 'wall, cache on', 'off / on', 'CPU, cache off', 'CPU, cache on', 'peak RSS, cache off', 'peak RSS, cache on'],
      rows,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  )
  if (!bench.baseline || !bench.baselineRef) return
  const ref = bench.baselineRef
  const pairs: BaselinePair[] = commands
    .filter((command) => command.cli)
    .flatMap((command) =>
      nodes.flatMap((node) =>
        CACHES.map((cache) => ({
          cells: [command.label, node.version, `cache ${cache}`],
          current: samples.get(key(node, cache, command))!,
          baseline: samples.get(key(node, cache, command, 'baseline'))!,
        })),
      ),
    )
  bench.out.push(
    `### Current against \`${ref}\``,
    '',
    `- Method: the table above is the current CLI's. Each probe-ops command also ran on the CLI of \`${ref}\` (header), right after the current one in odd rounds and right before it in even rounds, same Node, cache state and environment. Medians of the rounds; ratio = current / baseline (above 1: the current CLI is slower or larger). "Rounds current higher": in how many of the rounds the current CLI's figure was the higher of the pair (ties not counted), with the one-sided sign test's p where it is below 0.05 (the chance of that many by luck alone).`,
    '',
    baselineTable(pairs, ['command', 'node', 'compile cache']),
    '',
    baselineVerdict(ref, pairs),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'startup',
  title: 'CLI start-up',
  summary: 'every Node given: start-up (spawn to exit), CPU time and peak RSS of short runs, with and without the compile cache of `bin/run.js`',
  root: 'it starts PostgreSQL as the postgres OS user',
  cli: true,
  baseline: true,
  rusage: true,
  options: {
    runs: { type: 'string', value: 'N', default: '15', help: 'rounds (one warm-up each on top)' },
    node: { type: 'string', value: 'PATH,PATH', help: 'more Node.js binaries to run the CLI with, besides the one running the bench' },
  },
  parse(values) {
    const more = (text(values, 'node') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    for (const node of more) if (!existsSync(node)) throw new UsageError(`--node: there is no ${node}`)
    // The same binary named twice (the one running the bench, by another path) is measured once.
    const nodes = [...new Map([process.execPath, ...more].map((node) => [realpathSync(node), node])).values()]
    return { runs: integer(values, 'runs'), nodes }
  },
  run,
}

runIfMain(import.meta, definition)
