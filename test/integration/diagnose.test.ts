import { createServer, type Server } from 'node:http'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import {
  bed,
  composeLabels,
  dockerCli,
  pausePostgres,
  pgClientConfig,
  pgQuery,
  resumePostgres,
  runPostgresContainer,
  runSleeperContainer,
  startAlertmanager,
  startHangingServer,
  startRedis,
  startRefusedPort,
  uniqueName,
  type AlertmanagerServer,
  type RunningContainer,
} from '../bed/index.js'
import { REDIS_SERVER } from '../bed/redis.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { journalAnswers } from '../helpers/journal.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id} in ${JSON.stringify(report.steps.map((s) => s.id))}`)
  return found
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return { server, url: `http://127.0.0.1:${address.port}` }
}

interface LogEntryData {
  first: string
  count: number
  newestAt?: string
  lines: string[]
}
type ServiceLogs =
  | { service: string; read: true; errors: number; distinct: number; warnings: number; entries: LogEntryData[] }
  | { service: string; read: false; error: string; hint?: string }

/** A unix socket file nobody listens on any more: what a crashed engine leaves behind. */
async function deadSocket(): Promise<string> {
  const path = join(tempDir('po-dead'), 'docker.sock')
  const { execa } = await import('execa')
  const child = execa(process.execPath, ['-e', "require('node:net').createServer().listen(process.argv[1], () => console.log('listening'))", path], {
    reject: false,
  })
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
  child.kill('SIGKILL')
  await child
  return path
}

