import { execFileSync, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { parseReport, readReportFile, runCli, writeConfig } from '../helpers/cli.js'
import { isRunning } from '../helpers/processes.js'
import { expectErrorDocument, expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

const BIN = resolve(import.meta.dirname, '../../bin/run.js')
const noServices = { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } }

/**
 * Runs the CLI with stdout on `stdout` (an open file), or on a pipe whose reader has gone before
 * anything was written ('closed'): every write then meets EPIPE.
 */
async function runWithStdout(args: string[], stdout: number | 'closed', cwd: string): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', stdout === 'closed' ? 'pipe' : stdout, 'pipe'], cwd })
  if (stdout === 'closed') child.stdout!.destroy()
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.once('close', (...outcome) => r(outcome)))
  return { code, signal, stderr }
}

/** No Node stack trace anywhere in the output. */
function expectNoStack(text: string) {
  expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/)
}

/** Bad usage answers with one line (and a hint), exit 2, and never a stack trace. */
function expectUsageError(result: { exitCode: number; stdout: string; stderr: string }, pattern: RegExp) {
  expect(result.exitCode).toBe(2)
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
  expect(result.stdout).toBe('')
}

describe('the CLI as a user runs it', () => {
  it('prints its version and help', async () => {
    const version = await runCli(['--version'])
    expect(version.exitCode).toBe(0)
    expect(version.stdout).toMatch(/^probe-ops\/\d+\.\d+\.\d+/)
    const help = await runCli(['diagnose', '--help'])
    expect(help.exitCode).toBe(0)
    expect(help.stdout).toContain('EXAMPLES')
    expect(help.stdout).toContain('--report-file')
  })

  it('loads no heavy library for --version, help or config commands', async () => {
    const root = resolve(import.meta.dirname, '../..')
    for (const args of [['--version'], ['config', 'show'], ['diagnose', '--help']]) {
      const trace = join(tempDir('po-trace'), 'imports.txt')
      const result = await execa(process.execPath, ['--import', join(root, 'test/helpers/trace-imports.mjs'), join(root, 'bin/run.js'), ...args], {
        env: { TRACE_IMPORTS_FILE: trace },
        reject: false,
      })
      expect(result.exitCode, result.stderr).toBe(0)
      const loaded = readFileSync(trace, 'utf8')
      expect(loaded).toContain('@oclif/core')
      for (const heavy of ['dockerode', 'node-forge', 'ioredis', 'listr2', 'pg', 'undici'])
        expect(loaded.split('\n'), `${args.join(' ')} loads ${heavy}`).not.toContain(heavy)
    }
  })

  it("loads only the chosen steps' code for a job run, and no chalk for --json", async () => {
    const root = resolve(import.meta.dirname, '../..')
    const dir = tempDir('po-trace-job')
    const { path } = writeConfig({ cleanup: { logs: [{ path: join(dir, 'logs'), pattern: '*.log', olderThanDays: 30 }], temp: [] } })
    const trace = join(dir, 'imports.txt')
    const result = await execa(
      process.execPath,
      [
        '--import',
        join(root, 'test/helpers/trace-imports.mjs'),
        join(root, 'bin/run.js'),
        'maintain',
        'daily',
        '--config',
        path,
        '--only',
        'clean-logs',
        '--json',
        '--dry-run',
      ],
      { env: { TRACE_IMPORTS_FILE: trace }, reject: false },
    )
    expect(result.exitCode, result.stderr).toBe(0)
    const loaded = readFileSync(trace, 'utf8').split('\n')
    expect(loaded).toContain('./cleanup.js')
    for (const other of ['./retention.js', './reindex.js', './services.js', './disk.js', 'pg', 'chalk', 'dockerode', 'ioredis', 'undici', 'listr2'])
      expect(loaded, `maintain daily --only clean-logs loads ${other}`).not.toContain(other)
  })

  it('answers an unknown command or flag with exit 2', async () => {
    expectUsageError(await runCli(['diagnoze']), /command diagnoze not found; did you mean "diagnose"\?/)
    expectUsageError(await runCli(['maintain', 'dayly']), /command maintain dayly not found; did you mean "maintain daily"\?/)
    expectUsageError(await runCli(['xyzzy']), /command xyzzy not found\n/)
    expectUsageError(await runCli(['diagnose', '--frobnicate']), /Nonexistent flag: --frobnicate/)
    expectUsageError(
      await runCli(['diagnose', '--only', 'postgres,nope']),
      /unknown step "nope" for diagnose\n\s+steps are: host, services, http, postgres, redis, logs, alerts/,
    )
    expectUsageError(await runCli(['diagnose', '--since', 'yesterday']), /--since "yesterday" is not a duration/)
  })

  it('names the allowed range of a duration flag, and refuses one that would overflow a timer', async () => {
    // 2147484 s is past Node's 2^31-1 ms timer limit: every check would have "timed out" at once.
    expectUsageError(await runCli(['diagnose', '--check-timeout', '2147484']), /probe-ops: --check-timeout "2147484" must be between 100ms and 1h\n/)
    expectUsageError(await runCli(['cert', 'check', '--host', 'localhost', '--check-timeout', '0']), /--check-timeout "0" must be between 100ms and 1h/)
    expectUsageError(await runCli(['maintain', 'daily', '--timeout', '30d']), /--timeout "30d" must be between 1s and 1w/)
    expectUsageError(await runCli(['maintain', 'daily', '--wait-lock', 'forever']), /--wait-lock "forever" is not a duration/)
    expectUsageError(await runCli(['report', 'performance', '--window', '400d']), /--window "400d" must be between 1s and 365d/)
    expectUsageError(await runCli(['cert', 'check', '--warning-days', '99999', '/dev/null']), /less than or equal to 3650/)
  })

  it('takes durations in one grammar, in flags and in the file alike', async () => {
    const { path } = writeConfig({
      services: { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } },
      diagnose: { since: '1w', checkTimeoutSeconds: 2 },
      performance: { window: '2w' },
    })
    expect((await runCli(['config', 'validate', '--config', path])).exitCode).toBe(0)
    const result = await runCli(['diagnose', '--config', path, '--only', 'host', '--since', '1w', '--check-timeout', '1500ms', '--timeout', '1m', '--json'])
    expect(result.exitCode, result.stderr).toBe(0)
  })

  it('refuses a configuration or password file it cannot read with bounds: a device, a FIFO, too large', async () => {
    const dir = tempDir('po-bounded')
    const fifo = join(dir, 'config.fifo')
    execFileSync('mkfifo', [fifo])
    expectUsageError(await runCli(['config', 'validate', '-c', '/dev/zero']), /probe-ops: config file \/dev\/zero is a character device, not a regular file\n/)
    // Before, these read /dev/zero into memory until it ran out, or waited on the FIFO forever.
    expectUsageError(await runCli(['config', 'validate', '-c', fifo]), /config file .*config\.fifo is a FIFO \(named pipe\), not a regular file/)
    const big = join(dir, 'big.yaml')
    writeFileSync(
      big,
      `services:\n${Array.from({ length: 20_000 }, (_, i) => `  service-${i}:\n    unit: service-${i}.service\n    runtime: systemd\n`).join('')}`,
    )
    expectUsageError(
      await runCli(['config', 'validate', '-c', big]),
      /big\.yaml is larger than 1 MiB, more than any configuration file\n\s+is it the right file\?/,
    )
    const { path } = writeConfig({ postgres: { passwordFile: '/dev/zero' } })
    expectUsageError(
      await runCli(['diagnose', '--config', path, '--only', 'host']),
      /postgres\.passwordFile: \/dev\/zero is a character device, not a regular file/,
    )
  })

  it('names the file, line and key of a bad configuration', async () => {
    const { path, dir } = writeConfig({ postgres: { host: '127.0.0.1', hots: 'typo' } })
    const unknownKey = await runCli(['diagnose', '--config', path])
    expectUsageError(unknownKey, new RegExp(`${path}:\\d+: unknown key "postgres.hots"`))

    const wrongType = join(dir, 'wrong-type.yaml')
    writeFileSync(wrongType, 'disk:\n  warningPercent: lots\n')
    expectUsageError(await runCli(['config', 'validate', '--config', wrongType]), /wrong-type\.yaml:2: "disk\.warningPercent": Expected number/)

    const badYaml = join(dir, 'bad.yaml')
    writeFileSync(badYaml, 'redis:\n  url: "redis://x\n')
    expectUsageError(await runCli(['diagnose', '--config', badYaml]), /bad\.yaml:\d+: invalid YAML/)

    const notAFile = join(dir, 'a-directory.yaml')
    mkdirSync(notAFile)
    expectUsageError(await runCli(['diagnose', '--config', notAFile]), /a-directory\.yaml is a directory, not a regular file/)
    expectUsageError(await runCli(['diagnose'], { PROBE_OPS_CONFIG: join(dir, 'missing.yaml') }), /missing\.yaml does not exist/)
  })

  it('says at once which configured directory cannot be made (a file in the way, a path under /proc)', async () => {
    const noServices = { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } }
    const { dir } = writeConfig({})
    writeFileSync(join(dir, 'a-file'), '')
    const config = (extra: Record<string, unknown>) => writeConfig({ services: noServices, log: { file: join(dir, 'm.log') }, ...extra }).path
    // Node's recursive mkdir never returns under /proc: these would hang without a word.
    expectUsageError(
      await runCli(['maintain', 'daily', '--only', 'clean-logs', '--config', config({ lock: { dir: '/proc/probe-ops-no-such/lock' } })]),
      /cannot create the lock directory \/proc\/probe-ops-no-such\/lock \(ENOENT\)\n\s+set lock\.dir/,
    )
    expectUsageError(
      await runCli(['maintain', 'daily', '--only', 'clean-logs', '--config', config({ lock: { dir: join(dir, 'a-file', 'lock') } })]),
      /cannot create the lock directory .*a-file\/lock \(ENOTDIR\)/,
    )
    const backup = await runCli([
      'backup',
      'database',
      '--config',
      config({ lock: { dir: join(dir, 'lock') }, backup: { dir: '/proc/probe-ops-no-such/backups' } }),
    ])
    expect(backup.exitCode).toBe(1)
    expect(backup.stdout).toMatch(/cannot prepare the backup directory \/proc\/probe-ops-no-such\/backups: ENOENT/)
  })

  it('validates and shows a good configuration with secrets redacted', async () => {
    const { path, dir } = writeConfig({ postgres: { passwordFile: 'PLACEHOLDER' } })
    const secretFile = join(dir, 'pgpass')
    writeFileSync(secretFile, 'hunter2-from-file\n', { mode: 0o600 })
    writeFileSync(path, `postgres:\n  passwordFile: ${secretFile}\nlog:\n  file: ${join(dir, 'm.log')}\n`)
    const validate = await runCli(['config', 'validate', '--config', path])
    expect(validate.exitCode).toBe(0)
    expect(validate.stdout).toContain('is valid')
    const show = await runCli(['config', 'show', '--config', path, '--json'], { REDIS_URL: 'redis://:redis-secret-9@127.0.0.1:6390' })
    expect(show.exitCode).toBe(0)
    expect(show.stdout).not.toContain('hunter2-from-file')
    expect(show.stdout).not.toContain('redis-secret-9')
    const shown = JSON.parse(show.stdout)
    expect(shown.postgres.passwordFile).toBe(secretFile)
    expect(shown.redis.url).toBe('redis://127.0.0.1:6390')
  })

  it('shows a configuration that validates unchanged and configures the same (show -> validate)', async () => {
    const { path, dir } = writeConfig({})
    const secretFile = join(dir, 'pgpass')
    writeFileSync(secretFile, 'hunter3-from-file\n', { mode: 0o600 })
    writeFileSync(
      path,
      [
        'host: probe-07',
        'runtime: systemd',
        `log: { file: ${join(dir, 'm.log')} }`,
        `lock: { dir: ${join(dir, 'lock')} }`,
        'postgres: { host: db.internal, port: 6543, passwordFile: ' + secretFile + ', statementTimeoutSeconds: 45 }',
        'alertmanager: { url: "http://ops:Al3rt-S3cret@am.internal:9093", timeoutSeconds: 2 }',
        'prometheus: { url: "http://prom.internal:9090/?token=Pr0m-S3cret" }',
        'services:',
        '  web: { enabled: false }',
        '  management: { runtime: docker, url: "http://mgmt:8000/api/v1/health", silences: [\'alertname="X"\'] }',
        '  agent: { runtime: process, pidFile: /run/agent.pid, start: [/usr/bin/agent], readinessTimeoutSeconds: 90 }',
        'diagnose: { since: 2h30m, checkTimeoutSeconds: 3 }',
        'performance: { window: 1w, top: 5 }',
        'certificates:',
        '  files: [/etc/ssl/a.pem, { path: /etc/ssl/b.pem, key: /etc/ssl/b.key }]',
        '  endpoints: ["api.example.com:8443", { host: 10.0.0.5, serverName: api.example.com }]',
        'security: { allowedPorts: [22, tcp/8080, udp/123], windowHours: 12 }',
        'retention: { rules: [{ table: task_results, column: execution_time, days: 30 }], pauseMs: 10 }',
        'backup: { keep: { daily: 3 } }',
        '',
      ].join('\n'),
    )
    const env = { REDIS_URL: 'redis://:R3dis-S3cret@cache:6380/1', PGUSER: 'ops', DOCKER_HOST: 'tcp://127.0.0.1:2375' }
    const show = await runCli(['config', 'show', '--config', path], env)
    expect(show.exitCode, show.stderr).toBe(0)
    for (const secret of ['hunter3', 'Al3rt-S3cret', 'Pr0m-S3cret', 'R3dis-S3cret']) expect(show.stdout).not.toContain(secret)
    expect(show.stdout).not.toMatch(/timeoutMs|sinceMs|source: null|^- name:/m)
    const shownFile = join(dir, 'shown.yaml')
    writeFileSync(shownFile, show.stdout)
    const validate = await runCli(['config', 'validate', '--config', shownFile])
    expect(validate.exitCode, validate.stderr).toBe(0)
    expect(validate.stdout).toContain('is valid: 4 services (management/docker, postgres/systemd, redis/systemd, agent/process)')
    // Shown again without the environment, it is the same: the file holds all of it now.
    const again = await runCli(['config', 'show', '--config', shownFile, '--json'])
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse((await runCli(['config', 'show', '--config', path, '--json'], env)).stdout))
    const json = JSON.parse(again.stdout)
    expect(json.diagnose).toEqual({ since: '2h30m', checkTimeoutSeconds: 3, errorLines: 5, slowHttpMs: 1000 })
    expect(json.docker.timeoutSeconds).toBe(5)
    expect(json.services.web).toEqual({ enabled: false })
  })

  it('keeps stdout to the report alone under --json, and writes the report file', async () => {
    const { path, dir } = writeConfig({
      services: { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } },
    })
    const reportFile = join(dir, 'out', 'report.json')
    const result = await runCli(['diagnose', '--config', path, '--only', 'host', '--json', '--report-file', reportFile])
    const report = parseReport(result)
    expect(report.command).toBe('diagnose')
    expect(report.steps.find((s) => s.id === 'host')!.status).not.toBe('skipped')
    expect(report.steps.filter((s) => s.status === 'skipped')).toHaveLength(report.steps.length - 1)
    expect(readReportFile(reportFile)).toEqual(report)
  })

  it("takes a job's steps from its spec: --help lists them, and --only/--skip are checked before the configuration is read", async () => {
    const help = await runCli(['alert', 'test', '--help'])
    expect(help.exitCode).toBe(0)
    expect(help.stdout).toMatch(/Steps, in order \(each can be chosen with --only\/--skip\):\n\s+send\s+post ProbeOpsTestAlert[^\n]*\n\s+confirm\s+wait/)
    const dir = tempDir('po-spec-steps')
    const unknown = await runCli(['alert', 'test', '--config', join(dir, 'missing.yaml'), '--skip', 'nope', '--json'])
    expect(unknown.stderr).toMatch(/probe-ops: unknown step "nope" for alert test\n\s+steps are: send, confirm, resolve/)
    expectErrorDocument(unknown.stdout, 2, 'unknown-step')
    const { path } = writeConfig({ alertmanager: { url: 'http://127.0.0.1:9' } })
    const dry = await runCli(['alert', 'test', '--config', path, '--dry-run', '--only', 'send', '--json'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    expect(parseReport(dry).steps.map((s) => [s.id, s.status])).toEqual([
      ['send', 'ok'],
      ['confirm', 'skipped'],
      ['resolve', 'skipped'],
    ])
  })

  it('prints one JSON document under --json on every exit: the report of a job that ran (0, 1)', async () => {
    const { path } = writeConfig({ services: noServices, backup: { dir: join(tempDir('po-json-backups'), 'backups') } })
    const ok = await runCli(['diagnose', '--config', path, '--only', 'host', '--json'])
    expect(ok.exitCode, ok.stderr).toBe(0)
    expectValidReport(parseReport(ok))
    const listed = await runCli(['backup', 'list', '--config', path, '--json'])
    expect(listed.exitCode, listed.stderr).toBe(0)
    expectValidReport(parseReport(listed))
    const failed = await runCli([
      'backup',
      'database',
      '--config',
      writeConfig({ services: noServices, backup: { dir: '/proc/probe-ops-no-such/backups' } }).path,
      '--json',
    ])
    expect(failed.exitCode).toBe(1)
    expectValidReport(parseReport(failed))
  })

  it('prints an error document under --json when bad usage or configuration stops the run (2); stderr keeps its one line', async () => {
    const { path, dir } = writeConfig({ services: noServices })
    const unknownStep = await runCli(['diagnose', '--config', path, '--json', '--only', 'nope'])
    expect(unknownStep.stderr).toMatch(/probe-ops: unknown step "nope" for diagnose\n/)
    expect(expectErrorDocument(unknownStep.stdout, 2, 'unknown-step')).toMatchObject({
      command: 'diagnose',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      error: { message: 'unknown step "nope" for diagnose', hint: expect.stringContaining('steps are: host, services') },
    })
    const missingConfig = await runCli(['maintain', 'daily', '--json', '--config', join(dir, 'missing.yaml')])
    expect(missingConfig.exitCode).toBe(2)
    expect(expectErrorDocument(missingConfig.stdout, 2, 'bad-config')).toMatchObject({
      command: 'maintain daily',
      error: { message: expect.stringContaining('missing.yaml does not exist') },
    })
    const badConfig = join(dir, 'bad.yaml')
    writeFileSync(badConfig, 'disk:\n  warningPercent: lots\n')
    expectErrorDocument((await runCli(['config', 'show', '--json', '--config', badConfig])).stdout, 2, 'bad-config')
    expectErrorDocument((await runCli(['backup', 'list', '--json', '--config', badConfig])).stdout, 2, 'bad-config')
    expectErrorDocument((await runCli(['recover', 'mysql', '--config', path, '--json'])).stdout, 2, 'unknown-service')
    expectErrorDocument((await runCli(['restore', 'latest', '--config', path, '--json'])).stdout, 2, 'usage')
    // oclif's own parsing errors (an unknown flag, a bad option, a flag that the command does not take) and an unknown command.
    const unknownFlag = await runCli(['diagnose', '--json', '--frobnicate'])
    expect(unknownFlag.stderr).toMatch(/Nonexistent flag: --frobnicate/)
    expect(expectErrorDocument(unknownFlag.stdout, 2, 'usage').error.message).toBe('Nonexistent flag: --frobnicate')
    expectErrorDocument((await runCli(['maintain', 'daily', '--json', '--fail-on', 'sometimes'])).stdout, 2, 'usage')
    expectErrorDocument((await runCli(['config', 'validate', '--json'])).stdout, 2, 'usage')
    const unknownCommand = await runCli(['maintain', 'dayly', '--json'])
    expect(unknownCommand.exitCode).toBe(2)
    expect(unknownCommand.stderr).toMatch(/command maintain dayly not found/)
    expect(expectErrorDocument(unknownCommand.stdout, 2, 'unknown-command').command).toBe('maintain dayly')
    // Without --json, nothing on stdout.
    expect((await runCli(['maintain', 'dayly'])).stdout).toBe('')
    // The host is the configuration's once it is loaded.
    const named = writeConfig({ host: 'probe-07', services: noServices })
    expect(expectErrorDocument((await runCli(['diagnose', '--config', named.path, '--json', '--skip', 'nope'])).stdout, 2, 'unknown-step').host).toBe(
      'probe-07',
    )
  })

  it('prints an error document under --json when another run holds the lock (3) or an operation fails before any report (1)', async () => {
    const { path, dir } = writeConfig({ services: noServices })
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((r) => holder.once('spawn', r))
    try {
      mkdirSync(join(dir, 'lock'), { recursive: true })
      writeFileSync(join(dir, 'lock/maintain-daily.lock'), JSON.stringify({ pid: holder.pid, command: 'maintain daily', since: new Date().toISOString() }))
      const held = await runCli(['maintain', 'daily', '--config', path, '--only', 'clean-logs', '--json'])
      expect(held.exitCode).toBe(3)
      expect(held.stderr).toMatch(/maintain daily is already running/)
      expect(expectErrorDocument(held.stdout, 3, 'lock-held').error).toMatchObject({
        message: expect.stringContaining(`process ${holder.pid}`),
        hint: expect.stringContaining('--wait-lock'),
      })
    } finally {
      holder.kill('SIGKILL')
    }

    // An interrupted restore's note that is not one: the restore cannot start.
    const backups = join(tempDir('po-json-note'), 'backups')
    mkdirSync(backups)
    writeFileSync(join(backups, '.restore-stopped-services.json'), 'not a note')
    const noted = await runCli(['restore', 'latest', '--yes', '--json', '--config', writeConfig({ services: noServices, backup: { dir: backups } }).path])
    expect(noted.exitCode).toBe(1)
    expect(noted.stderr).toMatch(/is not a note probe-ops wrote/)
    expectErrorDocument(noted.stdout, 1, 'operation-failed')
  })

  it('exits 1 when the report file it was asked for cannot be written, and still prints the report', async () => {
    const { path, dir } = writeConfig({ services: noServices })
    writeFileSync(join(dir, 'a-file'), '')
    const result = await runCli(['diagnose', '--config', path, '--only', 'host', '--json', '--report-file', join(dir, 'a-file', 'report.json')])
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toMatch(/probe-ops: could not write the report file .*a-file\/report\.json: .*(not a directory|ENOTDIR)/)
    expectNoStack(result.stderr)
    const report = parseReport(result)
    expectValidReport(report)
    expect(report.status).not.toBe('failed')
  })

  it('says in one line that stdout cannot be written (a full disk), exit 1, and still logs the run', async () => {
    const { path, dir } = writeConfig({ services: noServices })
    for (const args of [
      ['diagnose', '--config', path, '--only', 'host'],
      ['diagnose', '--config', path, '--only', 'host', '--json'],
      ['config', 'show', '--config', path],
      ['--version'],
      ['diagnose', '--help'],
    ]) {
      // stdout is /dev/full itself, as with `> /dev/full`: every write fails with ENOSPC.
      const full = openSync('/dev/full', 'w')
      const result = await runWithStdout(args, full, dir).finally(() => closeSync(full))
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(1)
      expect(result.stderr.match(/cannot write to standard output/g), `${args.join(' ')}: ${result.stderr}`).toHaveLength(1)
      expect(result.stderr).toMatch(/probe-ops: cannot write to standard output: ENOSPC/)
      expectNoStack(result.stderr)
    }
    expect(readFileSync(join(dir, 'maintenance.log'), 'utf8')).toMatch(/"job":"diagnose"/)
  })

  it('ends quietly with its own exit code when the reader of stdout goes away (EPIPE)', async () => {
    const { path, dir } = writeConfig({ services: noServices })
    for (const args of [
      ['diagnose', '--config', path, '--only', 'host'],
      ['diagnose', '--config', path, '--only', 'host', '--json'],
      ['config', 'show', '--config', path],
    ]) {
      rmSync(join(dir, 'maintenance.log'), { force: true })
      const { code, signal, stderr } = await runWithStdout(args, 'closed', dir)
      expect({ code, signal }, `${args.join(' ')}: ${stderr}`).toEqual({ code: 0, signal: null })
      expect(stderr).not.toMatch(/EPIPE|cannot write|internal error/)
      expectNoStack(stderr)
      if (args[0] === 'diagnose') expect(existsSync(join(dir, 'maintenance.log')), 'the run is logged').toBe(true)
    }
  })
})

