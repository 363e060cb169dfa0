/**
 * The one way a benchmark runs. Each bench/*.ts exports a BenchDefinition (its flags, and a body
 * that measures and writes its sections); bench/run.ts dispatches `npm run bench -- NAME`. The
 * harness parses the flags (and prints --help from the definition), checks root, makes the
 * private copy of the CLI, runs the body and then, whatever happened (success, failure, SIGINT,
 * SIGTERM), stops the running children, tears down what the body started in reverse order,
 * checks in /proc that nothing it started is left, and prints the markdown: a header (command
 * line, date, machine, load, git HEAD), the body's sections, the teardown's outcome. It also
 * gives the bodies interleaved runs after warm-ups, summary tables and verdicts, so that the
 * benches differ only in what they measure.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { pidsWithCmdline } from '../../test/bed/process.js'
import { code, table } from './markdown.js'
import { TIME_BIN, cleanEnv, fail, missingTime, stopAllRuns, timed, type TimedResult } from './proc.js'
import { baselineCli, resolveCommit, snapshotCli, type CliSnapshot } from './snapshot.js'
import { median, megabytes, ms, percentile, ratio, seconds, signTest } from './stats.js'
import { Teardown } from './teardown.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface OptionSpec {
  type: 'string' | 'boolean'
  default?: string | boolean
  /** The value's name in the usage line: `--runs N`. */
  value?: string
  help: string
}

export type OptionValues = Readonly<Record<string, string | boolean | undefined>>

export interface BenchDefinition<Args> {
  /** `npm run bench -- NAME`; also the file bench/NAME.ts. */
  name: string
  /** The heading of its markdown section. */
  title: string
  /** One line, for the list `npm run bench` prints. */
  summary: string
  /** Its own flags; --help, --raw, --out (and --build, --render where they apply) are the harness's. */
  options: Record<string, OptionSpec>
  /** The flags' values (defaults filled in) into the body's arguments; throws UsageError. */
  parse(values: OptionValues): Args
  /** Why it must run as root; unset when it need not. */
  root?: string
  /** It measures the built CLI: a private copy (lib/snapshot.ts), and the flag --build. */
  cli?: boolean
  /** It can run the CLI of another commit beside the current one: the flag --baseline REF (with `cli`). */
  baseline?: boolean
  /** Its timed runs record CPU time and peak RSS (GNU time must be installed). */
  rusage?: boolean
  /** Lines after the options in --help (what it needs besides). */
  notes?: readonly string[]
  /** Measures, and writes its sections into bench.out and its figures into bench.raw. */
  run(bench: Bench, args: Args): Promise<void>
  /** The sections from a --raw file alone; adds --render FILE (print them again, measure nothing). */
  render?(file: RawFile): string[]
}

export interface Bench {
  log(line: string): void
  /** What the body starts registers how to stop it here; it runs once, in reverse order. */
  readonly teardown: Teardown
  /** The private copy of the built CLI (only for a definition with `cli`). */
  readonly cli: CliSnapshot
  /** The CLI of --baseline REF, built in a temp dir; undefined without the flag. */
  readonly baseline: CliSnapshot | undefined
  /** The ref --baseline named (for labels), when given. */
  readonly baselineRef: string | undefined
  /** Aborted on SIGINT/SIGTERM, for the body's own loops (pollers). */
  readonly signal: AbortSignal
  /** Processes to look for in /proc after the teardown: these pids, and command lines naming these strings. */
  watch(processes: { pids?: readonly number[]; needles?: readonly string[] }): void
  /** A temp dir, removed by the teardown, whose processes must be gone by then. */
  tempDir(prefix: string): Promise<string>
  /** Markdown lines of the sections. */
  readonly out: string[]
  /** Figures for --raw FILE (and --render). */
  readonly raw: Record<string, unknown>
}

