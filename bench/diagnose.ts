/**
 * Benchmark of issue 2: `probe-ops diagnose` and cold start.
 *
 *   node --import tsx bench/diagnose.ts [--runs N] [--hang-runs N] [--cold-runs N] [--no-sandbox] [--build] [--raw FILE]
 *
 * Run as root (the platform runs under a private dockerd). Builds a platform under Docker with
 * the integration test bed's helpers (bench/lib/platform.ts), then measures, interleaved and
 * after one warm-up run of each contender:
 *   1. the guide's diagnose.sh (bench/guide/diagnose.sh) against `probe-ops diagnose`, with and
 *      without the alerts step the script does not have, on that same platform;
 *   2. `probe-ops diagnose --check-timeout 2` with PostgreSQL, then Redis, replaced by a listener
 *      that accepts connections and never answers;
 *   3. cold start: `node -e 0` (the floor), `probe-ops --version`, `config show`, `diagnose --help`;
 *   4. `probe-ops diagnose` against `probe-ops sandbox up`'s demo platform, when that exists.
 * Every run is verified (exit code, every step's status, the script's OK/PONG/200 lines): a run
 * that did not do its job fails the benchmark instead of being timed. Prints a markdown section
 * on stdout, progress on stderr; writes nothing into the repository. Tears everything down at
 * the end, on failure and on SIGINT/SIGTERM too, and checks that nothing it started is left.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import type { Report, StepResult } from '../src/report/model.js'
import { dockerCli } from '../test/bed/docker.js'
import { startHangingServer } from '../test/bed/hang.js'
import { pidsWithCmdline } from '../test/bed/process.js'
import { code, table } from './lib/markdown.js'
import { MANAGEMENT_LOG, MANAGEMENT_STDERR, startPlatform, type BenchPlatform } from './lib/platform.js'
import { cleanEnv, stopAllRuns, tail, timed, type TimedResult } from './lib/proc.js'
import { median, ms, ratio, seconds, summarize, type Summary } from './lib/stats.js'
import { snapshotCli } from './lib/snapshot.js'
import { Teardown } from './lib/teardown.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** bin/run.js of the private copy of the CLI (bench/lib/snapshot.ts), set by main(). */
let BIN = ''
const SCRIPT = path.join(ROOT, 'bench/guide/diagnose.sh')

/** Issue 2's targets. */
const TARGET_DIAGNOSE_MS = 1500
const HANG_CHECK_TIMEOUT_S = 2
const TARGET_HANG_MS = (HANG_CHECK_TIMEOUT_S + 1) * 1000
const TARGET_VERSION_MS = 300
const STEP_IDS = ['host', 'services', 'http', 'postgres', 'redis', 'logs', 'alerts']

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`)
}

interface Args {
  runs: number
  hangRuns: number
  coldRuns: number
  sandbox: boolean
  build: boolean
  raw?: string
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '10' },
      'hang-runs': { type: 'string' },
      'cold-runs': { type: 'string' },
      'no-sandbox': { type: 'boolean', default: false },
      build: { type: 'boolean', default: false },
      raw: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(
      'usage: node --import tsx bench/diagnose.ts [--runs N] [--hang-runs N] [--cold-runs N] [--no-sandbox] [--build] [--raw FILE]\n' +
        '  --runs N       timed runs of each diagnose contender (default 10; one warm-up each on top)\n' +
        '  --hang-runs N  timed runs with a hung dependency (default: --runs)\n' +
        '  --cold-runs N  timed runs of each cold-start command (default: 2 x --runs)\n' +
        '  --no-sandbox   do not measure against `probe-ops sandbox up`\n' +
        '  --build        build src/ as it is now into the private copy (default: copy dist/ as `npm run build` left it)\n' +
        '  --raw FILE     also write every timing as JSON to FILE\n',
    )
    process.exit(0)
  }
  const count = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not "${value}"`)
    return n
  }
  const runs = count('runs', values.runs, 10)
  return {
    runs,
    hangRuns: count('hang-runs', values['hang-runs'], runs),
    coldRuns: count('cold-runs', values['cold-runs'], runs * 2),
    sandbox: !values['no-sandbox'],
    build: values.build ?? false,
    raw: values.raw,
  }
}

// ---------------------------------------------------------------------------------------------
// Contenders and their verification

class RunFailed extends Error {}

