/**
 * Benchmark of issues 2 and 13 §7: `probe-ops diagnose` (wall time, CPU time, peak RSS) and cold start.
 *
 *   npm run bench -- diagnose [--runs N] [--hang-runs N] [--cold-runs N] [--no-sandbox] [--build] [--raw FILE]
 *
 * Run as root (the platform runs under a private dockerd). Builds a platform under Docker with
 * the integration test bed's helpers (bench/lib/platform.ts), then measures, interleaved and
 * after one warm-up run of each contender, every run under GNU time:
 *   1. the guide's diagnose.sh (bench/guide/diagnose.sh) against `probe-ops diagnose`, with and
 *      without the alerts step the script does not have, on that same platform;
 *   2. `probe-ops diagnose --check-timeout 2` with PostgreSQL, then Redis, replaced by a listener
 *      that accepts connections and never answers;
 *   3. cold start: `node -e 0` (the floor), `probe-ops --version`, `config show`, `diagnose --help`;
 *   4. `probe-ops diagnose` against `probe-ops sandbox up`'s demo platform, when that exists.
 * With `--baseline REF`, section 1 also runs `probe-ops diagnose` on the CLI of git REF, beside
 * the current one in every round, and compares the two (wall, CPU, peak RSS).
 * Every run is verified (exit code, every step's status, the script's OK/PONG/200 lines): a run
 * that did not do its job fails the benchmark instead of being timed.
 */
import { readFileSync } from 'node:fs'
import { chmod, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Report, StepResult } from '../src/report/model.js'
import { dockerCli } from '../test/bed/docker.js'
import { startHangingServer } from '../test/bed/hang.js'
import { pidsWithCmdline } from '../test/bed/process.js'
import {
  ROOT,
  baselineTable,
  baselineVerdict,
  commandVariant,
  flag,
  integer,
  interleave,
  medianOf,
  metric,
  runIfMain,
  sampleOf,
  summaryTable,
  verdict,
  type Bench,
  type BenchDefinition,
  type Column,
  type Sample,
  type SummaryRow,
  type Variant,
} from './lib/harness.js'
import { table } from './lib/markdown.js'
import { MANAGEMENT_LOG, MANAGEMENT_STDERR, startPlatform, writeConfig, type BenchPlatform } from './lib/platform.js'
import { cleanEnv, fail, tail, timed } from './lib/proc.js'
import { median, megabytes, ms, ratio, seconds } from './lib/stats.js'

const SCRIPT = path.join(ROOT, 'bench/guide/diagnose.sh')

/** Issue 2's targets, and issue 13 §7's. */
const TARGET_DIAGNOSE_MS = 1500
const HANG_CHECK_TIMEOUT_S = 2
const TARGET_HANG_MS = (HANG_CHECK_TIMEOUT_S + 1) * 1000
const TARGET_VERSION_MS = 300
const TARGET_CPU_RATIO = 1
const TARGET_RSS_KB = 100e6 / 1024
const STEP_IDS = ['host', 'services', 'http', 'postgres', 'redis', 'logs', 'alerts']
const COLUMNS: Column[] = ['runs', 'median', 'p90', 'min', 'max', 'cpu', 'rss']
/** The steps a hung dependency fails: its own, and services (which checks every service answers, since 8fea1b8). */
const HUNG_FAILS = (dependency: string): string[] => [dependency, 'services']

interface Args {
  runs: number
  hangRuns: number
  coldRuns: number
  sandbox: boolean
}

/** A diagnose run's sample also carries its report's step and job durations. */
interface DiagnoseSample extends Sample {
  steps?: Record<string, number>
  jobMs?: number
}

type Samples = Map<string, DiagnoseSample[]>

/** What every section needs. */
interface Context {
  bench: Bench
  platform: BenchPlatform
  env: Record<string, string>
  cfg: string[]
  reportsDir: string
}

// ---------------------------------------------------------------------------------------------
// Contenders and their verification

let reportSeq = 0