describe('the programs probe-ops runs, in process groups of their own, never outlive it', () => {
  const PROCESS_GROUP = pathToFileURL(resolve(import.meta.dirname, '../../dist/systems/process-group.js')).href

  /**
   * A node process, in a group of its own as a shell runs a job, that does `before`, starts
   * `sleep` as probe-ops starts its programs, says its pid, then does `after`.
   */
  async function withProgram(before: string, after: string) {
    const script = `import { startProgram } from ${JSON.stringify(PROCESS_GROUP)}
${before}
const { subprocess } = await startProgram('sleep', ['1000'], { reject: false, stdin: 'ignore' })
subprocess.catch(() => undefined)
process.stdout.write(subprocess.pid + '\\n')
${after}`
    const parent = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, detached: true, stdin: 'ignore', timeout: 60_000 })
    let said = ''
    parent.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()))
    const saying = async (what: RegExp) => {
      while (!what.test(said)) await new Promise((r) => setTimeout(r, 20))
      return said
    }
    const program = Number((await saying(/^\d+\n/)).split('\n')[0])
    return { parent, program, saying }
  }

  async function gone(pid: number): Promise<boolean> {
    for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 50))
    return !isRunning(pid)
  }

  it('ends a program still running when probe-ops exits', async () => {
    const { parent, program } = await withProgram('', 'process.exit(0)')
    expect((await parent).exitCode).toBe(0)
    expect(await gone(program)).toBe(true)
  })

  it('ends it with probe-ops when a signal that nothing handles ends probe-ops', async () => {
    const { parent, program } = await withProgram('', 'setInterval(() => {}, 1000)')
    parent.kill('SIGTERM')
    expect((await parent).signal).toBe('SIGTERM')
    expect(await gone(program)).toBe(true)
  })

  it("leaves it alone when a job handles the signal (Ctrl-C to the terminal's whole group), until probe-ops exits", async () => {
    const { parent, program, saying } = await withProgram(
      "process.on('SIGINT', () => { process.stdout.write('handled\\n'); setTimeout(() => process.exit(0), 300) })",
      'setInterval(() => {}, 1000)',
    )
    process.kill(-parent.pid!, 'SIGINT')
    await saying(/handled/)
    expect(isRunning(program)).toBe(true)
    expect((await parent).exitCode).toBe(0)
    expect(await gone(program)).toBe(true)
  })
})
