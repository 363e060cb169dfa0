/**
 * Start-up cost of the CLI: how long a short run takes from spawn to exit, on each Node.js binary
 * given, with and without Node's compile cache (bin/run.js turns it on in Node 22.8+; Node 20 has
 * none). Start-up is most of a cron job that finds nothing to do and decides the wall-time figure
 * of issue 3 on small data.
 *
 *   node --import tsx bench/startup.ts [--runs 15] [--node /path/to/node22,/path/to/node24] [--build]
 *
 * Run as root: starts a private PostgreSQL 15 (test/bed/postgres.ts, on 127.0.0.1) with the demo
 * schema and a few expired results, so the measured `maintain daily --only retention` connects and
 * works as it does at night. Measured, interleaved run by run, for each binary and cache state:
 * `node -e 0` (the floor), `probe-ops --version`, `probe-ops config validate`, and
 * `probe-ops maintain daily --only retention --json`. The cache state "on" uses a private
 * XDG_CACHE_HOME, filled by one unmeasured run first; "off" sets NODE_DISABLE_COMPILE_CACHE=1.
 * Prints markdown on stdout, progress on stderr; writes nothing into the repository.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pgClientConfig, pgQuery, startPostgres } from '../test/bed/postgres.js'
import { SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../src/sandbox/schema.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv, stopAllRuns, tail, timed } from './lib/proc.js'
import { snapshotCli } from './lib/snapshot.js'
import { median } from './lib/stats.js'
import { Teardown } from './lib/teardown.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const log = (line: string): void => void process.stderr.write(`[startup] ${line}\n`)

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    node: { type: 'string', default: '' },
    build: { type: 'boolean', default: false },
  },
})
const runs = Number(args.runs)
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer')

interface Contender {
  label: string
  args: (bin: string) => string[]
}

const teardown = new Teardown(log)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopAllRuns(`interrupted by ${signal}`)
    void teardown.run().then(() => process.exit(130))
  })
}

try {
  const nodes = [
    process.execPath,
    ...args.node
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ]
  const work = await mkdtemp(path.join(os.tmpdir(), 'po-bench-start-'))
  teardown.add(`work dir ${work}`, () => rm(work, { recursive: true, force: true }))
  const cli = await snapshotCli(ROOT, { build: args.build, log })
  teardown.add('CLI copy', () => cli.remove())

  log('starting PostgreSQL 15')
  const server = await startPostgres({ database: 'network_probe' })
  teardown.add('PostgreSQL', () => server.stop())
  const { info } = server
  const db = pgClientConfig(info, 'network_probe')
  await pgQuery(db, SCHEMA_SQL)
  await pgQuery(db, referenceDataSql({ agents: 5, tasks: 12 }))
  await pgQuery(db, TASK_RESULTS_SQL, [120, 24])

  const config = path.join(work, 'probe-ops.yaml')
  writeFileSync(
    config,
    `${JSON.stringify({
      host: 'bench',
      postgres: { host: info.host, port: info.port, user: info.user, database: 'network_probe' },
      log: { file: path.join(work, 'maintenance.log') },
      lock: { dir: path.join(work, 'lock') },
      metrics: { textfileDir: path.join(work, 'metrics') },
    })}\n`,
  )
  const contenders: Contender[] = [
    { label: 'node -e 0', args: () => ['-e', '0'] },
    { label: 'probe-ops --version', args: (bin) => [bin, '--version'] },
    { label: 'probe-ops config validate', args: (bin) => [bin, 'config', 'validate', '--config', config] },
    { label: 'probe-ops maintain daily --only retention', args: (bin) => [bin, 'maintain', 'daily', '--only', 'retention', '--json', '--config', config] },
  ]

  type Variant = { node: string; version: string; cache: 'off' | 'on'; env: Record<string, string> }
  const variants: Variant[] = []
  for (const node of nodes) {
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
    const cacheHome = path.join(work, `cache-${variants.length}`)
    variants.push({ node, version, cache: 'off', env: cleanEnv({ PGPASSWORD: info.password, NODE_DISABLE_COMPILE_CACHE: '1', XDG_CACHE_HOME: cacheHome }) })
    variants.push({ node, version, cache: 'on', env: cleanEnv({ PGPASSWORD: info.password, XDG_CACHE_HOME: cacheHome }) })
  }

  const times = new Map<string, number[]>()
  const key = (v: Variant, c: Contender): string => `${v.version}\u0000${v.cache}\u0000${c.label}`
  const once = async (v: Variant, c: Contender): Promise<number> => {
    const r = await timed(v.node, c.args(cli.bin), { env: v.env, cwd: work, timeoutMs: 60_000 })
    if (r.exitCode !== 0) throw new Error(`${c.label} on ${v.version} exited ${r.exitCode}:\n${tail(r.stderr + r.stdout)}`)
    return r.ms
  }
  log('warm-up: one unmeasured run of each (fills the compile caches)')
  for (const v of variants) for (const c of contenders) await once(v, c)
  for (let run = 1; run <= runs; run++) {
    log(`run ${run}/${runs}`)
    for (const v of variants) {
      for (const c of contenders) {
        const ms = await once(v, c)
        times.set(key(v, c), [...(times.get(key(v, c)) ?? []), ms])
      }
    }
  }

  const rows: string[][] = []
  for (const c of contenders) {
    for (const version of [...new Set(variants.map((v) => v.version))]) {
      const off = median(times.get(`${version}\u0000off\u0000${c.label}`)!)
      const on = median(times.get(`${version}\u0000on\u0000${c.label}`)!)
      rows.push([c.label, version, off.toFixed(0), on.toFixed(0), (off / on).toFixed(2)])
    }
  }
  const command = `node --import tsx bench/startup.ts --runs ${runs}${args.node ? ` --node ${args.node}` : ''}`
  process.stdout.write(
    [
      `### CLI start-up (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${runs} runs each, interleaved)`,
      '',
      code(command),
      '',
      `Spawn to exit, median ms; the CLI is ${cli.origin}. "cache off": NODE_DISABLE_COMPILE_CACHE=1; "cache on": bin/run.js's compile cache, warm.`,
      '',
      table(['command', 'node', 'cache off', 'cache on', 'off / on'], rows, ['l', 'l', 'r', 'r', 'r']),
      '',
    ].join('\n'),
  )
} finally {
  const problems = await teardown.run()
  if (problems.length) log(`teardown problems:\n${problems.join('\n')}`)
}
