/**
 * Benchmark of issue 15: `probe-ops agents` over a large fleet. A real Prometheus (Debian's)
 * scrapes --agents generated agent exporters (the local platform's, one port each, a few in every
 * kind of trouble and some down) every --scrape seconds; once it holds a window of data, the
 * built CLI's `agents --json` and `diagnose --only agents` run --runs times each, interleaved,
 * and the fleet read alone (readScrapedFleet: the targets and the seven aggregate queries) is
 * timed in process. Every run is verified: every agent listed, each troubled one with its verdict.
 *
 *   npm run bench -- agents [--agents 2000] [--runs 5] [--scrape 15] [--build]
 *
 * No root. Needs prometheus (apt-get install prometheus).
 */
import path from 'node:path'
import { writeFileSync } from 'node:fs'
import type { FleetData } from '../src/jobs/agents/data.js'
import { readScrapedFleet } from '../src/jobs/agents/sources.js'
import { startMonitoringStack, stopMonitoringStack } from '../src/local-platform/monitoring.js'
import type { Report } from '../src/report/model.js'
import { findExecutable } from '../src/systems/programs.js'
import { waitForScrapes } from '../test/bed/monitoring.js'
import {
  ROOT,
  UsageError,
  integer,
  interleave,
  medianOf,
  runIfMain,
  sampleOf,
  summaryTable,
  verdict,
  type Bench,
  type BenchDefinition,
  type Sample,
} from './lib/harness.js'
import { code } from './lib/markdown.js'
import { cleanEnv, fail, timed } from './lib/proc.js'
import { median, ms } from './lib/stats.js'

interface Args {
  agents: number
  runs: number
  scrapeSeconds: number
}

/** The target: 2,000 agents answer within this. */
const TARGET_MS = 2000
/** Troubled agents of each kind; the rest healthy. */
const EACH = 10
const STATES = { disconnected: EACH, stale: EACH, failing: EACH, 'overloaded-cpu': EACH, 'overloaded-memory': EACH, 'overloaded-disk': EACH, down: EACH }
const WINDOW = '1m'

async function startFleet(bench: Bench, args: Args) {
  const prometheus = await findExecutable('prometheus')
  if (!prometheus) throw new UsageError('prometheus is not installed: apt-get install prometheus')
  const dir = await bench.tempDir('po-bench-agents-')
  bench.log(`starting Prometheus scraping ${args.agents} generated agents every ${args.scrapeSeconds} s`)
  const stack = await startMonitoringStack({
    dir,
    logFile: (component) => path.join(dir, `${component}.log`),
    prometheus: { binary: prometheus, scrapeIntervalSeconds: args.scrapeSeconds },
    agents: { count: args.agents, states: STATES },
  })
  bench.teardown.add('stop Prometheus and the agents', async () => void (await stopMonitoringStack(stack)))
  bench.watch({ pids: stack.services.map((s) => s.service.pid) })
  const url = stack.prometheus!.url
  await waitForScrapes(url, 120_000)
  // A window of data: the rates and the heartbeat subquery need it.
  bench.log('waiting for a minute of data')
  await new Promise((resolve) => setTimeout(resolve, 65_000))
  return { url, dir }
}

function verifyFleet(fleet: FleetData | undefined, args: Args): string | undefined {
  if (!fleet) return 'no fleet data'
  if (fleet.agents.length !== args.agents) return `${fleet.agents.length} agents listed of ${args.agents}`
  for (const kind of ['down', 'disconnected', 'stale', 'failing'] as const)
    if ((fleet.counts[kind] ?? 0) !== EACH) return `${fleet.counts[kind] ?? 0} ${kind}, expected ${EACH}`
  return undefined
}

/** The step's own time of each verified run (the CLI's start-up and the rendering left out), by variant. */
const stepTimes = new Map<string, number[]>()

