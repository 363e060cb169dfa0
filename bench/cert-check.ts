/**
 * Benchmark of issue 6: `probe-ops cert check` over many endpoints, a hung endpoint, and
 * `probe-ops security-check` on a test-bed-like host.
 *
 *   node --import tsx bench/cert-check.ts [--runs N] [--endpoints N] [--build] [--out FILE]
 *
 * Run as root (the security-check part starts a private dockerd through the test bed's helpers).
 * Measures, after one warm-up of each:
 *   1. `cert check` of N loopback TLS endpoints (node:tls, generated chain; endpoint i holds each
 *      connection i x 10 ms before its handshake, so they differ) in one run, against the slowest
 *      endpoint alone, against the fastest alone (the CLI's floor), and against the sum of the
 *      single runs (what checking them one after another, as the guide's openssl lines would,
 *      costs);
 *   2. `cert check --check-timeout 2` of a listener that accepts and never answers, alone and
 *      together with the N endpoints;
 *   3. `security-check` (every step) against PostgreSQL 15, Redis with a password, a private
 *      Docker engine with two containers, a certificate file, a TLS endpoint, a 20 000-line auth
 *      log and configuration directories, all on this machine.
 * Every run is verified (exit code, statuses, findings): a run that did not do its job fails the
 * benchmark. Prints a markdown section on stdout, progress on stderr, and writes the section to
 * --out (default docs/.bench-issue6.md). Tears everything down at the end, on failure and on
 * SIGINT/SIGTERM too.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { Finding } from '../src/report/findings.js'
import type { Report } from '../src/report/model.js'
import { runSleeperContainer, startDockerEngine } from '../test/bed/docker.js'
import { startHangingServer } from '../test/bed/hang.js'
import { startPostgres } from '../test/bed/postgres.js'
import { startRedis } from '../test/bed/redis.js'
import { pki, startTlsServer, writeFile, type TlsServer } from '../test/helpers/certificates.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv, runningChildren, tail, timed, type TimedResult } from './lib/proc.js'
import { median, ms, ratio, summarize } from './lib/stats.js'
import { snapshotCli } from './lib/snapshot.js'
import { Teardown } from './lib/teardown.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
let BIN = ''
const HANG_TIMEOUT_S = 2
const SECURITY_STEPS = [
  'failed-logins',
  'open-ports',
  'certificates',
  'file-permissions',
  'security-updates',
  'user-accounts',
  'services',
  'vulnerability-scan',
]

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`)
}

interface Args {
  runs: number
  endpoints: number
  build: boolean
  out: string
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      endpoints: { type: 'string', default: '50' },
      build: { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(ROOT, 'docs/.bench-issue6.md') },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(
      'usage: node --import tsx bench/cert-check.ts [--runs N] [--endpoints N] [--build] [--out FILE]\n' +
        '  --runs N       timed runs of each measurement (default 5; one warm-up each on top)\n' +
        '  --endpoints N  loopback TLS endpoints (default 50)\n' +
        '  --build        build src/ as it is now into the private copy (default: copy dist/)\n' +
        '  --out FILE     where the markdown section goes (default docs/.bench-issue6.md)\n',
    )
    process.exit(0)
  }
  const count = (name: string, value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not "${value}"`)
    return n
  }
  return { runs: count('runs', values.runs), endpoints: count('endpoints', values.endpoints), build: values.build ?? false, out: path.resolve(values.out) }
}

class RunFailed extends Error {}

function fail(what: string, why: string, r: TimedResult): never {
  throw new RunFailed(`${what}: ${why} (exit ${r.exitCode}, ${ms(r.ms)})\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`)
}

function findingsOf(report: Report, step: string): Finding[] {
  return (report.steps.find((s) => s.id === step)?.data?.findings ?? []) as Finding[]
}

/** One verified CLI run: the report (from --json) and its wall time. */
async function run(
  label: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  verify: (report: Report, r: TimedResult) => string | undefined,
): Promise<{ ms: number; report: Report }> {
  const r = await timed(process.execPath, [BIN, ...args, '--json'], { env: cleanEnv(env), cwd, timeoutMs: 120_000 })
  let report: Report
  try {
    report = JSON.parse(r.stdout) as Report
  } catch {
    fail(label, 'stdout is not a report', r)
  }
  const problem = verify(report, r)
  if (problem) fail(label, problem, r)
  return { ms: r.ms, report }
}

