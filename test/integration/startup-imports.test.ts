import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bed, bedEnv } from '../bed/index.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { traceLoads } from '../helpers/loads.js'
import { tempDir } from '../helpers/temp.js'

/**
 * What a run loads is most of what it costs (issue 13 §7: diagnose spent its CPU time and memory
 * loading code). Each run here records every module the CLI loads, through import or require
 * (test/helpers/trace-loads.mjs), and checks that it loads nothing the command does not use.
 */

/** Libraries no diagnose needs off a terminal: progress and colours, other commands' tools, oclif's own Node version check. */
const NEVER_IN_DIAGNOSE = ['listr2', 'chalk', 'execa', 'node-forge', 'semver', '@oclif/plugin-help', '@oclif/plugin-autocomplete']
/** What comes with dockerode: only a service in Docker needs it. */
const DOCKER_LIBRARIES = ['dockerode', 'docker-modem', 'ssh2', '@grpc/grpc-js', 'protobufjs']
/** CommonJS client libraries: imported from ES modules, each would also get an ES module view (0.03–0.06 s and 4–5 MiB more). */
const REQUIRED_NOT_IMPORTED = ['undici', 'ioredis', 'dockerode']

describe('what a run loads', () => {
  let server: Server
  let healthUrl: string

  beforeAll(async () => {
    server = createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end('{"status":"healthy"}'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    healthUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`
  })

  afterAll(() => {
    server.close()
  })

  it('a diagnose of a platform without Docker, off a terminal: every step runs, and no Docker, systemd or terminal code loads', async () => {
    const dir = tempDir('po-loads-platform')
    // Every service a process (this test's own: alive, and older than its pid file), each with its log.
    const pidFile = join(dir, 'service.pid')
    writeFileSync(pidFile, `${process.pid}\n`)
    const service = (name: string, extra: Record<string, unknown> = {}) => {
      const logFile = join(dir, `${name}.log`)
      writeFileSync(logFile, `${new Date().toISOString()} INFO ${name} started\n`)
      return { runtime: 'process', pidFile, logFile, ...extra }
    }
    const { path } = writeConfig({
      host: 'loads',
      runtime: 'process',
      services: {
        management: service('management', { url: healthUrl }),
        web: { enabled: false },
        postgres: service('postgres'),
        redis: service('redis'),
      },
    })
    const trace = traceLoads()
    const result = await runCli(['diagnose', '--config', path, '--json'], { ...bedEnv(bed()), ...trace.env })
    const report = parseReport(result)
    expect(report.steps.map((s) => [s.id, s.status === 'skipped'])).toEqual(
      ['host', 'services', 'http', 'postgres', 'redis', 'logs', 'alerts', 'monitoring', 'agents', 'backups'].map((id) => [id, false]),
    )
    for (const id of ['services', 'postgres', 'redis', 'logs']) expect(report.steps.find((s) => s.id === id)?.status, result.stdout).toBe('ok')
    // A loaded machine may answer slower than diagnose.slowHttpMs: a warning then, and still every client loaded.
    const http = report.steps.find((s) => s.id === 'http')
    expect(http?.status === 'ok' || (http?.findings ?? []).every((f) => f.id.startsWith('endpoint-slow:')), result.stdout).toBe(true)

    const loads = trace.read()
    const packages = loads.packages()
    // The steps that ran loaded their clients...
    for (const used of ['pg', 'ioredis', 'undici', 'check-disk-space']) expect(packages, `diagnose did not load ${used}`).toContain(used)
    // ...and nothing else.
    for (const unused of [...NEVER_IN_DIAGNOSE, ...DOCKER_LIBRARIES]) expect(packages, `diagnose loaded ${unused}`).not.toContain(unused)
    const own = loads.ownModules()
    expect(own).toContain('systems/process.js')
    for (const unused of ['systems/docker.js', 'systems/systemd.js', 'systems/journal.js', 'systems/programs.js', 'cli/confirm.js', 'report/text.js'])
      expect(own, `diagnose --json loaded ${unused}`).not.toContain(unused)
    for (const library of REQUIRED_NOT_IMPORTED) expect(loads.packages('import'), `${library} was imported, not required`).not.toContain(library)
  })

  it('a diagnose of services in Docker loads dockerode (through require), and no systemd or pid-file code', async () => {
    // No such containers: the run fails, but what it loads to find that out is the point.
    const { path } = writeConfig({ host: 'loads', runtime: 'docker', docker: { composeProject: 'no-such-project' } })
    const trace = traceLoads()
    const result = await runCli(['diagnose', '--config', path, '--json', '--only', 'services,logs'], { ...bedEnv(bed()), ...trace.env })
    expect(result.exitCode, result.stderr).toBe(1)
    expect(parseReport(result).steps.find((s) => s.id === 'services')?.summary).toBe('0 of 4 running')

    const loads = trace.read()
    expect(loads.packages('require')).toContain('dockerode')
    for (const library of REQUIRED_NOT_IMPORTED) expect(loads.packages('import'), `${library} was imported, not required`).not.toContain(library)
    for (const unused of NEVER_IN_DIAGNOSE) expect(loads.packages(), `diagnose loaded ${unused}`).not.toContain(unused)
    const own = loads.ownModules()
    expect(own).toContain('systems/docker.js')
    for (const unused of ['systems/process.js', 'systems/systemd.js', 'systems/journal.js', 'systems/programs.js'])
      expect(own, `diagnose of Docker services loaded ${unused}`).not.toContain(unused)
  })

  it("a diagnose's HTTP checks keep undici's WebAssembly parser in its baseline code: no optimizing recompile for a few requests", async () => {
    // Two HTTP services, each asked by the services and http steps, and AlertManager: five requests.
    // At V8's default tiering budget the second one has undici's parser recompiled (bin/run.js).
    const { path } = writeConfig({
      host: 'loads',
      services: {
        management: { enabled: false },
        postgres: { enabled: false },
        redis: { enabled: false },
        web: { enabled: false },
        api: { runtime: 'process', pidFile: join(tempDir('po-loads-pid'), 'none.pid'), url: healthUrl },
        ui: { runtime: 'process', pidFile: join(tempDir('po-loads-pid'), 'none.pid'), url: healthUrl },
      },
    })
    const bin = resolve(import.meta.dirname, '../../bin/run.js')
    // V8 prints what it compiles on stdout, after the report.
    const result = await execa(
      process.execPath,
      ['--trace-wasm-compilation-times', bin, 'diagnose', '--config', path, '--json', '--only', 'host,services,http,alerts'],
      // As an operator runs it: not under the test runner's NODE_ENV=test, in which oclif looks for TypeScript sources.
      { env: { PATH: process.env.PATH, ALERTMANAGER_URL: bed().alertmanager.url }, extendEnv: false, reject: false },
    )
    expect(result.stdout, result.stderr).toContain('"command": "diagnose"')
    const compiled = result.stdout.split('\n').filter((line) => line.startsWith('Compiled function'))
    expect(compiled.filter((line) => line.includes('using Liftoff')).length, 'no WebAssembly compiled: did the HTTP checks run?').toBeGreaterThan(0)
    expect(compiled.filter((line) => line.includes('using TurboFan'))).toEqual([])
  })

  it('--version and diagnose --help load oclif and nothing else: no client, no config schema, no engine check', async () => {
    for (const args of [['--version'], ['diagnose', '--help']]) {
      const trace = traceLoads()
      const result = await runCli(args, trace.env)
      expect(result.exitCode, result.stderr).toBe(0)
      const packages = trace.read().packages()
      expect(packages).toContain('@oclif/core')
      for (const unused of ['semver', 'zod', 'js-yaml', 'pg', 'ioredis', 'undici', 'dockerode', 'check-disk-space', 'listr2', 'chalk', 'execa'])
        expect(packages, `${args.join(' ')} loaded ${unused}`).not.toContain(unused)
    }
  })

  it("wal push and wal fetch (PostgreSQL's archive_command and restore_command) skip oclif: the configuration, a repository and zstd, and no SDK they do not use", async () => {
    const dir = tempDir('po-loads-wal')
    // A segment's first page header as PostgreSQL 15 writes it (segment 3 of timeline 1), zeros after.
    const segment = Buffer.alloc(16 * 1024 * 1024)
    segment.writeUInt16LE(0xd110, 0)
    segment.writeUInt16LE(0x0006, 2)
    segment.writeUInt32LE(1, 4)
    segment.writeBigUInt64LE(3n * 16n * 1024n * 1024n, 8)
    segment.writeBigUInt64LE(7715790966965947287n, 24)
    segment.writeUInt32LE(16 * 1024 * 1024, 32)
    segment.writeUInt32LE(8192, 36)
    const name = '000000010000000000000003'
    writeFileSync(join(dir, name), segment)
    const { path } = writeConfig({ backup: { dir: join(dir, 'repository') } })
    for (const args of [
      ['wal', 'push', join(dir, name), '--config', path],
      ['wal', 'fetch', name, join(dir, 'fetched'), '--config', path],
    ]) {
      const trace = traceLoads()
      const result = await runCli(args, trace.env)
      expect(result.exitCode, result.stderr).toBe(0)
      const loads = trace.read()
      expect(loads.packages()).toEqual(['js-yaml', 'zod'])
      for (const unused of ['report/runner.js', 'cli/job-command.js', 'systems/age.js', 'systems/alert-sync.js', 'backups/store.js', 'systems/postgres.js'])
        expect(loads.ownModules(), `${args.slice(0, 2).join(' ')} loaded ${unused}`).not.toContain(unused)
    }
  })
})