/** What the header says, kept in the --raw file so that --render can say it again. */
export interface HeaderFacts {
  command: string
  date: string
  durationMs: number
  machine: string
  loadStart: string
  loadEnd: string
  source: string
  cli?: { origin: string; version: string; stale: string[]; built: boolean }
  baseline?: { ref: string; origin: string; version: string }
  rusage: boolean
  teardown: string
}

export interface RawFile {
  header: HeaderFacts
  args: unknown
  data: Record<string, unknown>
}

/** Bad flags: one line and the usage, exit 2. */
export class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Flags

const COMMON: Record<string, OptionSpec> = {
  raw: { type: 'string', value: 'FILE', help: 'also write every measurement as JSON to FILE' },
  out: { type: 'string', value: 'FILE', help: 'also write the markdown section to FILE' },
  help: { type: 'boolean', help: 'print this' },
}
const BUILD: OptionSpec = { type: 'boolean', help: 'build src/ as it is now into the private copy of the CLI (default: copy dist/ as `npm run build` left it)' }
const BASELINE: OptionSpec = {
  type: 'string',
  value: 'REF',
  help: 'also build git REF in a temp dir (git archive, npm ci, npm run build) and run its CLI interleaved with the current one: medians of each, ratios current / baseline',
}
const RENDER: OptionSpec = { type: 'string', value: 'FILE', help: 'measure nothing: print the markdown of a --raw FILE again' }

function optionsOf(definition: BenchDefinition<unknown>): Record<string, OptionSpec> {
  return {
    ...definition.options,
    ...(definition.cli ? { build: BUILD } : {}),
    ...(definition.cli && definition.baseline ? { baseline: BASELINE } : {}),
    ...(definition.render ? { render: RENDER } : {}),
    ...COMMON,
  }
}

export function usage(definition: BenchDefinition<unknown>): string {
  const options = Object.entries(optionsOf(definition))
  const flag = ([name, spec]: [string, OptionSpec]): string => `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`
  const width = Math.max(...options.map((o) => flag(o).length))
  return [
    `usage: npm run bench -- ${definition.name} [flags]   (or: node --import tsx bench/${definition.name}.ts [flags])`,
    `${definition.summary}.${definition.root ? ` Run as root: ${definition.root}.` : ''}`,
    ...options.map(([name, spec]) => {
      const fallback = spec.type === 'string' && spec.default !== undefined ? ` (default ${String(spec.default)})` : ''
      return `  ${flag([name, spec]).padEnd(width)}  ${spec.help}${fallback}`
    }),
    ...(definition.notes ?? []),
  ].join('\n')
}

/** A whole number ≥ min from flag `name`, or `fallback` when the flag is absent. */
export function integer(values: OptionValues, name: string, options: { min?: number; fallback?: number } = {}): number {
  const value = values[name]
  if (value === undefined && options.fallback !== undefined) return options.fallback
  const n = Number(value)
  const min = options.min ?? 1
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, not "${String(value)}"`)
  return n
}

/** Comma-separated whole numbers ≥ min. */
export function integers(values: OptionValues, name: string, min = 1): number[] {
  return String(values[name] ?? '')
    .split(',')
    .map((item) => integer({ [name]: item.trim() }, name, { min }))
}

export function text(values: OptionValues, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true
}

// ---------------------------------------------------------------------------------------------
// Machine facts and leftovers

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return '?'
  }
}

function machine(): string {
  const cpus = os.cpus()
  const debian = existsSync('/etc/debian_version') ? ` (Debian ${readFileSync('/etc/debian_version', 'utf8').trim()})` : ''
  const ram = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`
  return `nproc ${os.availableParallelism()}, ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${ram}; Linux ${os.release()}${debian}, Node ${process.version}`
}

function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
}

function commandLineOf(pid: number): string {
  try {
    return `pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`
  } catch {
    return `pid ${pid}`
  }
}

/** Processes whose pid was started here, or whose command line names a dir made here, still running (zombies aside). */
function leftovers(pids: readonly number[], needles: readonly string[]): string[] {
  const found = new Set<string>()
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) found.add(commandLineOf(pid))
    } catch {
      /* gone */
    }
  }
  for (const needle of needles) for (const pid of pidsWithCmdline(needle)) found.add(commandLineOf(pid))
  return [...found]
}