describe('probe-ops diagnose against the real test bed', () => {
  const containers: RunningContainer[] = []
  const servers: Server[] = []
  const project = uniqueName('np')
  let names: Record<'management' | 'web' | 'postgres' | 'redis', string>
  let settings: Record<string, unknown>
  let env: Record<string, string>
  // Its own AlertManager: alerts other test files push must not change what "healthy" means here.
  let alertmanager: AlertmanagerServer['info']
  let stopAlertmanager: () => Promise<void>

  beforeAll(async () => {
    const { docker, postgres, redis } = bed()
    const am = await startAlertmanager()
    alertmanager = am.info
    stopAlertmanager = () => am.stop()
    names = { management: uniqueName('management'), web: uniqueName('web'), postgres: uniqueName('postgres'), redis: uniqueName('redis') }
    // The services' containers; postgres and redis are found through their compose labels only.
    containers.push(
      await runSleeperContainer(docker, {
        name: names.management,
        logLines: ['INFO started', 'ERROR database pool exhausted', 'INFO ok'],
        errorLines: ['FATAL cannot open /data/cache'],
      }),
      await runSleeperContainer(docker, { name: names.web, logLines: ['GET / 200'] }),
      await runSleeperContainer(docker, { name: uniqueName('pg'), labels: composeLabels(project, 'postgres'), logLines: ['LOG:  database system is ready'] }),
      await runSleeperContainer(docker, { name: names.redis, labels: composeLabels(project, 'redis') }),
    )
    const api = await listen((req, res) => {
      res.writeHead(req.url === '/api/v1/health' ? 200 : 404, { 'content-type': 'application/json' }).end('{"status":"healthy"}')
    })
    const web = await listen((_req, res) => res.writeHead(200).end('<html></html>'))
    servers.push(api.server, web.server)
    settings = {
      host: 'bed',
      // The agents and monitoring steps have a test of their own (agents.test.ts).
      prometheus: { url: '' },
      agents: { databaseQuery: '' },
      docker: { composeProject: project },
      services: {
        management: { container: names.management, url: `${api.url}/api/v1/health` },
        web: { container: names.web, url: web.url },
        postgres: { container: 'no-such-name', composeService: 'postgres' },
        redis: { container: names.redis },
      },
    }
    env = {
      PGHOST: postgres.host,
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password,
      PGDATABASE: postgres.database,
      REDIS_URL: redis.url,
      DOCKER_HOST: docker.host,
      ALERTMANAGER_URL: alertmanager.url,
    }
  })

  afterAll(async () => {
    await stopAlertmanager()
    for (const c of containers) await c.remove()
    for (const s of servers) s.close()
  })

  it('reports a healthy platform, every area checked, and renders every sink', async () => {
    // Latency is not what this test looks at: a loaded machine must not turn its 'ok' into a warning.
    const { path, dir } = writeConfig({ ...settings, diagnose: { slowHttpMs: 30_000 } })
    // The platform has no backups: the backups step (test/integration/diagnose-backups.test.ts) would say so.
    const result = await runCli(['diagnose', '--config', path, '--json', '--since', '10m', '--skip', 'backups'], env)
    const report = parseReport(result)
    expect(result.exitCode, result.stderr).toBe(0)
    expectValidReport(report)
    expect(report.steps.map((s) => s.id)).toEqual(['host', 'services', 'http', 'postgres', 'redis', 'logs', 'alerts', 'monitoring', 'agents', 'backups'])
    expect(step(report, 'backups').status).toBe('skipped')
    // prometheus.url '' is the user's choice: neither a failure nor an "ok" for what was not looked at.
    for (const id of ['monitoring', 'agents']) expect(step(report, id)).toMatchObject({ status: 'skipped', summary: 'not configured: prometheus.url is empty' })
    for (const id of ['services', 'http', 'postgres', 'redis', 'alerts']) expect(step(report, id).status, JSON.stringify(step(report, id))).toBe('ok')

    const services = step(report, 'services').data!.services as { name: string; state: string; running: boolean; restarts: number; runtime: string }[]
    expect(services.map((s) => [s.name, s.running, s.runtime])).toEqual([
      ['management', true, 'docker'],
      ['web', true, 'docker'],
      ['postgres', true, 'docker'],
      ['redis', true, 'docker'],
    ])

    const pg = step(report, 'postgres').data!
    expect(pg.version).toMatch(/^15\./)
    expect(pg.maxConnections).toBeGreaterThan(0)
    expect(pg.databaseBytes).toBeGreaterThan(0)
    expect(pg).toHaveProperty('cacheHitRatio')
    expect(pg).toHaveProperty('longestTransaction')
    const redis = step(report, 'redis').data!
    expect(redis.version).toMatch(/^\d+\./)
    expect(redis.lastSaveStatus).toBe('ok')
    expect(redis).toHaveProperty('evictedKeys', 0)

    const logs = step(report, 'logs')
    expect(logs.status).toBe('warning')
    expect(logs.summary).toBe('2 errors in the last 10m')
    const perService = logs.data!.services as ServiceLogs[]
    expect(perService.find((s) => s.service === 'management')).toMatchObject({
      read: true,
      errors: 2,
      distinct: 2,
      entries: expect.arrayContaining([expect.objectContaining({ first: 'ERROR database pool exhausted', count: 1 })]),
    })
    expect(perService.find((s) => s.service === 'web')).toMatchObject({ read: true, errors: 0 })

    const http = step(report, 'http').data!.endpoints as { service: string; status: number }[]
    expect(http.map((e) => [e.service, e.status])).toEqual([
      ['management', 200],
      ['web', 200],
    ])

    // The maintenance log and the metrics file are renderings of the same report.
    const lines = readFileSync(join(dir, 'maintenance.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.filter((l) => l.step).map((l) => l.step)).toEqual(report.steps.map((s) => s.id))
    const metrics = readFileSync(join(dir, 'metrics', readdirSync(join(dir, 'metrics'))[0]!), 'utf8')
    expect(metrics).toContain('probe_ops_job_status{job="diagnose"} 1')
    // The secret stays out of everything the run wrote.
    for (const text of [result.stdout, result.stderr, readFileSync(join(dir, 'maintenance.log'), 'utf8'), metrics]) {
      expect(text).not.toContain(bed().postgres.password)
      expect(text).not.toContain(bed().redis.password)
    }
  })

  it('names the next command for a stopped service, and exits 1', async () => {
    const { docker } = bed()
    await dockerCli(docker, ['stop', '-t', '1', names.web])
    try {
      const { path } = writeConfig(settings)
      const result = await runCli(['diagnose', '--config', path, '--json', '--only', 'services'], env)
      expect(result.exitCode).toBe(1)
      const services = step(parseReport(result), 'services')
      expect(services.status).toBe('failed')
      expect(services.error).toMatchObject({ message: expect.stringMatching(/^web is exited/), hint: 'probe-ops recover web' })
      expect(services.findings).toEqual([
        { id: 'service-down:web', severity: 'critical', subject: 'web', message: expect.stringMatching(/^web is exited/), fix: 'probe-ops recover web' },
      ])
      const text = await runCli(['diagnose', '--config', path, '--only', 'services'], env)
      expect(text.stdout).toMatch(/\n {4}✖ critical: web is exited.*\n {6}→ probe-ops recover web\n/)
    } finally {
      await dockerCli(docker, ['start', names.web])
    }
  })

  it('turns a hung PostgreSQL into a red line within its timeout', async () => {
    const hung = await startHangingServer()
    try {
      const { path } = writeConfig(settings)
      // While the run waits on the hung server, no process's arguments show the password.
      // 3 s, not 1: the healthy checks beside the hung one must answer within it on a loaded machine.
      const running = runCli(['diagnose', '--config', path, '--json', '--check-timeout', '3'], { ...env, PGPORT: String(hung.port) })
      await new Promise((r) => setTimeout(r, 500))
      const { readdirSync: list, readFileSync: read } = await import('node:fs')
      const argv = list('/proc')
        .filter((p) => /^\d+$/.test(p))
        .map((pid) => {
          try {
            return read(`/proc/${pid}/cmdline`, 'utf8')
          } catch {
            return ''
          }
        })
      expect(argv.some((a) => a.includes('bin/run.js') && a.includes('diagnose'))).toBe(true)
      expect(argv.filter((a) => a.includes(bed().postgres.password))).toEqual([])
      const result = await running
      expect(result.exitCode).toBe(1)
      const report = parseReport(result)
      expectValidReport(report)
      const pg = step(report, 'postgres')
      expect(pg.status).toBe('failed')
      expect(pg.summary).toMatch(/accepted no query within [\d.]+ m?s|timed out/)
      const redis = step(report, 'redis')
      expect(redis.status, JSON.stringify(redis)).toBe('ok')
      expect(hung.accepted).toBeGreaterThan(0)
    } finally {
      await hung.close()
    }
  })

  it('reports a paused (SIGSTOPped) PostgreSQL as failed, not as a hang', async () => {
    const { postgres } = bed()
    const { path } = writeConfig(settings)
    pausePostgres(postgres)
    try {
      const result = await runCli(['diagnose', '--config', path, '--json', '--check-timeout', '1', '--only', 'postgres'], env)
      expect(result.exitCode).toBe(1)
      expect(step(parseReport(result), 'postgres').status).toBe('failed')
    } finally {
      resumePostgres(postgres)
    }
  })

  it('does not call a SIGSTOPped Redis running: its container runs, but it answers nothing', async () => {
    const { redis } = bed()
    const { path } = writeConfig(settings)
    process.kill(redis.pid, 'SIGSTOP')
    try {
      // Room for four containers' state from a Docker engine busy with other tests.
      const result = await runCli(['diagnose', '--config', path, '--json', '--check-timeout', '3', '--only', 'services'], env)
      expect(result.exitCode, result.stdout).toBe(1)
      const services = step(parseReport(result), 'services')
      expect(services.status).toBe('failed')
      expect(services.summary).toBe('4 of 4 running; 1 of them not serving')
      expect(services.error).toEqual({
        message: expect.stringMatching(/^redis is running but not answering within [\d.]+ m?s \(stopped, hung\?\)$/),
        hint: 'probe-ops recover redis',
      })
      expect((services.data!.services as { name: string; ready: boolean }[]).map((s) => [s.name, s.ready])).toEqual([
        ['management', true],
        ['web', true],
        ['postgres', true],
        ['redis', false],
      ])

      // maintain daily's services step says the same (a dry run: no alert pushed).
      const daily = writeConfig({ ...settings, diagnose: { checkTimeoutSeconds: 1 } })
      const maintain = await runCli(['maintain', 'daily', '--config', daily.path, '--json', '--only', 'services', '--dry-run'], env)
      expect(step(parseReport(maintain), 'services')).toMatchObject({
        status: 'failed',
        error: { message: expect.stringMatching(/^redis is running but not answering within 1 s \(stopped, hung\?\)$/), hint: 'probe-ops recover redis' },
      })
    } finally {
      process.kill(redis.pid, 'SIGCONT')
    }
  })

  it('reports a process-runtime Redis stopped by a signal as stopped, with the command to resume it', async () => {
    const own = await startRedis({ password: 'a-test-password' })
    try {
      const dir = tempDir('po-redis')
      const pidFile = join(dir, 'redis.pid')
      writeFileSync(pidFile, `${own.info.pid}\n`)
      const { path } = writeConfig({
        ...settings,
        services: { ...(settings.services as object), redis: { runtime: 'process', pidFile, start: [REDIS_SERVER, '--port', String(own.info.port)] } },
      })
      const redisEnv = { ...env, REDIS_URL: own.info.url }
      const healthy = await runCli(['diagnose', '--config', path, '--json', '--check-timeout', '3', '--only', 'services'], redisEnv)
      expect(step(parseReport(healthy), 'services').status, healthy.stdout).toBe('ok')
      process.kill(own.info.pid, 'SIGSTOP')
      try {
        const result = await runCli(['diagnose', '--config', path, '--json', '--check-timeout', '3', '--only', 'services'], redisEnv)
        expect(result.exitCode).toBe(1)
        const services = step(parseReport(result), 'services')
        expect(services.error, JSON.stringify(services)).toEqual({
          message: `redis is stopped by a signal (pid ${own.info.pid}, /proc state T): it holds its port and answers nothing`,
          hint: `resume it: kill -CONT ${own.info.pid}; or restart it: probe-ops recover redis`,
        })
        expect((services.data!.services as { name: string; stoppedBySignal?: boolean }[]).find((s) => s.name === 'redis')).toMatchObject({
          running: true,
          stoppedBySignal: true,
          ready: false,
        })
      } finally {
        process.kill(own.info.pid, 'SIGCONT')
      }
    } finally {
      await own.stop()
    }
  })

  it('reports refused ports, a missing Docker socket and a wrong password as failed steps', async () => {
    const refused = await startRefusedPort()
    const { path } = writeConfig(settings)
    const result = await runCli(['diagnose', '--config', path, '--json'], {
      ...env,
      PGPASSWORD: 'not-the-password-123',
      REDIS_URL: `redis://127.0.0.1:${refused}`,
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      ALERTMANAGER_URL: `http://127.0.0.1:${refused}`,
    })
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    expect(step(report, 'postgres').summary).toBe(`PostgreSQL rejected the credentials of user ${bed().postgres.user}`)
    expect(step(report, 'redis')).toMatchObject({ status: 'failed', error: { hint: 'Redis is down: run `probe-ops recover redis`' } })
    expect(step(report, 'services').error!.message).toMatch(/the Docker socket \/nonexistent\/docker\.sock does not exist/)
    expect(step(report, 'alerts').summary).toMatch(/AlertManager refused the connection/)
    expect(result.stdout + result.stderr).not.toContain('not-the-password-123')
  })

  it('bounds a Docker socket that accepts and never answers, and an overall --timeout', async () => {
    const { createServer: createNetServer } = await import('node:net')
    const socketPath = join(tempDir('po-sock'), 'docker.sock')
    const sockets: import('node:net').Socket[] = []
    const silent = createNetServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(socketPath, resolve))
    const hungHttp = await startHangingServer()
    try {
      const { path } = writeConfig(settings)
      const result = await runCli(['diagnose', '--config', path, '--json', '--check-timeout', '1', '--only', 'services,logs'], {
        ...env,
        DOCKER_HOST: `unix://${socketPath}`,
      })
      expect(result.exitCode).toBe(1)
      const report = parseReport(result)
      expect(step(report, 'services').error!.message).toMatch(/did not answer/)
      expect(sockets.length).toBeGreaterThan(0)

      // A check slower than the whole job's --timeout is cut off by it.
      const slow = writeConfig({ ...settings, services: { ...(settings.services as object), web: { container: names.web, url: hungHttp.url } } })
      const bounded = await runCli(['diagnose', '--config', slow.path, '--json', '--check-timeout', '30', '--timeout', '1', '--only', 'http'], env)
      expect(bounded.exitCode).toBe(1)
      const http = step(parseReport(bounded), 'http')
      expect(http).toMatchObject({
        status: 'failed',
        summary: "timed out: the job's --timeout of 1 s ran out",
        error: { hint: expect.stringMatching(/--timeout/) },
      })
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
      await hungHttp.close()
    }
  })

  it("counts errors by the log's own structure: JSON lines by their level, PostgreSQL entries with their statements, repeats as one", async () => {
    const { docker } = bed()
    const json = (level: string, module: string, message: string) => JSON.stringify({ timestamp: new Date().toISOString(), level, module, message })
    const management = await runSleeperContainer(docker, {
      name: uniqueName('management-json'),
      logLines: [
        json('INFO', 'uvicorn.error', 'Started server process [1]'),
        json('INFO', 'uvicorn.error', 'Application startup complete.'),
        json('INFO', 'uvicorn.access', '172.18.0.1:56844 - "GET /api/v1/errors HTTP/1.1" 200'),
        json('ERROR', 'app.db', 'database pool exhausted (waited 30.0 s)'),
        json('ERROR', 'app.db', 'database pool exhausted (waited 31.5 s)'),
        json('WARNING', 'app.scheduler', 'task 381 is late; last error: timeout'),
        json('ERROR', 'app.db', 'database pool exhausted (waited 30.2 s)'),
        json('INFO', 'app.worker', 'worker stopping'),
        'Traceback (most recent call last):',
        '  File "/app/worker.py", line 3, in <module>',
        '    main()',
        'RuntimeError: worker crashed',
      ],
    })
    containers.push(management)
    // A real PostgreSQL logging every statement, and the statement of each error.
    const postgres = await runPostgresContainer(docker, {
      name: uniqueName('pg-logging'),
      extraConf: { log_statement: "'all'", log_min_error_statement: "'error'", log_line_prefix: "'%m [%p] %q%u@%d '" },
    })
    containers.push(postgres)
    const client = pgClientConfig(postgres.info)
    await pgQuery(client, "SELECT 1 AS one,\n       'no error here' AS note")
    for (let i = 0; i < 3; i++) await expect(pgQuery(client, 'SELECT *\n  FROM no_such_table\n WHERE error = 1')).rejects.toThrow(/no_such_table/)

    const { path } = writeConfig({
      ...settings,
      diagnose: { errorLines: 20 },
      services: { ...(settings.services as object), management: { container: management.name }, postgres: { container: postgres.name } },
    })
    const result = await runCli(['diagnose', '--config', path, '--json', '--only', 'logs', '--since', '10m'], env)
    const logs = step(parseReport(result), 'logs')
    const perService = logs.data!.services as ServiceLogs[]
    const of = (name: string) => perService.find((s) => s.service === name) as Extract<ServiceLogs, { read: true }>

    // management: the three pool errors are one entry, the traceback another; INFO lines of the
    // uvicorn.error logger and a warning that mentions an error are not errors.
    expect(of('management')).toMatchObject({ read: true, errors: 4, distinct: 2, warnings: 1 })
    expect(of('management').entries).toEqual([
      expect.objectContaining({
        first: 'Traceback (most recent call last):',
        count: 1,
        lines: ['Traceback (most recent call last):', '  File "/app/worker.py", line 3, in <module>', '    main()', 'RuntimeError: worker crashed'],
      }),
      expect.objectContaining({
        first: expect.stringContaining('database pool exhausted (waited 30.2 s)'),
        count: 3,
        newestAt: expect.stringMatching(/^\d{4}-/),
      }),
    ])

    // postgres: one entry for the three failed statements, its STATEMENT and SQL lines with it; the
    // logged statement whose text says "error" is no error. Any other error is PostgreSQL's own
    // startup refusal (a connection tried while it started), a real FATAL.
    const pg = of('postgres')
    const missing = pg.entries.filter((e) => /ERROR: {2}relation "no_such_table" does not exist/.test(e.first))
    expect(missing).toEqual([expect.objectContaining({ count: 3 })])
    expect(missing[0]!.lines).toEqual([
      expect.stringMatching(/ERROR: {2}relation "no_such_table" does not exist at character \d+$/),
      expect.stringMatching(/ STATEMENT: {2}SELECT \*$/),
      '\t  FROM no_such_table',
      '\t WHERE error = 1',
    ])
    for (const other of pg.entries.filter((e) => !missing.includes(e))) expect(other.first).toMatch(/FATAL: {2}the database system is starting up/)
    expect(pg.errors).toBe(pg.entries.reduce((sum, e) => sum + e.count, 0))
    expect(JSON.stringify(pg.entries)).not.toContain('no error here')
    expect(logs.summary).toBe(`${4 + pg.errors} errors in the last 10m`)
  })

  it('never reports "0 errors" from logs it could not read: Docker unreachable, a missing log file; only read sources count', async () => {
    const socket = await deadSocket()
    const dir = tempDir('po-logs')
    const agentLog = join(dir, 'agent.log')
    writeFileSync(
      agentLog,
      `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', message: 'probe upload failed' })}\n${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', module: 'uvicorn.error', message: 'Started server process' })}\n`,
    )
    const { path } = writeConfig({
      ...settings,
      services: {
        ...(settings.services as object),
        agent: { runtime: 'process', pidFile: join(dir, 'agent.pid'), logFile: agentLog },
        worker: { runtime: 'process', pidFile: join(dir, 'worker.pid'), logFile: join(dir, 'missing', 'worker.log') },
      },
    })
    const result = await runCli(['diagnose', '--config', path, '--json', '--only', 'logs', '--since', '10m'], { ...env, DOCKER_HOST: `unix://${socket}` })
    expect(result.exitCode).toBe(0)
    const logs = step(parseReport(result), 'logs')
    expect(logs.status).toBe('warning')
    expect(logs.summary).toBe('1 error in the last 10m in the logs of agent; not read: management, web, postgres, redis, worker')
    const perService = logs.data!.services as ServiceLogs[]
    expect(perService.map((s) => [s.service, s.read])).toEqual([
      ['management', false],
      ['web', false],
      ['postgres', false],
      ['redis', false],
      ['agent', true],
      ['worker', false],
    ])
    expect(perService.find((s) => s.service === 'management')).toMatchObject({ error: `the Docker engine refused the connection at unix://${socket}` })
    // What was not read weighs more than the errors that were (medium against low), one finding per reason.
    expect(logs.findings!.map((f) => [f.severity, f.id, f.message])).toEqual([
      [
        'medium',
        'logs-not-read:management,web,postgres,redis',
        `logs of management, web, postgres, redis not read: the Docker engine refused the connection at unix://${socket}`,
      ],
      ['medium', 'logs-not-read:worker', `logs of worker not read: log file ${join(dir, 'missing', 'worker.log')} does not exist`],
      ['low', 'log-errors:agent', 'agent: 1 error in the last 10m'],
    ])
    expect(logs.error!.message).toMatch(/^logs of management, web, postgres, redis not read/)

    // With nothing readable at all, the step says so and counts nothing.
    const none = writeConfig(settings)
    const unread = step(
      parseReport(await runCli(['diagnose', '--config', none.path, '--json', '--only', 'logs'], { ...env, DOCKER_HOST: `unix://${socket}` })),
      'logs',
    )
    expect(unread).toMatchObject({ status: 'warning', summary: 'no service log read (management, web, postgres, redis)' })
    expect(JSON.stringify(unread)).not.toMatch(/\b0 error/)
  })

  it("says a unit's journal was not read when journalctl finds no journal, and counts it only when it answered", async () => {
    const journal = await journalAnswers()
    const { path } = writeConfig({
      ...settings,
      services: { ...(settings.services as object), agent: { runtime: 'systemd', unit: 'probe-ops-test-absent.service' } },
    })
    const logs = step(parseReport(await runCli(['diagnose', '--config', path, '--json', '--only', 'logs', '--since', '10m'], env)), 'logs')
    const agent = (logs.data!.services as ServiceLogs[]).find((s) => s.service === 'agent')
    if (journal.answers) {
      expect(agent).toMatchObject({ read: true, errors: 0 })
    } else {
      expect(agent).toMatchObject({ read: false, error: journal.why })
      expect(logs.summary).toMatch(/; not read: agent$/)
      expect(logs.findings).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: 'logs-not-read:agent', message: `logs of agent not read: ${journal.why}` })]),
      )
    }
  })

  it('shows what AlertManager has firing', async () => {
    const alertname = `ProbeOpsTest${Date.now()}`
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname, severity: 'warning', instance: 'bed' }, annotations: { summary: 'a test alert' } }]),
    })
    expect(response.ok).toBe(true)
    const { path } = writeConfig(settings)
    const result = await runCli(['diagnose', '--config', path, '--json', '--only', 'alerts'], env)
    const alerts = step(parseReport(result), 'alerts')
    expect(alerts.status).toBe('warning')
    expect(alerts.data!.firing).toEqual(expect.arrayContaining([expect.objectContaining({ alertname, severity: 'warning', summary: 'a test alert' })]))
  })
})
