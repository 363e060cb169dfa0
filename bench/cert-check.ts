/**
 * Benchmark of issue 6: `probe-ops cert check` over many endpoints, a hung endpoint, and
 * `probe-ops security-check` on a test-bed-like host.
 *
 *   npm run bench -- cert-check [--runs N] [--endpoints N] [--build] [--out FILE]
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
 * benchmark.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Finding } from '../src/report/outcome.js'
import type { Report } from '../src/report/model.js'
import { runSleeperContainer, startDockerEngine } from '../test/bed/docker.js'
import { startHangingServer } from '../test/bed/hang.js'
import { startPostgres } from '../test/bed/postgres.js'
import { startRedis } from '../test/bed/redis.js'
import { pki, startTlsServer, writeFile, type TlsServer } from '../test/helpers/certificates.js'
import { integer, interleave, medianOf, runIfMain, sampleOf, summaryTable, verdict, type Bench, type BenchDefinition, type Sample } from './lib/harness.js'
import { table } from './lib/markdown.js'
import { cleanEnv, fail, timed, type TimedResult } from './lib/proc.js'
import { median, ms, ratio } from './lib/stats.js'

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

interface Args {
  runs: number
  endpoints: number
}

/** A verified CLI run: its wall time and its report. */
interface CliSample extends Sample {
  report: Report
}

function findingsOf(report: Report, step: string): Finding[] {
  return (report.steps.find((s) => s.id === step)?.data?.findings ?? []) as Finding[]
}

/** One verified CLI run (`--json`): its wall time and its report. */
async function cliRun(
  bench: Bench,
  p: { label: string; args: string[]; env: Record<string, string>; cwd: string; verify(report: Report, r: TimedResult): string | undefined },
): Promise<CliSample> {
  const r = await timed(process.execPath, [bench.cli.bin, ...p.args, '--json'], { env: cleanEnv(p.env), cwd: p.cwd, timeoutMs: 120_000 })
  let report: Report
  try {
    report = JSON.parse(r.stdout) as Report
  } catch {
    fail(p.label, 'stdout is not a report', r)
  }
  const problem = p.verify(report, r)
  if (problem) fail(p.label, problem, r)
  return { ...sampleOf(r), report }
}

/** `runs` timed runs after one warm-up. */
async function repeat(bench: Bench, label: string, runs: number, once: () => Promise<CliSample>): Promise<CliSample[]> {
  return (await interleave(bench, label, [{ key: label, label, run: once }], runs)).get(label)!
}