interface DiagnoseExpectation {
  exitCode: 0 | 1
  skipped?: string[]
  /** Steps that must fail (the hung dependency's); every other must be ok or warning. */
  failed?: string[]
  /** Extra checks on the report. */
  check?: (report: Report) => string | undefined
}

function diagnoseVariant(
  c: Context,
  p: { key: string; label: string; args: string[]; env?: Record<string, string>; expect: DiagnoseExpectation; bin?: string },
): Variant<DiagnoseSample> {
  return {
    key: p.key,
    label: p.label,
    async run() {
      const reportFile = path.join(c.reportsDir, `${p.key}-${++reportSeq}.json`)
      const args = [p.bin ?? c.bench.cli.bin, ...p.args, '--report-file', reportFile]
      const r = await timed(process.execPath, args, { env: p.env ?? c.env, cwd: c.platform.cwd, timeoutMs: 60_000, rusage: true })
      if (r.exitCode !== p.expect.exitCode) fail(p.label, `exit ${r.exitCode}, expected ${p.expect.exitCode}`, r)
      let report: Report
      try {
        report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report
      } catch (err) {
        fail(p.label, `no readable report file (${err instanceof Error ? err.message : String(err)})`, r)
      }
      await rm(reportFile, { force: true })
      const ids = report.steps.map((s) => s.id)
      if (ids.join() !== STEP_IDS.join()) fail(p.label, `steps ${ids.join()}, expected ${STEP_IDS.join()}`, r)
      for (const s of report.steps) {
        const want: StepResult['status'][] = p.expect.skipped?.includes(s.id) ? ['skipped'] : p.expect.failed?.includes(s.id) ? ['failed'] : ['ok', 'warning']
        if (!want.includes(s.status))
          fail(p.label, `step ${s.id} is ${s.status} (${s.summary}${s.error ? `: ${s.error.message}` : ''}), expected ${want.join(' or ')}`, r)
      }
      const problem = p.expect.check?.(report)
      if (problem) fail(p.label, problem, r)
      const steps = Object.fromEntries(report.steps.filter((s) => s.status !== 'skipped').map((s) => [s.id, s.durationMs]))
      return { ...sampleOf(r), steps, jobMs: report.durationMs }
    },
  }
}

/** What a healthy diagnose of the bench platform must have seen, beyond step statuses. */
function healthyCheck(report: Report): string | undefined {
  const step = (id: string): StepResult | undefined => report.steps.find((s) => s.id === id)
  const services = (step('services')?.data?.services ?? []) as Array<{ name: string; running: boolean }>
  if (services.length !== 4 || services.some((s) => !s.running)) return `services: ${JSON.stringify(services)}`
  const endpoints = (step('http')?.data?.endpoints ?? []) as Array<{ status: number }>
  if (endpoints.length !== 2 || endpoints.some((e) => e.status !== 200)) return `http: ${JSON.stringify(endpoints)}`
  // `count` is what the CLI called it before issue 12 (a --baseline may be that old).
  const logs = step('logs')?.data?.services as Array<{ service: string; errors?: number; count?: number }> | undefined
  const management = logs?.find((s) => s.service === 'management')
  const errors = management?.errors ?? management?.count
  const expectedErrors = [...MANAGEMENT_LOG, ...MANAGEMENT_STDERR].filter((l) => /^ERROR /.test(l)).length
  if (errors !== expectedErrors) return `logs: management has ${errors} errors, expected ${expectedErrors}`
  return undefined
}

