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
 * `node -e 0` (the floor), `probe-ops --version`, `probe-ops config validate`, and
 * `probe-ops maintain daily --only retention --json`. The cache state "on" uses a private
 * XDG_CACHE_HOME, filled by the warm-up run; "off" sets NODE_DISABLE_COMPILE_CACHE=1.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, realpathSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../src/sandbox/schema.js'
import { pgClientConfig, pgQuery, startPostgres } from '../test/bed/postgres.js'
import {
  UsageError,
  commandVariant,
  integer,
  interleave,
  medianOf,
  runIfMain,
  text,
  type Bench,
  type BenchDefinition,
  type Sample,
  type Variant,
} from './lib/harness.js'
import { table } from './lib/markdown.js'
import { cleanEnv } from './lib/proc.js'
import { megabytes, ms, ratio } from './lib/stats.js'

interface Args {
  runs: number
  nodes: string[]
}

interface Command {
  label: string
  args(bin: string): string[]
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
    { label: 'node -e 0', args: () => ['-e', '0'] },
    { label: 'probe-ops --version', args: (bin) => [bin, '--version'] },
    { label: 'probe-ops config validate', args: (bin) => [bin, 'config', 'validate', '--config', config] },
    { label: 'probe-ops maintain daily --only retention', args: (bin) => [bin, 'maintain', 'daily', '--only', 'retention', '--json', '--config', config] },
  ]
  const nodes: NodeBinary[] = args.nodes.map((node) => ({ path: node, version: execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() }))
  const key = (node: NodeBinary, cache: Cache, command: Command): string => `${node.version} cache ${cache}: ${command.label}`
  const variants: Variant[] = nodes.flatMap((node, n) => {
    const cacheHome = path.join(work, `cache-${n}`)
    return CACHES.flatMap((cache) => {
      const env = cleanEnv({ PGPASSWORD: password, XDG_CACHE_HOME: cacheHome, ...(cache === 'off' ? { NODE_DISABLE_COMPILE_CACHE: '1' } : {}) })
      return commands.map((command) => {
        const label = key(node, cache, command)
        return commandVariant({ key: label, label, command: node.path, args: command.args(bench.cli.bin), env, cwd: work, rusage: true })
      })
    })
  })
  // The warm-up run of each also fills the compile caches.
  const samples = await interleave(bench, 'start-up', variants, args.runs)
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
    `- Method: one warm-up run of each (it fills the compile caches), then ${args.runs} rounds of every command × node × cache state in turn. "cache off": NODE_DISABLE_COMPILE_CACHE=1; "cache on": bin/run.js's compile cache in a private XDG_CACHE_HOME, warm. \`maintain daily --only retention\` runs against a private PostgreSQL 15 with the demo schema. Medians of the rounds.`,
    '',
    table(
      ['command', 'node', 'wall, cache off', 'wall, cache on', 'off / on', 'CPU, cache off', 'CPU, cache on', 'peak RSS, cache off', 'peak RSS, cache on'],
      rows,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'startup',
  title: 'CLI start-up',
  summary: 'every Node given: start-up (spawn to exit), CPU time and peak RSS of short runs, with and without the compile cache of `bin/run.js`',
  root: 'it starts PostgreSQL as the postgres OS user',
  cli: true,
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