/** The endpoints: their PKI, `args.endpoints` TLS servers (endpoint i delays each handshake i × 10 ms) and a hanging listener. */
async function startEndpoints(bench: Bench, work: string, count: number) {
  bench.log(`starting ${count} TLS endpoints on 127.0.0.1`)
  const { root, intermediate, leaf } = pki()
  const caFile = writeFile(work, 'ca.pem', root.pem)
  const cert = leaf({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'], notAfterDays: 200 })
  const servers: TlsServer[] = []
  bench.teardown.add('stop the TLS endpoints', async () => {
    for (const s of servers) await s.close()
  })
  for (let i = 0; i < count; i++) servers.push(await startTlsServer(cert.keyPem, [cert, intermediate], { delayMs: i * 10 }))
  const hang = await startHangingServer()
  bench.teardown.add('stop the hanging listener', () => hang.close())
  return { caFile, cert, intermediate, leaf, servers, hang }
}

type Endpoints = Awaited<ReturnType<typeof startEndpoints>>

async function endpointsSection(bench: Bench, args: Args, work: string, e: Endpoints): Promise<void> {
  const env: Record<string, string> = { PROBE_OPS_CONFIG: path.join(work, 'none.yaml') }
  writeFileSync(env.PROBE_OPS_CONFIG!, `log:\n  file: ""\nlock:\n  dir: ${work}/lock\n`)
  const { servers, hang } = e
  const certArgs = (hosts: string[], extra: string[] = []) => ['cert', 'check', '--ca-file', e.caFile, ...hosts.flatMap((h) => ['--host', h]), ...extra]
  const allOk = (n: number) => (report: Report) => {
    const step = report.steps.find((s) => s.id === 'endpoints')
    const certificates = (step?.data?.certificates ?? []) as { status: string }[]
    if (step?.status !== 'ok' || certificates.length !== n || certificates.some((c) => c.status !== 'ok'))
      return `endpoints step ${step?.status}: ${step?.summary}`
    return undefined
  }
  const check = (label: string, hosts: string[], verify: (report: Report, r: TimedResult) => string | undefined, extra: string[] = []) =>
    cliRun(bench, { label, args: certArgs(hosts, extra), env, cwd: work, verify })
  const hungAddress = `127.0.0.1:${hang.port}`
  const hungOnly = (report: Report, r: TimedResult) =>
    r.exitCode !== 1 || findingsOf(report, 'endpoints')[0]?.id !== `tls-unreachable:${hungAddress}`
      ? 'the hung endpoint is not a tls-unreachable finding'
      : undefined
  const hungAmongAll = (report: Report) => {
    const f = findingsOf(report, 'endpoints')
    return f.length !== 1 || f[0]!.id !== `tls-unreachable:${hungAddress}` ? `findings ${f.map((x) => x.id).join(', ')}` : undefined
  }
  const timeout = ['--check-timeout', String(HANG_TIMEOUT_S)]
  const everyone = servers.map((s) => s.address)

  bench.log('each endpoint alone, once')
  const singles: CliSample[] = []
  for (const s of servers) singles.push(await check(`cert check --host ${s.address}`, [s.address], allOk(1)))
  const handshakes = singles.map((r) => (r.report.steps[1]!.data!.certificates as { tls: { handshakeMs: number } }[])[0]!.tls.handshakeMs)
  const slowestAlone = await repeat(bench, 'slowest endpoint alone', args.runs, () => check('slowest alone', [servers.at(-1)!.address], allOk(1)))
  const fastestAlone = await repeat(bench, 'fastest endpoint alone', args.runs, () => check('fastest alone', [servers[0]!.address], allOk(1)))
  const all = await repeat(bench, `all ${args.endpoints} endpoints`, args.runs, () => check('all endpoints', everyone, allOk(servers.length)))
  const hungAlone = await repeat(bench, 'hung endpoint alone', args.runs, () => check('hung endpoint', [hungAddress], hungOnly, timeout))
  const hungWithAll = await repeat(bench, `hung endpoint + ${args.endpoints}`, args.runs, () =>
    check('hung + all', [...everyone, hungAddress], hungAmongAll, timeout),
  )
  const times = (samples: CliSample[]) => samples.map(({ report: _report, ...sample }) => sample)
  bench.raw.endpoints = {
    singles: times(singles),
    slowestAlone: times(slowestAlone),
    fastestAlone: times(fastestAlone),
    all: times(all),
    hungAlone: times(hungAlone),
    hungWithAll: times(hungWithAll),
  }

  const sumSingles = singles.reduce((a, b) => a + b.ms, 0)
  bench.out.push(
    `### ${args.endpoints} loopback TLS endpoints`,
    '',
    `Endpoint *i* (0–${args.endpoints - 1}) holds each connection *i* × 10 ms before its handshake, so the slowest alone takes ${(args.endpoints - 1) * 10} ms longer than the fastest. One chain (leaf, intermediate) checked against a \`--ca-file\` root.`,
    '',
    summaryTable(
      [
        [`all ${args.endpoints} endpoints in one \`cert check\``, all],
        ['the slowest endpoint alone', slowestAlone],
        ['the fastest endpoint alone (CLI floor)', fastestAlone],
      ],
      { columns: ['median', 'p90', 'min', 'max'], first: 'run' },
    ),
    '',
    `Each endpoint alone, one after another (the sum of ${args.endpoints} single runs): ${ms(sumSingles)}.`,
    '',
    `- All ${args.endpoints} at once / slowest alone: **${ratio(medianOf(all), medianOf(slowestAlone))}** (${ms(medianOf(all) - medianOf(slowestAlone))} more for ${args.endpoints - 1} more endpoints).`,
    `- Sequential single runs / one concurrent run: ${ratio(sumSingles, medianOf(all))}; handshakes alone sum to ${ms(handshakes.reduce((a, b) => a + b, 0))} (what a one-after-another check inside one process would wait).`,
    '',
    `### A hung endpoint (accepts, never answers), \`--check-timeout ${HANG_TIMEOUT_S}\``,
    '',
    summaryTable(
      [
        ['the hung endpoint alone', hungAlone, [`${HANG_TIMEOUT_S} s + start-up`]],
        [`the hung endpoint with the ${args.endpoints} others`, hungWithAll, [`${HANG_TIMEOUT_S} s + start-up`]],
      ],
      { columns: ['median', 'max'], first: 'run', extra: ['bound'] },
    ),
    '',
    `Hung alone minus the fastest endpoint alone: ${ms(medianOf(hungAlone) - medianOf(fastestAlone))} (the timeout is ${HANG_TIMEOUT_S * 1000} ms). Every run reported \`tls-unreachable:127.0.0.1:PORT\` (high) and exited 1; the other ${args.endpoints} endpoints were ok in the same run.`,
    '',
  )
}

/** A 20 000-line auth log: a failed root login every third line, cron sessions between. */
function authLog(work: string): { file: string; lines: number } {
  const lines: string[] = []
  for (let i = 0; i < 20_000; i++) {
    const at = new Date(Date.now() - (20_000 - i) * 4_000).toISOString()
    lines.push(
      i % 3 === 0
        ? `${at} probe-01 sshd[${i}]: Failed password for root from 198.51.100.${i % 250} port ${1024 + i} ssh2`
        : `${at} probe-01 CRON[${i}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`,
    )
  }
  return { file: writeFile(work, 'auth.log', `${lines.join('\n')}\n`), lines: lines.length }
}

/** What a whole security-check run on the bench host must have done. */
function securityVerified(report: Report): string | undefined {
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
}

async function securitySection(bench: Bench, args: Args, work: string, e: Endpoints): Promise<void> {
  bench.log('starting PostgreSQL 15, Redis (password), a private dockerd for security-check')
  const redisPassword = 'bench-redis-password'
  const [postgres, redis, docker] = await Promise.all([startPostgres(), startRedis({ password: redisPassword }), startDockerEngine()])
  bench.teardown.add('stop PostgreSQL', () => postgres.stop())
  bench.teardown.add('stop Redis', () => redis.stop())
  bench.teardown.add('stop dockerd', () => docker.stop())
  bench.watch({ pids: [postgres.info.pid, redis.info.pid, docker.info.pid], needles: [`${docker.info.dir}/`] })
  await runSleeperContainer(docker.info, { name: 'management' })
  await runSleeperContainer(docker.info, { name: 'web' })
  const endpointCert = e.leaf({ commonName: 'localhost', sans: ['127.0.0.1'], notAfterDays: 200 })
  const endpoint = await startTlsServer(endpointCert.keyPem, [endpointCert, e.intermediate])
  bench.teardown.add('stop the security-check TLS endpoint', () => endpoint.close())
  const etc = path.join(work, 'etc-network-probe')
  const opt = path.join(work, 'opt-network-probe')
  for (const d of [etc, opt]) mkdirSync(d, { recursive: true })
  for (let i = 0; i < 200; i++) writeFileSync(path.join(opt, `file-${i}.py`), 'x\n', { mode: 0o644 })
  writeFileSync(path.join(etc, 'settings.yaml'), 'a: 1\n', { mode: 0o640 })
  const auth = authLog(work)
  const certFile = writeFile(work, 'server.crt', e.cert.pem, e.intermediate.pem)
  const securityConfig = path.join(work, 'security.yaml')
  writeFileSync(
    securityConfig,
    [
      'log:',
      '  file: ""',
      'certificates:',
      `  files: [${certFile}]`,
      `  endpoints: ["${endpoint.address}"]`,
      `  caFile: ${e.caFile}`,
      'security:',
      `  authLog: ${auth.file}`,
      `  permissionPaths: [${etc}, ${opt}]`,
      `  privatePaths: [${etc}]`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  const env = {
    PGHOST: postgres.info.host,
    PGPORT: String(postgres.info.port),
    PGUSER: postgres.info.user,
    PGPASSWORD: postgres.info.password,
    PGDATABASE: postgres.info.database,
    REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redis.info.port}`,
    DOCKER_HOST: docker.info.host,
  }
  const security = await repeat(bench, 'security-check', args.runs, () =>
    cliRun(bench, { label: 'security-check', args: ['security-check', '--config', securityConfig], env, cwd: work, verify: securityVerified }),
  )
  const stepMedians = SECURITY_STEPS.map((id) => [id, median(security.map((r) => r.report.steps.find((x) => x.id === id)!.durationMs))] as const)
  bench.raw.security = security.map((s) => ({ ms: s.ms, steps: Object.fromEntries(s.report.steps.map((x) => [x.id, x.durationMs])) }))
  const wall = medianOf(security)
  bench.out.push(
    '### `security-check` on a test-bed-like host',
    '',
    `Every step: PostgreSQL 15 (pg_hba_file_rules as superuser), Redis with a password, a private dockerd with 2 containers, 1 certificate file and 1 TLS endpoint, a ${auth.lines.toLocaleString('en-US')}-line auth log, ${200 + 2} files in the permission paths, \`apt list --upgradable\` (real), scanners not installed (skipped).`,
    '',
    summaryTable([['`probe-ops security-check` (wall)', security]], { columns: ['median', 'p90', 'min', 'max'], first: '' }),
    '',
    table(
      ['step (report `durationMs`, median)', 'ms'],
      stepMedians.map(([id, t]) => [id, ms(t)]),
      ['l', 'r'],
    ),
    '',
    '### Verdicts',
    '',
    verdict(
      'Issue 6 (`security-check` under 5 s)',
      wall < 5000,
      `median ${ms(wall)}, max ${ms(Math.max(...security.map((s) => s.ms)))}. The steps run at once, so the run costs about its slowest step plus start-up.`,
    ),
    '',
  )
}

async function run(bench: Bench, args: Args): Promise<void> {
  const work = await bench.tempDir('po-bench-cert-')
  bench.out.push(
    `- Method: wall times of whole \`probe-ops\` processes (spawn to exit), ${args.runs} runs after a warm-up; medians. Other work on the machine shows in the max and p90 columns.`,
    '',
  )
  const endpoints = await startEndpoints(bench, work, args.endpoints)
  await endpointsSection(bench, args, work, endpoints)
  await securitySection(bench, args, work, endpoints)
}

export const definition: BenchDefinition<Args> = {
  name: 'cert-check',
  title: 'Issue 6: `cert check` and `security-check`',
  summary: 'issue 6: `cert check` over 50 loopback TLS endpoints, a hung endpoint, `security-check` on a test-bed-like host',
  root: 'security-check is measured against a private dockerd',
  cli: true,
  options: {
    runs: { type: 'string', value: 'N', default: '5', help: 'timed runs of each measurement (one warm-up each on top)' },
    endpoints: { type: 'string', value: 'N', default: '50', help: 'loopback TLS endpoints' },
  },
  parse: (values) => ({ runs: integer(values, 'runs'), endpoints: integer(values, 'endpoints') }),
  run,
}

runIfMain(import.meta, definition)