/** What the guide's script must print on the healthy platform. */
const SCRIPT_EXPECTATIONS: Array<[RegExp, string]> = [
  // Not a number every time: the guide's `awk '{print $2}'` prints "us," when top shows
  // "%Cpu(s):100.0 us" (no space after the colon). A defect of the script, not of the run.
  [/CPU Usage: \S+%$/m, 'the CPU usage line'],
  [/Memory Usage: \d+(\.\d+)?%/, 'memory usage'],
  [/Disk Usage: \d+%/, 'disk usage'],
  [/^(?=.*\bmanagement\b)(?=.*\bUp\b).*$/m, 'management container Up in docker ps -a'],
  [/^(?=.*\bpostgres\b)(?=.*\bUp\b).*$/m, 'postgres container Up'],
  [/^(?=.*\bredis\b)(?=.*\bUp\b).*$/m, 'redis container Up'],
  [/Management API: 200$/m, 'Management API: 200'],
  [/Web Interface: 200$/m, 'Web Interface: 200'],
  [/Database: .*accepting connections\nOK$/m, 'Database: ... OK'],
  [/Redis: PONG$/m, 'Redis: PONG'],
  [/ERROR database pool exhausted/, 'the management ERROR lines'],
  [/Active connections:\s+\d+$/m, 'active connections'],
  [/Database size:\s+\d+ [kMG]?B$/m, 'database size'],
  [/Redis memory: [\d.]+[KMG]?B?\s*$/m, 'Redis memory'],
  [/=== Diagnostic Complete ===/, 'the end'],
]