function cliVariant(bench: Bench, args: Args, key: string, cliArgs: string[], step: string, config: string) {
  stepTimes.set(key, [])
  return {
    key,
    label: key,
    async run(): Promise<Sample> {
      const result = await timed(process.execPath, [bench.cli.bin, ...cliArgs, '--config', config, '--json'], {
        env: cleanEnv({}),
        cwd: ROOT,
        timeoutMs: 60_000,
      })
      if (result.exitCode !== 1) fail(key, `exit ${result.exitCode}, expected 1 (agents down)`, result)
      const report = JSON.parse(result.stdout) as Report
      const found = report.steps.find((s) => s.id === step)
      const problem = verifyFleet(found?.data as FleetData | undefined, args)
      if (problem) fail(key, `${problem}; ${found?.status}: ${found?.summary}`, result)
      stepTimes.get(key)!.push(found!.durationMs)
      return sampleOf(result)
    },
  }
}

async function run(bench: Bench, args: Args): Promise<void> {
  const { url, dir } = await startFleet(bench, args)
  const config = path.join(dir, 'probe-ops.yaml')
  writeFileSync(
    config,
    `prometheus:\n  url: ${url}\n  timeoutSeconds: 10\nagents:\n  databaseQuery: ''\n  window: ${WINDOW}\nlog:\n  file: ''\nlock:\n  dir: ${dir}/lock\n`,
  )
  const samples = await interleave(
    bench,
    'agents',
    [
      cliVariant(bench, args, 'probe-ops agents', ['agents', '--window', WINDOW], 'fleet', config),
      cliVariant(bench, args, 'probe-ops diagnose --only agents', ['diagnose', '--only', 'agents', '--check-timeout', '30'], 'agents', config),
    ],
    args.runs,
  )
  bench.log('the fleet read in process')
  const prometheus = { url, timeoutMs: 10_000 }
  const reads: number[] = []
  for (let i = 0; i <= args.runs; i++) {
    const started = performance.now()
    const fleet = await readScrapedFleet(prometheus, { job: 'agents', windowMs: 60_000 })
    if (fleet.agents.size !== args.agents) throw new Error(`the fleet read found ${fleet.agents.size} agents of ${args.agents}`)
    if (i > 0) reads.push(performance.now() - started)
  }
  const agentsMs = medianOf(samples.get('probe-ops agents')!)
  bench.raw.samples = Object.fromEntries(samples)
  bench.raw.readsMs = reads
  bench.out.push(
    `- Method: Prometheus 2.42 (Debian) scraping ${args.agents.toLocaleString('en-US')} generated agent exporters every ${args.scrapeSeconds} s (${EACH} each disconnected, stale, failing, overloaded on CPU, memory and disk, and down; the rest healthy), after a minute of data; the built CLI spawn to exit, ${args.runs} interleaved runs after one warm-up, each verified (every agent listed, each kind of trouble counted); the fleet read alone (scrape targets, then seven aggregate PromQL queries at once) timed in process.`,
    '',
    summaryTable(
      [
        [code(`probe-ops agents --window ${WINDOW} --json`), samples.get('probe-ops agents')!, [ms(median(stepTimes.get('probe-ops agents')!))]],
        [
          code('probe-ops diagnose --only agents --json'),
          samples.get('probe-ops diagnose --only agents')!,
          [ms(median(stepTimes.get('probe-ops diagnose --only agents')!))],
        ],
      ],
      { extra: ['step (median)'] },
    ),
    '',
    `The fleet read in process (targets + 7 queries): median ${ms(median(reads))} over ${reads.length} reads.`,
    '',
    verdict(`${args.agents.toLocaleString('en-US')} agents within ${ms(TARGET_MS)}`, agentsMs <= TARGET_MS, `\`agents\` median ${ms(agentsMs)}`),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'agents',
  title: 'Issue 15: agents',
  summary: 'issue 15: `probe-ops agents` and `diagnose --only agents` over 2,000 agents a real Prometheus scrapes (no root; needs prometheus)',
  cli: true,
  options: {
    agents: { type: 'string', value: 'N', default: '2000', help: 'generated agents' },
    runs: { type: 'string', value: 'N', default: '5', help: 'timed runs of each command, after one warm-up' },
    scrape: { type: 'string', value: 'S', default: '15', help: "Prometheus's scrape interval, seconds" },
  },
  parse(values) {
    const agents = integer(values, 'agents', { min: 7 * EACH + 1 })
    return { agents, runs: integer(values, 'runs'), scrapeSeconds: integer(values, 'scrape') }
  },
  run,
}

runIfMain(import.meta, definition)