// ---------------------------------------------------------------------------------------------
// The run

class BenchRun implements Bench {
  readonly teardown: Teardown
  readonly out: string[] = []
  readonly raw: Record<string, unknown> = {}
  readonly controller = new AbortController()
  readonly pids: number[] = []
  readonly needles: string[] = []
  snapshot: CliSnapshot | undefined
  baseline: CliSnapshot | undefined
  baselineRef: string | undefined

  constructor(private readonly name: string) {
    this.teardown = new Teardown((line) => this.log(line))
  }

  log(line: string): void {
    process.stderr.write(`[${this.name} ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
  }

  get cli(): CliSnapshot {
    if (!this.snapshot) throw new Error(`bench ${this.name} measures no CLI: set \`cli: true\` in its definition`)
    return this.snapshot
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  watch(processes: { pids?: readonly number[]; needles?: readonly string[] }): void {
    this.pids.push(...(processes.pids ?? []).filter((pid) => pid > 0))
    this.needles.push(...(processes.needles ?? []))
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix))
    this.teardown.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }))
    this.watch({ needles: [`${dir}/`] })
    return dir
  }

  /** The children still running (after a failure: a writer, a killed run's tree), the teardown, then the /proc check; the outcome as the report's last line says it. */
  async finish(): Promise<string> {
    stopAllRuns('the bench is tearing down')
    const problems = await this.teardown.run()
    for (const problem of problems) this.log(`teardown problem: ${problem}`)
    const left = leftovers(this.pids, this.needles)
    for (const line of left) this.log(`LEFT RUNNING: ${line}`)
    if (left.length === 0) this.log('teardown: nothing left running')
    return problems.length === 0 && left.length === 0
      ? 'everything stopped and removed, nothing left running (checked in /proc).'
      : `PROBLEMS: ${[...problems, ...left].join('; ')}`
  }
}

function header(definition: BenchDefinition<unknown>, facts: HeaderFacts): string[] {
  const cli = facts.cli
  const stale = cli && cli.stale.length > 0 ? `; **the build under test was older than ${cli.stale.length} file(s) of src/, edited after it was built**` : ''
  return [
    `## ${definition.title}`,
    '',
    `- Command: ${code(facts.command)} (${definition.root ? 'as root, ' : ''}from the repository root${cli && !cli.built ? ', after `npm run build`' : ''})`,
    `- Date: ${facts.date}; the whole run took ${seconds(facts.durationMs)}`,
    `- Machine: ${facts.machine}; load average ${facts.loadStart} at the start, ${facts.loadEnd} at the end (a shared, noisy machine: compare medians and ratios measured in the same run)`,
    `- Source: ${facts.source}`,
    ...(cli ? [`- probe-ops: ${code(cli.version)}, run as \`node bin/run.js\` from ${cli.origin}${stale}`] : []),
    ...(facts.baseline
      ? [
          `- Baseline (\`--baseline ${facts.baseline.ref}\`): probe-ops ${code(facts.baseline.version)}, run as \`node bin/run.js\` from ${facts.baseline.origin}`,
        ]
      : []),
    ...(facts.rusage
      ? [
          `- CPU and peak RSS: every timed run under GNU time (\`${TIME_BIN} -f '%e %U %S %M'\`): CPU is user + system time of the process and of every child it waited for (10 ms resolution); peak RSS is the largest single process of that tree; MB = 10⁶ bytes.`,
        ]
      : []),
  ]
}

/** The body after the header's list: its own bullets go on with that list, anything else after a blank line. */
function joined(body: readonly string[]): string[] {
  return body[0]?.startsWith('- ') ? [...body] : ['', ...body]
}

function emit(markdown: string[], out: string | undefined): void {
  const text = `${markdown.join('\n')}\n`
  process.stdout.write(text)
  if (out) writeFileSync(out, text)
}