/** `runs` timed runs after one warm-up. */
async function repeat(label: string, runs: number, once: () => Promise<{ ms: number; report: Report }>): Promise<{ times: number[]; reports: Report[] }> {
  log(`${label}: warm-up + ${runs} runs`)
  await once()
  const times: number[] = []
  const reports: Report[] = []
  for (let i = 0; i < runs; i++) {
    const { ms: t, report } = await once()
    times.push(t)
    reports.push(report)
  }
  return { times, reports }
}

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (process.getuid?.() !== 0) throw new Error('run this as root: security-check is measured against a private dockerd')
  const commandLine = `node --import tsx bench/cert-check.ts ${argv.join(' ')}`.trim()
  const teardown = new Teardown(log)
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    log(`${signal}: tearing everything down`)
    for (const child of runningChildren) child.kill('SIGKILL')
    void teardown.run().then(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const out: string[] = []
  const started = new Date()
  const loadStart = os.loadavg()[0]!

  try {
    const cli = await snapshotCli(ROOT, { build: args.build, log })
    teardown.add(`remove ${cli.root}`, () => cli.remove())
    BIN = cli.bin
    if (cli.stale.length > 0) log(`WARNING: the build under test is older than ${cli.stale.length} file(s) of src/: pass --build to measure src/ as it is now`)
    const work = await mkdtemp(path.join(os.tmpdir(), 'po-bench-cert-'))
    teardown.add(`remove ${work}`, () => rm(work, { recursive: true, force: true }))
    const env: Record<string, string> = { PROBE_OPS_CONFIG: path.join(work, 'none.yaml') }
    writeFileSync(env.PROBE_OPS_CONFIG!, `log:\n  file: ""\nlock:\n  dir: ${work}/lock\n`)

    // 1. Endpoints.
    log(`starting ${args.endpoints} TLS endpoints on 127.0.0.1`)
    const { root, intermediate, leaf } = pki()
    const caFile = writeFile(work, 'ca.pem', root.pem)
    const cert = leaf({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'], notAfterDays: 200 })
    const servers: TlsServer[] = []
    for (let i = 0; i < args.endpoints; i++) servers.push(await startTlsServer(cert.keyPem, [cert, intermediate], { delayMs: i * 10 }))
    teardown.add('stop the TLS endpoints', async () => {
      for (const s of servers) await s.close()
    })
    const hang = await startHangingServer()
    teardown.add('stop the hanging listener', () => hang.close())
    const certArgs = (hosts: string[], extra: string[] = []) => ['cert', 'check', '--ca-file', caFile, ...hosts.flatMap((h) => ['--host', h]), ...extra]
    const allOk = (n: number) => (report: Report) => {
      const step = report.steps.find((s) => s.id === 'endpoints')
      const certificates = (step?.data?.certificates ?? []) as { status: string }[]
      if (step?.status !== 'ok' || certificates.length !== n || certificates.some((c) => c.status !== 'ok'))
        return `endpoints step ${step?.status}: ${step?.summary}`
      return undefined
    }
    const slowest = servers.at(-1)!
    const fastest = servers[0]!

    log('each endpoint alone, once')
    const singles: number[] = []
    const handshakes: number[] = []
    for (const s of servers) {
      const r = await run(`cert check --host ${s.address}`, certArgs([s.address]), env, work, allOk(1))
      singles.push(r.ms)
      handshakes.push((r.report.steps[1]!.data!.certificates as { tls: { handshakeMs: number } }[])[0]!.tls.handshakeMs)
    }
    const slowestAlone = await repeat('slowest endpoint alone', args.runs, () => run('slowest alone', certArgs([slowest.address]), env, work, allOk(1)))
    const fastestAlone = await repeat('fastest endpoint alone', args.runs, () => run('fastest alone', certArgs([fastest.address]), env, work, allOk(1)))
    const all = await repeat(`all ${args.endpoints} endpoints`, args.runs, () =>
      run('all endpoints', certArgs(servers.map((s) => s.address)), env, work, allOk(servers.length)),
    )
    const hungAlone = await repeat('hung endpoint alone', args.runs, () =>
      run('hung endpoint', certArgs([`127.0.0.1:${hang.port}`], ['--check-timeout', String(HANG_TIMEOUT_S)]), env, work, (report, r) =>
        r.exitCode !== 1 || findingsOf(report, 'endpoints')[0]?.id !== `tls-unreachable:127.0.0.1:${hang.port}`
          ? 'the hung endpoint is not a tls-unreachable finding'
          : undefined,
      ),
    )
    const hungWithAll = await repeat(`hung endpoint + ${args.endpoints}`, args.runs, () =>
      run(
        'hung + all',
        certArgs([...servers.map((s) => s.address), `127.0.0.1:${hang.port}`], ['--check-timeout', String(HANG_TIMEOUT_S)]),
        env,
        work,
        (report) => {
          const f = findingsOf(report, 'endpoints')
          return f.length !== 1 || f[0]!.id !== `tls-unreachable:127.0.0.1:${hang.port}` ? `findings ${f.map((x) => x.id).join(', ')}` : undefined
        },
      ),
    )

    // 2. security-check on a test-bed-like host.
    log('starting PostgreSQL 15, Redis (password), a private dockerd for security-check')
    const redisPassword = 'bench-redis-password'
    const [postgres, redis, docker] = await Promise.all([startPostgres(), startRedis({ password: redisPassword }), startDockerEngine()])
    teardown.add('stop PostgreSQL', () => postgres.stop())
    teardown.add('stop Redis', () => redis.stop())
    teardown.add('stop dockerd', () => docker.stop())
    await runSleeperContainer(docker.info, { name: 'management' })
    await runSleeperContainer(docker.info, { name: 'web' })
    const endpointCert = leaf({ commonName: 'localhost', sans: ['127.0.0.1'], notAfterDays: 200 })
    const endpoint = await startTlsServer(endpointCert.keyPem, [endpointCert, intermediate])
    teardown.add('stop the security-check TLS endpoint', () => endpoint.close())
    const etc = path.join(work, 'etc-network-probe')
    const opt = path.join(work, 'opt-network-probe')
    for (const d of [etc, opt]) mkdirSync(d, { recursive: true })
    for (let i = 0; i < 200; i++) writeFileSync(path.join(opt, `file-${i}.py`), 'x\n', { mode: 0o644 })
    writeFileSync(path.join(etc, 'settings.yaml'), 'a: 1\n', { mode: 0o640 })
    const authLines: string[] = []
    for (let i = 0; i < 20_000; i++) {
      const at = new Date(Date.now() - (20_000 - i) * 4_000).toISOString()
      authLines.push(
        i % 3 === 0
          ? `${at} probe-01 sshd[${i}]: Failed password for root from 198.51.100.${i % 250} port ${1024 + i} ssh2`
          : `${at} probe-01 CRON[${i}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`,
      )
    }
    const authLog = writeFile(work, 'auth.log', `${authLines.join('\n')}\n`)
    const certFile = writeFile(work, 'server.crt', cert.pem, intermediate.pem)
    const securityConfig = path.join(work, 'security.yaml')
    writeFileSync(
      securityConfig,
      [
        'log:',
        '  file: ""',
        'certificates:',
        `  files: [${certFile}]`,
        `  endpoints: ["${endpoint.address}"]`,
        `  caFile: ${caFile}`,
        'security:',
        `  authLog: ${authLog}`,
        `  permissionPaths: [${etc}, ${opt}]`,
        `  privatePaths: [${etc}]`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    )
    const securityEnv = {
      PGHOST: postgres.info.host,
      PGPORT: String(postgres.info.port),
      PGUSER: postgres.info.user,
      PGPASSWORD: postgres.info.password,
      PGDATABASE: postgres.info.database,
      REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redis.info.port}`,
      DOCKER_HOST: docker.info.host,
    }
    const security = await repeat('security-check', args.runs, () =>
      run('security-check', ['security-check', '--config', securityConfig], securityEnv, work, (report) => {
        const ids = report.steps.map((s) => s.id)
        if (ids.join() !== SECURITY_STEPS.join()) return `steps ${ids.join()}`
        const timedOut = report.steps.find((s) => /timed out|not started/.test(s.summary))
        if (timedOut) return `step ${timedOut.id}: ${timedOut.summary}`
        const services = report.steps.find((s) => s.id === 'services')!
        const checks = (services.data?.checks ?? []) as { check: string; checked: boolean }[]
        if (checks.some((c) => !c.checked)) return `services: ${JSON.stringify(checks)}`
        const certificates = report.steps.find((s) => s.id === 'certificates')!
        if (certificates.status !== 'ok') return `certificates: ${certificates.summary}`
        const logins = report.steps.find((s) => s.id === 'failed-logins')!
        if (!((logins.data?.total as number) > 0)) return `failed-logins: ${logins.summary}`
        return undefined
      }),
    )

    // Results.
    const s = (times: number[]) => summarize(times)
    const slowestMedian = median(slowestAlone.times)
    const allMedian = median(all.times)
    const sumSingles = singles.reduce((a, b) => a + b, 0)
    const stepMedians = SECURITY_STEPS.map((id) => [id, median(security.reports.map((r) => r.steps.find((x) => x.id === id)!.durationMs))] as const)
    const sec = s(security.times)
    out.push(
      `## Issue 6: \`cert check\` and \`security-check\``,
      '',
      `Command: ${code(commandLine)} (${started.toISOString()}). Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${os.type()} ${os.release()}. CLI: ${cli.origin}. Wall times of whole \`probe-ops\` processes (spawn to exit), ${args.runs} runs after a warm-up; medians. Load average (1 min) ${loadStart.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end: other work on the machine shows in the max and p90 columns.`,
      '',
      `### ${args.endpoints} loopback TLS endpoints`,
      '',
      `Endpoint *i* (0–${args.endpoints - 1}) holds each connection *i* × 10 ms before its handshake, so the slowest alone takes ${(args.endpoints - 1) * 10} ms longer than the fastest. One chain (leaf, intermediate) checked against a \`--ca-file\` root.`,
      '',
      table(
        ['run', 'median', 'p90', 'min', 'max'],
        [
          [`all ${args.endpoints} endpoints in one \`cert check\``, ms(allMedian), ms(s(all.times).p90), ms(s(all.times).min), ms(s(all.times).max)],
          ['the slowest endpoint alone', ms(slowestMedian), ms(s(slowestAlone.times).p90), ms(s(slowestAlone.times).min), ms(s(slowestAlone.times).max)],
          [
            'the fastest endpoint alone (CLI floor)',
            ms(median(fastestAlone.times)),
            ms(s(fastestAlone.times).p90),
            ms(s(fastestAlone.times).min),
            ms(s(fastestAlone.times).max),
          ],
          [`each endpoint alone, one after another (sum of ${args.endpoints} single runs)`, ms(sumSingles), '', '', ''],
        ],
        ['l', 'r', 'r', 'r', 'r'],
      ),
      '',
      `- All ${args.endpoints} at once / slowest alone: **${ratio(allMedian, slowestMedian)}** (${ms(allMedian - slowestMedian)} more for ${args.endpoints - 1} more endpoints).`,
      `- Sequential single runs / one concurrent run: ${ratio(sumSingles, allMedian)}; handshakes alone sum to ${ms(handshakes.reduce((a, b) => a + b, 0))} (what a one-after-another check inside one process would wait).`,
      '',
      `### A hung endpoint (accepts, never answers), \`--check-timeout ${HANG_TIMEOUT_S}\``,
      '',
      table(
        ['run', 'median', 'max', 'bound'],
        [
          ['the hung endpoint alone', ms(median(hungAlone.times)), ms(s(hungAlone.times).max), `${HANG_TIMEOUT_S} s + start-up`],
          [
            `the hung endpoint with the ${args.endpoints} others`,
            ms(median(hungWithAll.times)),
            ms(s(hungWithAll.times).max),
            `${HANG_TIMEOUT_S} s + start-up`,
          ],
        ],
        ['l', 'r', 'r', 'l'],
      ),
      '',
      `Hung alone minus the fastest endpoint alone: ${ms(median(hungAlone.times) - median(fastestAlone.times))} (the timeout is ${HANG_TIMEOUT_S * 1000} ms). Every run reported \`tls-unreachable:127.0.0.1:PORT\` (high) and exited 1; the other ${args.endpoints} endpoints were ok in the same run.`,
      '',
      '### `security-check` on a test-bed-like host',
      '',
      `Every step: PostgreSQL 15 (pg_hba_file_rules as superuser), Redis with a password, a private dockerd with 2 containers, 1 certificate file and 1 TLS endpoint, a ${authLines.length.toLocaleString('en-US')}-line auth log, ${200 + 2} files in the permission paths, \`apt list --upgradable\` (real), scanners not installed (skipped).`,
      '',
      table(
        ['', 'median', 'p90', 'min', 'max'],
        [['`probe-ops security-check` (wall)', ms(sec.median), ms(sec.p90), ms(sec.min), ms(sec.max)]],
        ['l', 'r', 'r', 'r', 'r'],
      ),
      '',
      table(
        ['step (report `durationMs`, median)', 'ms'],
        stepMedians.map(([id, t]) => [id, ms(t)]),
        ['l', 'r'],
      ),
      '',
      `Issue 6 asks for under 5 s: **${sec.median < 5000 ? 'met' : 'NOT met'}** (median ${ms(sec.median)}, max ${ms(sec.max)}). The steps run at once, so the run costs about its slowest step plus start-up.`,
      '',
    )
  } catch (error) {
    out.push(`Benchmark FAILED: ${error instanceof Error ? error.message : String(error)}`)
    log(out.at(-1)!)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    const problems = await teardown.run()
    if (problems.length > 0) out.push(`Teardown problems: ${problems.join('; ')}`, '')
  }
  const text = `${out.join('\n')}\n`
  process.stdout.write(text)
  writeFileSync(parse(argv).out, text)
  log(`written to ${parse(argv).out}`)
  return out.some((l) => l.startsWith('Benchmark FAILED')) ? 1 : 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(1)
    },
  )
}