function scriptVariant(c: Context): Variant {
  return commandVariant({
    key: 'script',
    label: 'guide: bash bench/guide/diagnose.sh',
    command: '/bin/bash',
    args: [SCRIPT],
    env: c.env,
    cwd: c.platform.cwd,
    rusage: true,
    check: (r) =>
      SCRIPT_EXPECTATIONS.map(([re, what]) => (re.test(r.stdout) ? '' : `output lacks ${what}`)).find(Boolean) ||
      (r.stderr.trim() ? 'wrote to stderr' : undefined),
  })
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** Rounds in which `key` was faster than the script (same index = same round). */
function wins(m: Samples, key: string): number {
  const script = m.get('script')!
  return m.get(key)!.filter((s, i) => s.ms < script[i]!.ms).length
}

/** Runs of `key` slower than `limitMs`. */
function over(m: Samples, key: string, limitMs: number): number {
  return m.get(key)!.filter((s) => s.ms > limitMs).length
}

/** Median of each step's report `durationMs` per variant, and of the whole job. */
function stepTable(m: Samples, keys: Array<[string, string]>): string {
  const cell = (values: number[]): string => (values.length > 0 ? ms(median(values)) : '–')
  const rows = STEP_IDS.map((id) => [id, ...keys.map(([key]) => cell(m.get(key)!.flatMap((s) => (s.steps?.[id] === undefined ? [] : [s.steps[id]]))))])
  rows.push(['(whole job, in-process)', ...keys.map(([key]) => cell(m.get(key)!.flatMap((s) => (s.jobMs === undefined ? [] : [s.jobMs]))))])
  return table(['step (report `durationMs`, median)', ...keys.map(([, label]) => label)], rows, ['l', ...keys.map(() => 'r' as const)])
}

// ---------------------------------------------------------------------------------------------
// The sections; each writes its part of the markdown and returns its verdicts.

async function healthySection(c: Context, args: Args): Promise<string[]> {
  const { baseline, baselineRef } = c.bench
  const healthy = { exitCode: 0, check: healthyCheck } as const
  const f1 = await interleave<DiagnoseSample>(
    c.bench,
    'healthy',
    [
      scriptVariant(c),
      diagnoseVariant(c, { key: 'diagnose', label: 'probe-ops diagnose', args: ['diagnose', ...c.cfg], expect: healthy }),
      // Right after the current CLI (right before it every other round, see `order`).
      ...(baseline
        ? [
            diagnoseVariant(c, {
              key: 'diagnose-baseline',
              label: `probe-ops diagnose (${baselineRef})`,
              args: ['diagnose', ...c.cfg],
              expect: healthy,
              bin: baseline.bin,
            }),
          ]
        : []),
      diagnoseVariant(c, {
        key: 'diagnose-noalerts',
        label: 'probe-ops diagnose --skip alerts',
        args: ['diagnose', ...c.cfg, '--skip', 'alerts'],
        expect: { exitCode: 0, skipped: ['alerts'], check: healthyCheck },
      }),
    ],
    args.runs,
    { order: baseline ? 'alternate' : 'same' },
  )
  c.bench.raw.healthy = Object.fromEntries(f1)
  const [script, diagnose, noAlerts] = [f1.get('script')!, f1.get('diagnose')!, f1.get('diagnose-noalerts')!]
  const wall = (s: Sample[]): number => medianOf(s)
  const cpu = (s: Sample[]): number => medianOf(s, 'cpuMs')
  const rss = (s: Sample[]): number => medianOf(s, 'peakRssKb')
  const rssMax = (s: Sample[]): number => Math.max(...metric(s, 'peakRssKb'))
  const ratios = (s: Sample[]): string[] => [ratio(cpu(s), cpu(script)), ratio(rss(s), rss(script))]
  c.bench.out.push(
    '### 1. diagnose against a healthy platform',
    '',
    summaryTable(
      [
        ['guide: `bash bench/guide/diagnose.sh`', script, ratios(script)],
        ['`probe-ops diagnose`', diagnose, ratios(diagnose)],
        ...(baseline
          ? [[`\`probe-ops diagnose\`, baseline \`${baselineRef}\``, f1.get('diagnose-baseline')!, ratios(f1.get('diagnose-baseline')!)] satisfies SummaryRow]
          : []),
        ["`probe-ops diagnose --skip alerts` (the script's checks)", noAlerts, ratios(noAlerts)],
      ],
      { columns: COLUMNS, extra: ['CPU ÷ script (medians)', 'peak RSS ÷ script (medians)'] },
    ),
    '',
  )
  c.bench.out.push(
    `Ratio of wall-time medians, script / probe-ops: ${ratio(wall(script), wall(diagnose))} (all steps), ${ratio(wall(script), wall(noAlerts))} (\`--skip alerts\`, like for like). Round by round, \`probe-ops diagnose\` beat the script in ${wins(f1, 'diagnose')} of ${args.runs} rounds, \`--skip alerts\` in ${wins(f1, 'diagnose-noalerts')}.`,
    '',
    "Where probe-ops spends its time (median of each step's `durationMs` from the reports of the timed runs; steps run concurrently, so they overlap):",
    '',
    stepTable(f1, [
      ['diagnose', '`diagnose`'],
      ['diagnose-noalerts', '`--skip alerts`'],
    ]),
    '',
    `Start-up and exit outside the job (wall median − in-process job median): ${ms(wall(diagnose) - median(diagnose.map((s) => s.jobMs!)))} for \`diagnose\`.`,
    '',
  )
  const pairs = baseline && baselineRef ? [{ cells: ['`probe-ops diagnose`'], current: diagnose, baseline: f1.get('diagnose-baseline')! }] : []
  if (baselineRef && pairs.length > 0)
    c.bench.out.push(
      `Against the baseline \`${baselineRef}\` (header), run right after the current CLI in odd rounds and right before it in even rounds (ratio = current / baseline; "rounds current higher": how many rounds the current CLI's figure was the higher of the pair, with the one-sided sign test's p where below 0.05):`,
      '',
      baselineTable(pairs, ['command']),
      '',
      "Per step, current against baseline (the baseline's report `durationMs`):",
      '',
      stepTable(f1, [
        ['diagnose', '`diagnose`'],
        ['diagnose-baseline', `\`diagnose\`, \`${baselineRef}\``],
      ]),
      '',
    )
  const wallMet = wall(diagnose) <= TARGET_DIAGNOSE_MS && wall(diagnose) < wall(script) && wall(noAlerts) < wall(script)
  return [
    ...(baselineRef && pairs.length > 0 ? [baselineVerdict(baselineRef, pairs)] : []),
    verdict(
      `Target 1 (diagnose median ≤ ${seconds(TARGET_DIAGNOSE_MS)} and faster than diagnose.sh on the same platform)`,
      wallMet,
      `median ${ms(wall(diagnose))} (${ms(wall(noAlerts))} with \`--skip alerts\`) against the script's ${ms(wall(script))} (script / probe-ops ${ratio(wall(script), wall(diagnose))}, ${ratio(wall(script), wall(noAlerts))} like for like).`,
    ),
    verdict(
      `CPU ≤ ${TARGET_CPU_RATIO.toFixed(2)}× the script's (issue 13 §7; medians)`,
      cpu(diagnose) <= TARGET_CPU_RATIO * cpu(script),
      `\`probe-ops diagnose\` ${ms(cpu(diagnose))}, ${ratio(cpu(diagnose), cpu(script))} the script's ${ms(cpu(script))} (\`--skip alerts\` ${ms(cpu(noAlerts))}, ${ratio(cpu(noAlerts), cpu(script))}).`,
    ),
    verdict(
      `peak RSS ≤ ${megabytes(TARGET_RSS_KB)} (issue 13 §7; the largest of the runs)`,
      rssMax(diagnose) <= TARGET_RSS_KB,
      `\`probe-ops diagnose\` median ${megabytes(rss(diagnose))}, max ${megabytes(rssMax(diagnose))} (the script's largest process: ${megabytes(rss(script))}, ${ratio(rss(diagnose), rss(script))}; \`--skip alerts\` max ${megabytes(rssMax(noAlerts))}).`,
    ),
  ]
}

async function hungSection(c: Context, args: Args): Promise<string[]> {
  const hungPg = await startHangingServer()
  c.bench.teardown.add('hanging listener (postgres)', () => hungPg.close())
  const hungRedis = await startHangingServer()
  c.bench.teardown.add('hanging listener (redis)', () => hungRedis.close())
  const hangArgs = ['diagnose', ...c.cfg, '--check-timeout', String(HANG_CHECK_TIMEOUT_S)]
  const pgLabel = `probe-ops diagnose --check-timeout ${HANG_CHECK_TIMEOUT_S}, PGPORT → hanging listener`
  const redisLabel = `probe-ops diagnose --check-timeout ${HANG_CHECK_TIMEOUT_S}, REDIS_URL → hanging listener`
  const f2 = await interleave(
    c.bench,
    'hung',
    [
      diagnoseVariant(c, {
        key: 'hung-postgres',
        label: pgLabel,
        args: hangArgs,
        env: { ...c.env, PGPORT: String(hungPg.port) },
        expect: { exitCode: 1, failed: HUNG_FAILS('postgres') },
      }),
      diagnoseVariant(c, {
        key: 'hung-redis',
        label: redisLabel,
        args: hangArgs,
        env: { ...c.env, REDIS_URL: `redis://127.0.0.1:${hungRedis.port}` },
        expect: { exitCode: 1, failed: HUNG_FAILS('redis') },
      }),
    ],
    args.hangRuns,
  )
  if (hungPg.accepted === 0 || hungRedis.accepted === 0)
    throw new Error(`the hanging listeners saw no connection (postgres ${hungPg.accepted}, redis ${hungRedis.accepted}): the hung runs did not test a hang`)
  c.bench.raw.hung = Object.fromEntries(f2)
  const [pg, redis] = [f2.get('hung-postgres')!, f2.get('hung-redis')!]
  c.bench.out.push(
    `### 2. diagnose with one dependency hung (\`--check-timeout ${HANG_CHECK_TIMEOUT_S}\`, target ≤ ${seconds(TARGET_HANG_MS)})`,
    '',
    'The dependency is replaced by a listener that accepts TCP connections and never answers (test/bed/hang.ts).',
    '',
    summaryTable(
      [
        [`\`${pgLabel}\``, pg],
        [`\`${redisLabel}\``, redis],
      ],
      { columns: COLUMNS },
    ),
    '',
    stepTable(f2, [
      ['hung-postgres', 'postgres hung'],
      ['hung-redis', 'redis hung'],
    ]),
    '',
  )
  const detail = (s: Sample[], key: string): string =>
    `median ${ms(medianOf(s))} (max ${ms(Math.max(...metric(s, 'ms')))}, ${over(f2, key, TARGET_HANG_MS)} of ${args.hangRuns} runs over)`
  return [
    verdict(
      `Target 2 (hung dependency: done within check timeout + 1 s = ${seconds(TARGET_HANG_MS)}; judged on the median)`,
      medianOf(pg) <= TARGET_HANG_MS && medianOf(redis) <= TARGET_HANG_MS,
      `PostgreSQL hung, ${detail(pg, 'hung-postgres')}; Redis hung, ${detail(redis, 'hung-redis')}.`,
    ),
  ]
}

async function coldStartSection(c: Context, args: Args): Promise<string[]> {
  const bin = c.bench.cli.bin
  const cli = (key: string, label: string, argv: string[], stdout: RegExp): Variant =>
    commandVariant({
      key,
      label,
      command: process.execPath,
      args: argv,
      env: c.env,
      cwd: c.platform.cwd,
      rusage: true,
      check: (r) => (stdout.test(r.stdout) ? undefined : `stdout does not match ${stdout}`),
    })
  const f3 = await interleave(
    c.bench,
    'cold start',
    [
      cli('node', 'node -e 0 (baseline)', ['-e', '0'], /^$/),
      cli('version', 'probe-ops --version', [bin, '--version'], /^probe-ops\/\d+\.\d+\.\d+ /),
      cli('config-show', 'probe-ops config show', [bin, 'config', 'show', ...c.cfg], /postgres/),
      cli('diagnose-help', 'probe-ops diagnose --help', [bin, 'diagnose', '--help'], /USAGE[\s\S]*check-timeout/),
    ],
    args.coldRuns,
  )
  c.bench.raw.coldStart = Object.fromEntries(f3)
  const node = f3.get('node')!
  const above = (s: Sample[]): string[] => [ms(medianOf(s) - medianOf(node)), ms(medianOf(s, 'cpuMs') - medianOf(node, 'cpuMs'))]
  const version = f3.get('version')!
  c.bench.out.push(
    '### 3. Cold start',
    '',
    summaryTable(
      [
        ['`node -e 0` (baseline)', node, ['–', '–']],
        ['`probe-ops --version`', version, above(version)],
        ['`probe-ops config show`', f3.get('config-show')!, above(f3.get('config-show')!)],
        ['`probe-ops diagnose --help`', f3.get('diagnose-help')!, above(f3.get('diagnose-help')!)],
      ],
      { columns: COLUMNS, extra: ['median − node', 'CPU − node'] },
    ),
    '',
  )
  return [
    verdict(
      `Target 3 (\`probe-ops --version\` median ≤ ${ms(TARGET_VERSION_MS)})`,
      medianOf(version) <= TARGET_VERSION_MS,
      `${ms(medianOf(version))}, ${ms(medianOf(version) - medianOf(node))} above \`node -e 0\` (${ms(medianOf(node))}); \`config show\` ${ms(medianOf(f3.get('config-show')!))}, \`diagnose --help\` ${ms(medianOf(f3.get('diagnose-help')!))} (no target).`,
    ),
  ]
}

/** SIGTERM, then after 5 s SIGKILL, every process whose command line contains `needle`. */
async function killByCmdline(needle: string): Promise<number[]> {
  const signalAll = (signal: NodeJS.Signals): void => {
    for (const pid of pidsWithCmdline(needle)) {
      try {
        process.kill(pid, signal)
      } catch {
        /* gone */
      }
    }
  }
  const pids = pidsWithCmdline(needle)
  signalAll('SIGTERM')
  for (let i = 0; i < 50 && pidsWithCmdline(needle).length > 0; i++) await sleep(100)
  signalAll('SIGKILL')
  return pids
}

async function sandboxSection(c: Context, args: Args): Promise<string[]> {
  const bin = c.bench.cli.bin
  c.bench.out.push('### 4. diagnose against `probe-ops sandbox up`', '')
  if (!args.sandbox) {
    c.bench.out.push('Not measured in this run (`--no-sandbox`).', '')
    return []
  }
  const help = await timed(process.execPath, [bin, 'sandbox', '--help'], { env: c.env, cwd: c.platform.cwd, timeoutMs: 30_000 })
  if (help.exitCode !== 0 || !/sandbox up/.test(help.stdout) || !/sandbox down/.test(help.stdout)) {
    c.bench.out.push('`probe-ops sandbox up` is not available in this build (`probe-ops sandbox --help` does not list it); not measured.', '')
    return ['- Sandbox: not measured (not available).']
  }
  // Its own parent, searchable by the postgres OS user (sandbox up checks that).
  const sandboxParent = await c.bench.tempDir('po-bench-sandbox-')
  await chmod(sandboxParent, 0o711)
  const sandboxDir = path.join(sandboxParent, 'sandbox')
  c.bench.log(`sandbox up --dir ${sandboxDir}`)
  c.bench.teardown.add('sandbox down', async () => {
    const down = await timed(process.execPath, [bin, 'sandbox', 'down', '--dir', sandboxDir], {
      env: c.env,
      cwd: c.platform.cwd,
      timeoutMs: 120_000,
      evenIfStopped: true,
    })
    // Whatever `sandbox down` missed (or all of it, had it failed): the processes whose
    // command line names the sandbox's own temp dir, which only this `sandbox up` started.
    const killed = await killByCmdline(`${sandboxDir}/`)
    if (down.exitCode !== 0)
      throw new Error(`sandbox down exited ${down.exitCode}: ${tail(down.stderr, 10)}${killed.length ? `; killed ${killed.join(', ')}` : ''}`)
    if (killed.length > 0) throw new Error(`sandbox down left pids ${killed.join(', ')} running; killed them`)
  })
  const up = await timed(process.execPath, [bin, 'sandbox', 'up', '--dir', sandboxDir], { env: c.env, cwd: c.platform.cwd, timeoutMs: 300_000 })
  if (up.exitCode !== 0) fail('probe-ops sandbox up', `exit ${up.exitCode}`, up)
  const label = 'probe-ops diagnose --config DIR/probe-ops.yaml'
  const f4 = await interleave(
    c.bench,
    'sandbox',
    [diagnoseVariant(c, { key: 'sandbox', label, args: ['diagnose', '--config', path.join(sandboxDir, 'probe-ops.yaml')], expect: { exitCode: 0 } })],
    args.runs,
  )
  const samples = f4.get('sandbox')!
  c.bench.raw.sandbox = { upMs: up.ms, diagnose: samples }
  c.bench.out.push(
    `\`probe-ops sandbox up --dir DIR\` (DIR a fresh temp dir) took ${seconds(up.ms)}; then, against its demo platform (services under \`runtime: process\`, not Docker):`,
    '',
    summaryTable([[`\`${label}\``, samples]], { columns: COLUMNS }),
    '',
    stepTable(f4, [['sandbox', '`diagnose` (sandbox)']]),
    '',
    '`probe-ops sandbox down --dir DIR` removed it at the end.',
    '',
  )
  return [
    verdict(
      'Sandbox (no target of its own, held to target 1)',
      medianOf(samples) <= TARGET_DIAGNOSE_MS,
      `diagnose median ${ms(medianOf(samples))} against the ${seconds(TARGET_DIAGNOSE_MS)} of target 1.`,
    ),
  ]
}

// ---------------------------------------------------------------------------------------------

async function run(bench: Bench, args: Args): Promise<void> {
  const platform = await startPlatform(bench, { health: 'static', web: true })
  const reportsDir = path.join(platform.dir, 'reports')
  await mkdir(reportsDir)
  const configPath = await writeConfig(
    path.join(platform.dir, 'probe-ops.yaml'),
    'probe-ops configuration of the bench platform (bench/diagnose.ts); connection settings come from the environment: PG*, REDIS_URL, DOCKER_HOST.',
    {
      host: 'bench',
      runtime: 'docker',
      alertmanager: { url: platform.alertmanagerUrl },
      services: {
        management: { container: 'management', url: platform.healthUrl },
        web: { container: 'web', url: platform.webUrl },
        postgres: { container: 'postgres' },
        redis: { container: 'redis' },
      },
      log: { file: path.join(platform.dir, 'maintenance.log') },
      lock: { dir: path.join(platform.dir, 'lock') },
    },
  )
  // Both contenders get the same environment; the script also reads its URLs and Redis port (see its header).
  const env = cleanEnv({ ...platform.env, MANAGEMENT_URL: platform.managementUrl, WEB_URL: platform.webUrl!, REDIS_PORT: String(platform.redis.port) })
  const c: Context = { bench, platform, env, cfg: ['--config', configPath], reportsDir }
  const serverVersion = (await dockerCli(platform.docker, ['version', '--format', '{{.Server.Version}}'])).stdout.trim()
  bench.out.push(
    `- Platform (bench/lib/platform.ts, built from the test bed's helpers): a private dockerd ${serverVersion} with containers \`postgres\` (PostgreSQL 15), \`redis\`, \`management\` and \`web\` (the last two print a few ERROR lines, then sleep); the management API health and web UI served on free 127.0.0.1 ports by the bench; AlertManager (prometheus-alertmanager). probe-ops reads it from a YAML config plus PG*/REDIS_URL/DOCKER_HOST; the script from the same variables (see the header of bench/guide/diagnose.sh for its five marked changes).`,
    `- Method: one warm-up run of each command, then ${args.runs} rounds (hung: ${args.hangRuns}, cold start: ${args.coldRuns}) running the commands of a table in turn (A, B, C, A, B, C, …${bench.baseline ? '; section 1, with a baseline: every other round in reverse' : ''}); wall time from spawn to exit measured by the bench (GNU time's own start, about a millisecond, is in every figure alike). Every run is verified and a failed verification aborts the benchmark: diagnose exits as expected with every step ok/warning (and the expected failed step when a dependency hangs), 4 services running, both HTTP checks 200, the management errors found; the script prints 200/200, \`accepting connections\` + OK, PONG, the figures. Each probe-ops diagnose run also writes \`--report-file\` (read back for the verification and the per-step times). CPU and peak RSS count the contender's own process tree only: what dockerd and the containers do for it (the script's \`docker exec … psql\`, \`docker logs\`; probe-ops' Docker API calls) is in neither figure.`,
    '',
  )
  const verdicts = [
    ...(await healthySection(c, args)),
    ...(await hungSection(c, args)),
    ...(await coldStartSection(c, args)),
    ...(await sandboxSection(c, args)),
  ]
  bench.out.push('### Verdicts', '', ...verdicts, '')
}

export const definition: BenchDefinition<Args> = {
  name: 'diagnose',
  title: 'Issues 2 and 13 §7: diagnose (wall, CPU, peak RSS) and cold start',
  summary:
    "issue 2 and 13 §7: `probe-ops diagnose` against the guide's diagnose.sh on the same Docker platform (wall, CPU, peak RSS), with a hung dependency, cold start, against `sandbox up`",
  root: 'the platform runs under a private dockerd',
  cli: true,
  baseline: true,
  rusage: true,
  options: {
    runs: { type: 'string', value: 'N', default: '10', help: 'timed runs of each diagnose contender (one warm-up each on top)' },
    'hang-runs': { type: 'string', value: 'N', help: 'timed runs with a hung dependency (default: --runs)' },
    'cold-runs': { type: 'string', value: 'N', help: 'timed runs of each cold-start command (default: 2 × --runs)' },
    'no-sandbox': { type: 'boolean', help: 'do not measure against `probe-ops sandbox up`' },
  },
  parse(values) {
    const runs = integer(values, 'runs')
    return {
      runs,
      hangRuns: integer(values, 'hang-runs', { fallback: runs }),
      coldRuns: integer(values, 'cold-runs', { fallback: runs * 2 }),
      sandbox: !flag(values, 'no-sandbox'),
    }
  },
  run,
}

runIfMain(import.meta, definition)