function fail(what: string, why: string, r: TimedResult): never {
  throw new RunFailed(
    `${what}: ${why} (exit ${r.exitCode}${r.signal ? `, ${r.signal}` : ''}${r.timedOut ? ', timed out' : ''}, ${ms(r.ms)})\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`,
  )
}

interface Variant {
  key: string
  /** The command as the table shows it. */
  label: string
  /** One verified run; resolves to its wall time. */
  run(): Promise<number>
}

/** Step durations (from the reports) and in-process job durations, per variant. */
const stepTimes = new Map<string, Map<string, number[]>>()
const jobTimes = new Map<string, number[]>()

function recordReport(key: string, report: Report): void {
  const perStep = stepTimes.get(key) ?? new Map<string, number[]>()
  stepTimes.set(key, perStep)
  for (const s of report.steps) {
    if (s.status === 'skipped') continue
    perStep.set(s.id, [...(perStep.get(s.id) ?? []), s.durationMs])
  }
  jobTimes.set(key, [...(jobTimes.get(key) ?? []), report.durationMs])
}

let reportSeq = 0

interface DiagnoseExpectation {
  exitCode: 0 | 1
  skipped?: string[]
  /** Steps that must fail (the hung dependency's); every other must be ok or warning. */
  failed?: string[]
  /** Extra checks on the report. */
  check?: (report: Report) => string | undefined
}