/** The flags' values and the body's arguments, or the exit code when there is nothing to run (--help: 0, bad flags: 2). */
function parseFlags<Args>(definition: BenchDefinition<Args>, argv: string[]): { values: OptionValues; args: Args } | number {
  const generic = definition as BenchDefinition<unknown>
  try {
    const { values } = parseArgs({ args: argv, options: optionsOf(generic), strict: true, allowPositionals: false })
    if (values.help === true) {
      process.stdout.write(`${usage(generic)}\n`)
      return 0
    }
    const ref = text(values, 'baseline')
    if (ref !== undefined && !resolveCommit(ROOT, ref)) throw new UsageError(`--baseline ${ref} names no commit of this repository`)
    return { values, args: definition.parse(values) }
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    process.stderr.write(`${definition.name}: ${why} (npm run bench -- ${definition.name} --help lists the flags)\n`)
    return 2
  }
}

/** Why the bench cannot run here (not root, no GNU time), before it starts anything. */
function refusal(definition: BenchDefinition<unknown>): string | undefined {
  if (definition.root && process.getuid?.() !== 0) return `run this as root: ${definition.root}`
  return definition.rusage ? missingTime() : undefined
}

/** The private copy of the CLI, registered for removal; what the header says of it. */
async function prepareCli(bench: BenchRun, build: boolean): Promise<NonNullable<HeaderFacts['cli']>> {
  const snapshot = await snapshotCli(ROOT, { build, log: (line) => bench.log(line) })
  bench.teardown.add(`remove ${snapshot.root}`, () => snapshot.remove())
  bench.snapshot = snapshot
  if (snapshot.stale.length > 0) {
    const some = `${snapshot.stale.slice(0, 5).join(', ')}${snapshot.stale.length > 5 ? ', …' : ''}`
    bench.log(`WARNING: the build under test is older than ${snapshot.stale.length} file(s) of src/ (${some}); pass --build to measure src/ as it is now`)
  }
  return { origin: snapshot.origin, version: await versionOf(snapshot), stale: snapshot.stale, built: build }
}

async function versionOf(snapshot: CliSnapshot): Promise<string> {
  return (await timed(process.execPath, [snapshot.bin, '--version'], { env: cleanEnv(), cwd: ROOT })).stdout.trim()
}

/** The CLI of git REF, built in a temp dir the teardown removes (with whatever its build left running). */
async function prepareBaseline(bench: BenchRun, ref: string): Promise<NonNullable<HeaderFacts['baseline']>> {
  const dir = await bench.tempDir('po-bench-baseline-')
  bench.log(`building the baseline ${ref} in ${dir}`)
  const snapshot = await baselineCli(ROOT, ref, dir, (line) => bench.log(line))
  bench.baseline = snapshot
  bench.baselineRef = ref
  return { ref, origin: snapshot.origin, version: await versionOf(snapshot) }
}

/** Parses, checks, runs, tears down and prints; resolves to the exit code (on SIGINT 130, SIGTERM 143). */
export async function runBench<Args>(definition: BenchDefinition<Args>, argv: string[]): Promise<number> {
  const generic = definition as BenchDefinition<unknown>
  const parsed = parseFlags(definition, argv)
  if (typeof parsed === 'number') return parsed
  const { values, args } = parsed
  const out = text(values, 'out')
  const render = text(values, 'render')
  if (render && definition.render) {
    const file = JSON.parse(readFileSync(render, 'utf8')) as RawFile
    emit([...header(generic, file.header), ...joined(definition.render(file)), `Teardown: ${file.header.teardown}`, ''], out)
    return 0
  }
  const refused = refusal(generic)
  if (refused) {
    process.stderr.write(`${definition.name}: ${refused}\n`)
    return 2
  }

  const bench = new BenchRun(definition.name)
  const started = new Date()
  const loadStart = loadavg()
  let finishing: Promise<string> | undefined
  const finish = (): Promise<string> => (finishing ??= bench.finish())
  let interrupted: number | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted !== undefined) return
    interrupted = signal === 'SIGINT' ? 130 : 143
    bench.log(`${signal}: stopping the runs and tearing everything down`)
    bench.controller.abort()
    stopAllRuns(`interrupted by ${signal}`)
    void finish().then(() => process.exit(interrupted))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let cli: HeaderFacts['cli']
  let baseline: HeaderFacts['baseline']
  let failure: { error: unknown } | undefined
  try {
    if (definition.cli) cli = await prepareCli(bench, flag(values, 'build'))
    const ref = text(values, 'baseline')
    if (ref !== undefined) baseline = await prepareBaseline(bench, ref)
    await definition.run(bench, args)
  } catch (error) {
    failure = { error }
  }
  const teardown = await finish()
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  if (interrupted !== undefined) return interrupted

  const dirty = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length
  const facts: HeaderFacts = {
    command: `npm run bench -- ${[definition.name, ...argv].join(' ')}`,
    date: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    machine: machine(),
    loadStart,
    loadEnd: loadavg(),
    source: `commit ${git(['rev-parse', '--short', 'HEAD'])}${dirty > 0 ? ` plus ${dirty} uncommitted change(s) under src/` : ''}`,
    ...(cli ? { cli } : {}),
    ...(baseline ? { baseline } : {}),
    rusage: definition.rusage === true,
    teardown,
  }
  const file: RawFile = { header: facts, args, data: bench.raw }
  const raw = text(values, 'raw')
  if (raw) writeFileSync(raw, `${JSON.stringify(file, null, 2)}\n`)
  if (failure) {
    const { error } = failure
    bench.log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    return 1
  }
  emit([...header(generic, facts), ...joined(definition.render ? definition.render(file) : bench.out), `Teardown: ${teardown}`, ''], out)
  return 0
}

/** Runs the definition when its file is the program (`node --import tsx bench/NAME.ts`), then exits. */
export function runIfMain<Args>(meta: ImportMeta, definition: BenchDefinition<Args>): void {
  if (!process.argv[1] || meta.url !== pathToFileURL(path.resolve(process.argv[1])).href) return
  runBench(definition, process.argv.slice(2)).then(
    (exitCode) => process.exit(exitCode),
    (error: unknown) => {
      process.stderr.write(`[${definition.name}] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    },
  )
}

// ---------------------------------------------------------------------------------------------
// Runs

export interface Sample {
  /** Wall time, spawn to exit (or whatever the bench times). */
  ms: number
  cpuMs?: number
  peakRssKb?: number
}

export interface Variant<S extends Sample = Sample> {
  key: string
  label: string
  /** One verified run (throws RunFailed when it did not do its job). */
  run(): Promise<S>
}

export interface InterleaveOptions<S extends Sample> {
  /** Unrecorded (but verified) runs of each variant first; default 1. */
  warmup?: number
  /** Each round in the same order (default), reversed every other round, or rotated by one each round. */
  order?: 'same' | 'alternate' | 'rotate'
  /** A round's log line per variant; default its wall time (and CPU, RSS). */
  describe?(sample: S): string
}

function describeSample(sample: Sample): string {
  const cpu = sample.cpuMs === undefined ? '' : `, CPU ${ms(sample.cpuMs)}`
  const rss = sample.peakRssKb === undefined ? '' : `, RSS ${megabytes(sample.peakRssKb)}`
  return `${ms(sample.ms)}${cpu}${rss}`
}

function roundOrder<T>(items: readonly T[], round: number, order: InterleaveOptions<Sample>['order']): T[] {
  if (order === 'alternate') return round % 2 === 1 ? [...items].reverse() : [...items]
  if (order === 'rotate') return [...items.slice(round % items.length), ...items.slice(0, round % items.length)]
  return [...items]
}

/** Warm-ups of each, then `runs` rounds of A, B, C, …: the samples of the rounds, by variant key. */
export async function interleave<S extends Sample>(
  bench: Bench,
  name: string,
  variants: ReadonlyArray<Variant<S>>,
  runs: number,
  options: InterleaveOptions<S> = {},
): Promise<Map<string, S[]>> {
  const warmup = options.warmup ?? 1
  for (let i = 1; i <= warmup; i++) {
    bench.log(`${name}: warm-up${warmup > 1 ? ` ${i}/${warmup}` : ''}`)
    for (const variant of variants) await variant.run()
  }
  const samples = new Map<string, S[]>(variants.map((v) => [v.key, []]))
  for (let round = 0; round < runs; round++) {
    const line: string[] = []
    for (const variant of roundOrder(variants, round, options.order)) {
      const sample = await variant.run()
      samples.get(variant.key)!.push(sample)
      line.push(`${variant.key} ${options.describe ? options.describe(sample) : describeSample(sample)}`)
    }
    bench.log(`${name}: round ${round + 1}/${runs}: ${line.join('; ')}`)
  }
  return samples
}

// ---------------------------------------------------------------------------------------------
// Tables and verdicts

export type Metric = 'ms' | 'cpuMs' | 'peakRssKb'

/** One metric of every sample; throws when a sample lacks it (a bench without `rusage`). */
export function metric(samples: readonly Sample[], name: Metric): number[] {
  return samples.map((sample) => {
    const value = sample[name]
    if (value === undefined) throw new Error(`a sample has no ${name}: run with \`rusage: true\``)
    return value
  })
}