function diagnoseVariant(p: {
  key: string
  label: string
  args: string[]
  env: Record<string, string>
  cwd: string
  reportsDir: string
  expect: DiagnoseExpectation
  record?: boolean
}): Variant {
  return {
    key: p.key,
    label: p.label,
    async run() {
      const reportFile = path.join(p.reportsDir, `${p.key}-${++reportSeq}.json`)
      const r = await timed(process.execPath, [BIN, ...p.args, '--report-file', reportFile], { env: p.env, cwd: p.cwd, timeoutMs: 60_000 })
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
      if (p.record !== false) recordReport(p.key, report)
      return r.ms
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
  const logs = step('logs')?.data?.services as Array<{ service: string; errors?: number }> | undefined
  const management = logs?.find((s) => s.service === 'management')
  const expectedErrors = [...MANAGEMENT_LOG, ...MANAGEMENT_STDERR].filter((l) => /^ERROR /.test(l)).length
  if (management?.errors !== expectedErrors) return `logs: management has ${management?.errors} errors, expected ${expectedErrors}`
  return undefined
}

function scriptVariant(platform: BenchPlatform): Variant {
  const label = 'guide: bash bench/guide/diagnose.sh'
  return {
    key: 'script',
    label,
    async run() {
      const r = await timed('/bin/bash', [SCRIPT], { env: cleanEnv(platform.env), cwd: platform.cwd, timeoutMs: 60_000 })
      const out = r.stdout
      if (r.exitCode !== 0) fail(label, `exit ${r.exitCode}`, r)
      const expectations: Array<[RegExp, string]> = [
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
      for (const [re, what] of expectations) if (!re.test(out)) fail(label, `output lacks ${what}`, r)
      if (r.stderr.trim() !== '') fail(label, 'wrote to stderr', r)
      return r.ms
    },
  }
}

function plainVariant(p: { key: string; label: string; command: string; args: string[]; env: Record<string, string>; cwd: string; stdout: RegExp }): Variant {
  return {
    key: p.key,
    label: p.label,
    async run() {
      const r = await timed(p.command, p.args, { env: p.env, cwd: p.cwd, timeoutMs: 30_000 })
      if (r.exitCode !== 0) fail(p.label, `exit ${r.exitCode}`, r)
      if (!p.stdout.test(r.stdout)) fail(p.label, `stdout does not match ${p.stdout}`, r)
      return r.ms
    },
  }
}

interface Measured {
  times: Map<string, number[]>
  /** Per variant key: step id -> durations from the reports (diagnose variants only). */
  steps: Map<string, Map<string, number[]>>
  /** Per variant key: the reports' job durationMs. */
  jobs: Map<string, number[]>
}

/** One warm-up run of each, then `runs` rounds of A, B, C, … ; every run verified. */
async function interleave(name: string, variants: Variant[], runs: number): Promise<Measured> {
  const times = new Map<string, number[]>(variants.map((v) => [v.key, []]))
  log(`${name}: warm-up`)
  for (const v of variants) await v.run()
  stepTimes.clear()
  jobTimes.clear()
  for (let i = 1; i <= runs; i++) {
    const line: string[] = []
    for (const v of variants) {
      const t = await v.run()
      times.get(v.key)!.push(t)
      line.push(`${v.key} ${ms(t)}`)
    }
    log(`${name}: round ${i}/${runs}: ${line.join(', ')}`)
  }
  return { times, steps: new Map(stepTimes), jobs: new Map(jobTimes) }
}

// ---------------------------------------------------------------------------------------------
// Machine and build facts

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return '?'
  }
}

function machine(): string[] {
  const cpus = os.cpus()
  const debian = existsSync('/etc/debian_version') ? ` (Debian ${readFileSync('/etc/debian_version', 'utf8').trim()})` : ''
  return [
    `nproc ${os.availableParallelism()}, ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `Linux ${os.release()}${debian}, Node ${process.version}`,
  ]
}

function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
}

/** Processes whose pid we started, or whose command line names a dir we made, that still run. */
function leftovers(pids: number[], needles: string[]): string[] {
  const found = new Set<string>()
  for (const pid of pids) {
    try {
      process.kill(pid, 0)
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'))
        found.add(`pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`)
    } catch {
      /* gone */
    }
  }
  for (const needle of needles) {
    for (const pid of pidsWithCmdline(needle)) {
      try {
        found.add(`pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`)
      } catch {
        /* gone */
      }
    }
  }
  return [...found]
}

/** SIGTERM, then after 5 s SIGKILL, every process whose command line contains `needle`. */
async function killByCmdline(needle: string): Promise<number[]> {
  const pids = pidsWithCmdline(needle)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 50 && pidsWithCmdline(needle).length > 0; i++) await sleep(100)
  for (const pid of pidsWithCmdline(needle)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
  return pids
}

// ---------------------------------------------------------------------------------------------
// Rendering

function row(label: string, s: Summary, extra: string[] = []): string[] {
  return [label, String(s.runs), ms(s.median), ms(s.p90), ms(s.min), ms(s.max), ...extra]
}

const HEAD = ['command', 'runs', 'median', 'p90', 'min', 'max']
const ALIGN = ['l', 'r', 'r', 'r', 'r', 'r', 'r'] as const

/** Rounds in which `key` was faster than the script (same index = same round). */
function wins(m: Measured, key: string): number {
  const script = m.times.get('script')!
  return m.times.get(key)!.filter((t, i) => t < script[i]!).length
}

/** Runs of `key` slower than `limitMs`. */
function over(m: Measured, key: string, limitMs: number): number {
  return m.times.get(key)!.filter((t) => t > limitMs).length
}

function met(ok: boolean): string {
  return ok ? '**met**' : '**NOT MET**'
}

function stepTable(m: Measured, keys: Array<[string, string]>): string {
  const rows = STEP_IDS.map((id) => [
    id,
    ...keys.map(([key]) => {
      const t = m.steps.get(key)?.get(id)
      return t && t.length > 0 ? ms(median(t)) : '–'
    }),
  ])
  rows.push(['(whole job, in-process)', ...keys.map(([key]) => (m.jobs.get(key)?.length ? ms(median(m.jobs.get(key)!)) : '–'))])
  return table(['step (report `durationMs`, median)', ...keys.map(([, label]) => label)], rows, ['l', ...keys.map(() => 'r' as const)])
}

// ---------------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (process.getuid?.() !== 0) throw new Error('run this as root: the platform runs under a private dockerd')
  const commandLine = `node --import tsx bench/diagnose.ts ${argv.join(' ')}`.trim()

  const teardown = new Teardown(log)
  const pids: number[] = []
  const needles: string[] = []
  const reportLeftovers = (): string[] => {
    const left = leftovers(pids, needles)
    for (const l of left) log(`LEFT RUNNING: ${l}`)
    if (left.length === 0) log('teardown: nothing left running')
    return left
  }
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    log(`${signal}: stopping the runs and tearing everything down`)
    stopAllRuns(`interrupted by ${signal}`)
    void teardown.run().then((problems) => {
      for (const p of problems) log(`teardown problem: ${p}`)
      reportLeftovers()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const started = new Date()
  const loadStart = loadavg()
  const out: string[] = []
  const raw: Record<string, unknown> = { command: commandLine, date: started.toISOString() }
  const verdicts: string[] = []
  let sandboxNote: string[] = []

  try {
    const cli = await snapshotCli(ROOT, { build: args.build, log })
    teardown.add(`remove ${cli.root}`, () => cli.remove())
    BIN = cli.bin
    const stale = cli.stale
    if (stale.length > 0)
      log(
        `WARNING: the build under test is older than ${stale.length} file(s) of src/ (${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}; edited after it was built): the numbers are of that build${args.build ? '' : ' (pass --build to build src/ as it is now)'}`,
      )
    const platform = await startPlatform(teardown, log)
    pids.push(...platform.pids)
    needles.push(...platform.needles)
    const serverVersion = (await dockerCli(platform.docker, ['version', '--format', '{{.Server.Version}}'])).stdout.trim()
    const env = cleanEnv(platform.env)
    const reportsDir = path.join(platform.dir, 'reports')
    const cfg = ['--config', platform.configPath]
    const versionText = (await timed(process.execPath, [BIN, '--version'], { env, cwd: platform.cwd })).stdout.trim()

    // 1. healthy platform: the guide's script against probe-ops diagnose
    const f1 = await interleave(
      'healthy',
      [
        scriptVariant(platform),
        diagnoseVariant({
          key: 'diagnose',
          label: 'probe-ops diagnose',
          args: ['diagnose', ...cfg],
          env,
          cwd: platform.cwd,
          reportsDir,
          expect: { exitCode: 0, check: healthyCheck },
        }),
        diagnoseVariant({
          key: 'diagnose-noalerts',
          label: 'probe-ops diagnose --skip alerts',
          args: ['diagnose', ...cfg, '--skip', 'alerts'],
          env,
          cwd: platform.cwd,
          reportsDir,
          expect: { exitCode: 0, skipped: ['alerts'], check: healthyCheck },
        }),
      ],
      args.runs,
    )
    const s1 = {
      script: summarize(f1.times.get('script')!),
      diagnose: summarize(f1.times.get('diagnose')!),
      noAlerts: summarize(f1.times.get('diagnose-noalerts')!),
    }
    raw.healthy = { times: Object.fromEntries(f1.times), jobMs: Object.fromEntries(f1.jobs) }

    // 2. one dependency hung
    const hungPg = await startHangingServer()
    teardown.add('hanging listener (postgres)', () => hungPg.close())
    const hungRedis = await startHangingServer()
    teardown.add('hanging listener (redis)', () => hungRedis.close())
    const hangArgs = ['diagnose', ...cfg, '--check-timeout', String(HANG_CHECK_TIMEOUT_S)]
    const f2 = await interleave(
      'hung',
      [
        diagnoseVariant({
          key: 'hung-postgres',
          label: `probe-ops diagnose --check-timeout ${HANG_CHECK_TIMEOUT_S}, PGPORT → hanging listener`,
          args: hangArgs,
          env: { ...env, PGPORT: String(hungPg.port) },
          cwd: platform.cwd,
          reportsDir,
          expect: { exitCode: 1, failed: ['postgres'] },
        }),
        diagnoseVariant({
          key: 'hung-redis',
          label: `probe-ops diagnose --check-timeout ${HANG_CHECK_TIMEOUT_S}, REDIS_URL → hanging listener`,
          args: hangArgs,
          env: { ...env, REDIS_URL: `redis://127.0.0.1:${hungRedis.port}` },
          cwd: platform.cwd,
          reportsDir,
          expect: { exitCode: 1, failed: ['redis'] },
        }),
      ],
      args.hangRuns,
    )
    if (hungPg.accepted === 0 || hungRedis.accepted === 0)
      throw new Error(`the hanging listeners saw no connection (postgres ${hungPg.accepted}, redis ${hungRedis.accepted}): the hung runs did not test a hang`)
    const s2 = { pg: summarize(f2.times.get('hung-postgres')!), redis: summarize(f2.times.get('hung-redis')!) }
    raw.hung = { times: Object.fromEntries(f2.times), jobMs: Object.fromEntries(f2.jobs) }

    // 3. cold start
    const f3 = await interleave(
      'cold start',
      [
        plainVariant({ key: 'node', label: 'node -e 0 (baseline)', command: process.execPath, args: ['-e', '0'], env, cwd: platform.cwd, stdout: /^$/ }),
        plainVariant({
          key: 'version',
          label: 'probe-ops --version',
          command: process.execPath,
          args: [BIN, '--version'],
          env,
          cwd: platform.cwd,
          stdout: /^probe-ops\/\d+\.\d+\.\d+ /,
        }),
        plainVariant({
          key: 'config-show',
          label: 'probe-ops config show',
          command: process.execPath,
          args: [BIN, 'config', 'show', ...cfg],
          env,
          cwd: platform.cwd,
          stdout: /postgres/,
        }),
        plainVariant({
          key: 'diagnose-help',
          label: 'probe-ops diagnose --help',
          command: process.execPath,
          args: [BIN, 'diagnose', '--help'],
          env,
          cwd: platform.cwd,
          stdout: /USAGE[\s\S]*check-timeout/,
        }),
      ],
      args.coldRuns,
    )
    const s3 = Object.fromEntries([...f3.times].map(([k, v]) => [k, summarize(v)])) as Record<'node' | 'version' | 'config-show' | 'diagnose-help', Summary>
    raw.coldStart = Object.fromEntries(f3.times)

    // 4. the sandbox's demo platform
    let s4: { diagnose: Summary; upMs: number; measured: Measured } | undefined
    const help = await timed(process.execPath, [BIN, 'sandbox', '--help'], { env, cwd: platform.cwd, timeoutMs: 30_000 })
    const sandboxAvailable = help.exitCode === 0 && /sandbox up/.test(help.stdout) && /sandbox down/.test(help.stdout)
    if (!args.sandbox) {
      sandboxNote = ['Not measured in this run (`--no-sandbox`).']
    } else if (!sandboxAvailable) {
      sandboxNote = [
        '`probe-ops sandbox up` is not available in this build (`probe-ops sandbox --help` does not list it); not measured.',
        '',
        'TODO: measure `probe-ops diagnose --config DIR/probe-ops.yaml` against `probe-ops sandbox up --dir DIR` once it exists.',
      ]
    } else {
      // Its own parent, searchable by the postgres OS user (sandbox up checks that).
      const sandboxParent = await mkdtemp(path.join(os.tmpdir(), 'po-bench-sandbox-'))
      await chmod(sandboxParent, 0o711)
      teardown.add(`remove ${sandboxParent}`, () => rm(sandboxParent, { recursive: true, force: true }))
      const sandboxDir = path.join(sandboxParent, 'sandbox')
      needles.push(`${sandboxDir}/`)
      log(`sandbox up --dir ${sandboxDir}`)
      teardown.add('sandbox down', async () => {
        const down = await timed(process.execPath, [BIN, 'sandbox', 'down', '--dir', sandboxDir], {
          env,
          cwd: platform.cwd,
          timeoutMs: 120_000,
          evenIfStopped: true,
        })
        // Whatever `sandbox down` missed (or all of it, had it failed): the processes whose
        // command line names the sandbox's own temp dir, which only our `sandbox up` started.
        const killed = await killByCmdline(`${sandboxDir}/`)
        if (down.exitCode !== 0)
          throw new Error(`sandbox down exited ${down.exitCode}: ${tail(down.stderr, 10)}${killed.length ? `; killed ${killed.join(', ')}` : ''}`)
        if (killed.length > 0) throw new Error(`sandbox down left pids ${killed.join(', ')} running; killed them`)
      })
      const up = await timed(process.execPath, [BIN, 'sandbox', 'up', '--dir', sandboxDir], { env, cwd: platform.cwd, timeoutMs: 300_000 })
      if (up.exitCode !== 0) fail('probe-ops sandbox up', `exit ${up.exitCode}`, up)
      const sandboxConfig = path.join(sandboxDir, 'probe-ops.yaml')
      const f4 = await interleave(
        'sandbox',
        [
          diagnoseVariant({
            key: 'sandbox',
            label: 'probe-ops diagnose --config DIR/probe-ops.yaml',
            args: ['diagnose', '--config', sandboxConfig],
            env,
            cwd: platform.cwd,
            reportsDir,
            expect: { exitCode: 0 },
          }),
        ],
        args.runs,
      )
      s4 = { diagnose: summarize(f4.times.get('sandbox')!), upMs: up.ms, measured: f4 }
      raw.sandbox = { up: up.ms, diagnose: f4.times.get('sandbox'), jobMs: f4.jobs.get('sandbox') }
    }

    // ------------------------------------------------------------------ the markdown section
    const loadEnd = loadavg()
    const gitHead = sh('git', ['rev-parse', '--short', 'HEAD'])
    const dirty = sh('git', ['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length
    out.push(
      '## Issue 2: diagnose and cold start',
      '',
      `- Command: ${code(commandLine)} (as root, from the repository root${args.build ? '' : ', after \`npm run build\`'})`,
      `- Date: ${started.toISOString()}`,
      `- Machine: ${machine().join('; ')}; load average ${loadStart} at the start, ${loadEnd} at the end (shared, noisy machine: compare medians and ratios measured in the same run)`,
      `- probe-ops: ${versionText}, run as \`node bin/run.js\` from ${cli.origin} (source: commit ${gitHead}${dirty > 0 ? ` plus ${dirty} uncommitted change(s) under src/` : ''}${stale.length > 0 ? `; **the build under test was older than ${stale.length} file(s) of src/, edited after it was built**` : ''})`,
      `- Platform (bench/lib/platform.ts, built from the test bed's helpers): a private dockerd ${serverVersion} with containers \`postgres\` (PostgreSQL 15), \`redis\`, \`management\` and \`web\` (the last two print a few ERROR lines, then sleep); the management API health and web UI served on free 127.0.0.1 ports by the bench; AlertManager (prometheus-alertmanager). probe-ops reads it from a YAML config plus PG*/REDIS_URL/DOCKER_HOST; the script from the same variables (see the header of bench/guide/diagnose.sh for its five marked changes).`,
      `- Method: one warm-up run of each command, then ${args.runs} rounds (hung: ${args.hangRuns}, cold start: ${args.coldRuns}) running the commands of a table in turn (A, B, C, A, B, C, …); wall time from spawn to exit measured by the bench. Every run is verified and a failed verification aborts the benchmark: diagnose exits as expected with every step ok/warning (and the expected failed step when a dependency hangs), 4 services running, both HTTP checks 200, the management errors found; the script prints 200/200, \`accepting connections\` + OK, PONG, the figures. Each probe-ops diagnose run also writes \`--report-file\` (read back for the verification and the per-step times).`,
      '',
      '### 1. diagnose against a healthy platform',
      '',
      table(
        HEAD,
        [
          row('guide: `bash bench/guide/diagnose.sh`', s1.script),
          row('`probe-ops diagnose`', s1.diagnose),
          row("`probe-ops diagnose --skip alerts` (the script's checks)", s1.noAlerts),
        ],
        ALIGN,
      ),
      '',
      `Ratio of medians, script / probe-ops: ${ratio(s1.script.median, s1.diagnose.median)} (all steps), ${ratio(s1.script.median, s1.noAlerts.median)} (\`--skip alerts\`, like for like). Round by round, \`probe-ops diagnose\` beat the script in ${wins(f1, 'diagnose')} of ${args.runs} rounds, \`--skip alerts\` in ${wins(f1, 'diagnose-noalerts')}.`,
      '',
      "Where probe-ops spends its time (median of each step's `durationMs` from the reports of the timed runs; steps run concurrently, so they overlap):",
      '',
    )
    out.push(
      stepTable(f1, [
        ['diagnose', '`diagnose`'],
        ['diagnose-noalerts', '`--skip alerts`'],
      ]),
      '',
      `Start-up and exit outside the job (wall median − in-process job median): ${ms(s1.diagnose.median - median(f1.jobs.get('diagnose')!))} for \`diagnose\`.`,
      '',
      `### 2. diagnose with one dependency hung (\`--check-timeout ${HANG_CHECK_TIMEOUT_S}\`, target ≤ ${seconds(TARGET_HANG_MS)})`,
      '',
      'The dependency is replaced by a listener that accepts TCP connections and never answers (test/bed/hang.ts).',
      '',
      table(
        HEAD,
        [
          row(`\`probe-ops diagnose --check-timeout ${HANG_CHECK_TIMEOUT_S}\`, PGPORT → hanging listener`, s2.pg),
          row(`\`probe-ops diagnose --check-timeout ${HANG_CHECK_TIMEOUT_S}\`, REDIS_URL → hanging listener`, s2.redis),
        ],
        ALIGN,
      ),
      '',
    )
    out.push(
      stepTable(f2, [
        ['hung-postgres', 'postgres hung'],
        ['hung-redis', 'redis hung'],
      ]),
      '',
      '### 3. Cold start',
      '',
      table(
        [...HEAD, 'median − node'],
        [
          row('`node -e 0` (baseline)', s3.node, ['–']),
          row('`probe-ops --version`', s3.version, [ms(s3.version.median - s3.node.median)]),
          row('`probe-ops config show`', s3['config-show'], [ms(s3['config-show'].median - s3.node.median)]),
          row('`probe-ops diagnose --help`', s3['diagnose-help'], [ms(s3['diagnose-help'].median - s3.node.median)]),
        ],
        ALIGN,
      ),
      '',
      '### 4. diagnose against `probe-ops sandbox up`',
      '',
    )
    if (s4) {
      out.push(
        `\`probe-ops sandbox up --dir DIR\` (DIR a fresh temp dir) took ${seconds(s4.upMs)}; then, against its demo platform (services under \`runtime: process\`, not Docker):`,
        '',
        table(HEAD, [row('`probe-ops diagnose --config DIR/probe-ops.yaml`', s4.diagnose)], ALIGN),
        '',
        stepTable(s4.measured, [['sandbox', '`diagnose` (sandbox)']]),
        '',
        '`probe-ops sandbox down --dir DIR` removed it at the end.',
        '',
      )
    } else {
      out.push(...sandboxNote, '')
    }

    const f1Met = s1.diagnose.median <= TARGET_DIAGNOSE_MS && s1.diagnose.median < s1.script.median && s1.noAlerts.median < s1.script.median
    verdicts.push(
      `- Target 1 (diagnose median ≤ ${seconds(TARGET_DIAGNOSE_MS)} and faster than diagnose.sh on the same platform): ${met(f1Met)}: median ${ms(s1.diagnose.median)} (${ms(s1.noAlerts.median)} with \`--skip alerts\`) against the script's ${ms(s1.script.median)}, ${ratio(s1.script.median, s1.diagnose.median)} faster (${ratio(s1.script.median, s1.noAlerts.median)} like for like).`,
      `- Target 2 (hung dependency: done within check timeout + 1 s = ${seconds(TARGET_HANG_MS)}; judged on the median): ${met(s2.pg.median <= TARGET_HANG_MS && s2.redis.median <= TARGET_HANG_MS)}: PostgreSQL hung, median ${ms(s2.pg.median)} (p90 ${ms(s2.pg.p90)}, max ${ms(s2.pg.max)}, ${over(f2, 'hung-postgres', TARGET_HANG_MS)} of ${args.hangRuns} runs over); Redis hung, median ${ms(s2.redis.median)} (p90 ${ms(s2.redis.p90)}, max ${ms(s2.redis.max)}, ${over(f2, 'hung-redis', TARGET_HANG_MS)} of ${args.hangRuns} runs over).`,
      `- Target 3 (\`probe-ops --version\` median ≤ ${ms(TARGET_VERSION_MS)}): ${met(s3.version.median <= TARGET_VERSION_MS)}: ${ms(s3.version.median)}, ${ms(s3.version.median - s3.node.median)} above \`node -e 0\` (${ms(s3.node.median)}); \`config show\` ${ms(s3['config-show'].median)}, \`diagnose --help\` ${ms(s3['diagnose-help'].median)} (no target).`,
    )
    if (s4)
      verdicts.push(
        `- Sandbox (no target of its own): diagnose median ${ms(s4.diagnose.median)}, ${met(s4.diagnose.median <= TARGET_DIAGNOSE_MS)} against the ${seconds(TARGET_DIAGNOSE_MS)} of target 1.`,
      )
    else if (args.sandbox) verdicts.push('- Sandbox: not measured (not available).')
    out.push('### Verdicts', '', ...verdicts, '')
    raw.summary = { healthy: s1, hung: s2, coldStart: s3, sandbox: s4 ? { upMs: s4.upMs, diagnose: s4.diagnose } : null }
  } finally {
    const problems = await teardown.run()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    for (const p of problems) log(`teardown problem: ${p}`)
    const left = reportLeftovers()
    if (out.length > 0) {
      out.push(
        `Teardown: ${problems.length === 0 && left.length === 0 ? 'everything stopped and removed, nothing left running (checked in /proc).' : `PROBLEMS: ${[...problems, ...left].join('; ')}`}`,
        '',
      )
    }
  }
  const markdown = out.join('\n')
  process.stdout.write(`${markdown}\n`)
  if (args.raw) writeFileSync(args.raw, `${JSON.stringify(raw, null, 2)}\n`)
  return 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err))
      process.exit(1)
    },
  )
}