export function medianOf(samples: readonly Sample[], name: Metric = 'ms'): number {
  return median(metric(samples, name))
}

export type Column = 'runs' | 'median' | 'p90' | 'min' | 'max' | 'cpu' | 'rss'

const COLUMNS: Record<Column, { head: string; cell(samples: readonly Sample[]): string }> = {
  runs: { head: 'runs', cell: (s) => String(s.length) },
  median: { head: 'median', cell: (s) => ms(medianOf(s)) },
  p90: { head: 'p90', cell: (s) => ms(percentile(metric(s, 'ms'), 90)) },
  min: { head: 'min', cell: (s) => ms(Math.min(...metric(s, 'ms'))) },
  max: { head: 'max', cell: (s) => ms(Math.max(...metric(s, 'ms'))) },
  cpu: { head: 'CPU (median)', cell: (s) => ms(medianOf(s, 'cpuMs')) },
  rss: { head: 'peak RSS (median / max)', cell: (s) => `${megabytes(medianOf(s, 'peakRssKb'))} / ${megabytes(Math.max(...metric(s, 'peakRssKb')))}` },
}

export type SummaryRow = [label: string, samples: readonly Sample[], extra?: readonly string[]]

/** A markdown table of order statistics, a row per label; `extra` columns after the chosen ones. */
export function summaryTable(rows: readonly SummaryRow[], options: { columns?: readonly Column[]; first?: string; extra?: readonly string[] } = {}): string {
  const columns = options.columns ?? ['runs', 'median', 'p90', 'min', 'max']
  const extra = options.extra ?? []
  return table(
    [options.first ?? 'command', ...columns.map((c) => COLUMNS[c].head), ...extra],
    rows.map(([label, samples, cells]) => [label, ...columns.map((c) => COLUMNS[c].cell(samples)), ...(cells ?? [])]),
    ['l', ...columns.map(() => 'r' as const), ...extra.map(() => 'r' as const)],
  )
}

/** The same commands, run in the same rounds by the current CLI and by the --baseline one. */
export interface BaselinePair {
  /** The row's first cells (command, and whatever else tells rows apart). */
  cells: readonly string[]
  current: readonly Sample[]
  baseline: readonly Sample[]
}

const FIGURES: ReadonlyArray<{ metric: Metric; name: string; format(value: number): string }> = [
  { metric: 'ms', name: 'wall', format: ms },
  { metric: 'cpuMs', name: 'CPU', format: ms },
  { metric: 'peakRssKb', name: 'peak RSS', format: megabytes },
]

/** Significance of the sign test below which a figure counts as changed, not noise. */
const SIGNIFICANT_P = 0.05

function pairTest(pair: BaselinePair, name: Metric): ReturnType<typeof signTest> {
  return signTest(metric(pair.current, name), metric(pair.baseline, name))
}

/**
 * Current against baseline: each figure's medians and their ratio, and in how many rounds the
 * current CLI's figure was the higher of the two (with the sign test's p: the chance of that many
 * or more by luck alone; ties left out).
 */
export function baselineTable(pairs: readonly BaselinePair[], first: readonly string[]): string {
  const heads = FIGURES.flatMap((f) => [`${f.name}, current`, `${f.name}, baseline`, `${f.name} ratio`])
  const rounds = (pair: BaselinePair): string =>
    FIGURES.map((f) => {
      const test = pairTest(pair, f.metric)
      return `${test.higher}/${pair.current.length}${test.p < SIGNIFICANT_P ? ` (p ${test.p.toFixed(3)})` : ''}`
    }).join(' · ')
  return table(
    [...first, 'runs', ...heads, 'rounds current higher (wall · CPU · RSS)'],
    pairs.map((pair) => [
      ...pair.cells,
      String(pair.current.length),
      ...FIGURES.flatMap((f) => {
        const [now, before] = [medianOf(pair.current, f.metric), medianOf(pair.baseline, f.metric)]
        return [f.format(now), f.format(before), ratio(now, before)]
      }),
      rounds(pair),
    ]),
    [...first.map(() => 'l' as const), ...Array<'r'>(heads.length + 2).fill('r')],
  )
}

/** Met when no figure of any pair is higher than the baseline's in more rounds than chance allows. */
export function baselineVerdict(ref: string, pairs: readonly BaselinePair[]): string {
  const higher = pairs.flatMap((pair) =>
    FIGURES.flatMap((f) => {
      const test = pairTest(pair, f.metric)
      if (test.p >= SIGNIFICANT_P) return []
      const [now, before] = [medianOf(pair.current, f.metric), medianOf(pair.baseline, f.metric)]
      return [
        `${pair.cells.join(', ')}: ${f.name} ${f.format(now)} against ${f.format(before)} (${ratio(now, before)}, higher in ${test.higher} of ${pair.current.length} rounds, p ${test.p.toFixed(3)})`,
      ]
    }),
  )
  return verdict(
    `Not slower than ${ref} (no figure higher than the baseline's in more rounds than chance allows: sign test, p < ${SIGNIFICANT_P})`,
    higher.length === 0,
    higher.length === 0 ? 'wall, CPU and peak RSS within noise for every command.' : `higher beyond noise: ${higher.join('; ')}.`,
  )
}

/** `- LABEL: **met**: TEXT` (or **NOT MET**), a line of a Verdicts list. */
export function verdict(label: string, met: boolean, text: string): string {
  return `- ${label}: ${met ? '**met**' : '**NOT MET**'}: ${text}`
}

/** Wall time, and CPU and peak RSS when the run was under GNU time. */
export function sampleOf(result: TimedResult): Sample {
  return {
    ms: result.ms,
    ...(result.cpuMs === undefined ? {} : { cpuMs: result.cpuMs }),
    ...(result.peakRssKb === undefined ? {} : { peakRssKb: result.peakRssKb }),
  }
}

/** A command that must exit 0 and pass `check` (undefined: fine; else why not). */
export function commandVariant(p: {
  key: string
  label: string
  command: string
  args: readonly string[]
  env: Record<string, string>
  cwd: string
  rusage?: boolean
  timeoutMs?: number
  check?(result: TimedResult): string | undefined
}): Variant {
  return {
    key: p.key,
    label: p.label,
    async run() {
      const result = await timed(p.command, p.args, { env: p.env, cwd: p.cwd, timeoutMs: p.timeoutMs ?? 60_000, rusage: p.rusage })
      if (result.exitCode !== 0) fail(p.label, `exit ${result.exitCode}, expected 0`, result)
      const problem = p.check?.(result)
      if (problem) fail(p.label, problem, result)
      return sampleOf(result)
    },
  }
}
