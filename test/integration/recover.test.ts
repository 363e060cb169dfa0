import { renameSync, readFileSync, utimesSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import {
  bed,
  dockerCli,
  freePort,
  randomPassword,
  runCommandContainer,
  runPostgresContainer,
  runSleeperContainer,
  startAlertmanager,
  uniqueName,
  type AlertmanagerServer,
  type PostgresContainer,
  type RunningContainer,
} from '../bed/index.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { isRunning, startStranger } from '../helpers/processes.js'
import { tempDir } from '../helpers/temp.js'

const FAKE_HTTP = resolve(import.meta.dirname, '../../dist/sandbox/fake-http.js')

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id} in ${report.steps.map((s) => s.id).join(',')}`)
  return found
}

async function startedAt(name: string): Promise<string> {
  return (await dockerCli(bed().docker, ['inspect', '-f', '{{.State.StartedAt}}', name])).stdout.trim()
}

async function state(name: string): Promise<string> {
  return (await dockerCli(bed().docker, ['inspect', '-f', '{{.State.Status}}', name], { reject: false })).stdout.trim()
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

describe('probe-ops recover against a real Docker engine', () => {
  const containers: RunningContainer[] = []
  let pg: PostgresContainer
  let redisName: string
  let redisPort: number
  let redisPassword: string
  let managementName: string
  let health: Server
  let healthUrl: string
  let alertmanager: AlertmanagerServer['info']
  let stopAlertmanager: () => Promise<void>

  beforeAll(async () => {
    const { docker } = bed()
    const am = await startAlertmanager()
    alertmanager = am.info
    stopAlertmanager = () => am.stop()
    pg = await runPostgresContainer(docker, { name: uniqueName('postgres') })
    containers.push(pg)
    redisName = uniqueName('redis')
    redisPort = await freePort()
    redisPassword = randomPassword()
    containers.push(
      await runCommandContainer(docker, {
        name: redisName,
        cmd: ['/usr/bin/redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--requirepass', redisPassword],
      }),
    )
    managementName = uniqueName('management')
    containers.push(await runSleeperContainer(docker, { name: managementName, logLines: ['INFO management started'] }))
    // The management API's health: 200 only while its database answers, as the real one does.
    health = createServer((_req, res) => {
      void portOpen(pg.info.port).then((dbUp) => res.writeHead(dbUp ? 200 : 503).end(dbUp ? 'ok' : 'database unreachable'))
    })
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve))
    healthUrl = `http://127.0.0.1:${(health.address() as { port: number }).port}/api/v1/health`
  })

  afterAll(async () => {
    health?.close()
    await stopAlertmanager()
    for (const c of containers) await c.remove()
  })

  function config(services: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
    return writeConfig({
      host: `recover-${Date.now()}`,
      postgres: { host: '127.0.0.1', port: pg.info.port, user: 'postgres', database: 'postgres', connectTimeoutSeconds: 1 },
      alertmanager: { url: alertmanager.url },
      docker: { host: bed().docker.host },
      services: {
        web: { enabled: false },
        postgres: { container: pg.name, dataDir: '/data', readinessTimeoutSeconds: 30, stopGraceSeconds: 2 },
        redis: { container: redisName, readinessTimeoutSeconds: 10, stopGraceSeconds: 1 },
        management: { container: managementName, url: healthUrl, readinessTimeoutSeconds: 10, stopGraceSeconds: 1 },
        ...services,
      },
      ...extra,
    })
  }
  const env = () => ({ PGPASSWORD: pg.info.password, REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redisPort}` })

  it('starts a stopped PostgreSQL, waits for SELECT 1, and silences its alerts meanwhile', async () => {
    await dockerCli(bed().docker, ['stop', pg.name])
    const { path } = config()
    const result = await runCli(['recover', 'postgres', '--config', path, '--json'], env())
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    const recovered = step(report, 'postgres')
    expect(recovered.summary).toMatch(/^started; ready after/)
    const timeline = recovered.data!.timeline as { event: string; detail: string }[]
    expect(timeline.map((t) => t.event)).toEqual(['look', 'silence', 'start', 'ready', 'silence'])
    expect(await state(pg.name)).toBe('running')
    expect(await portOpen(pg.info.port)).toBe(true)
    const silences = (await (await fetch(`${alertmanager.url}/api/v2/silences`)).json()) as {
      createdBy: string
      status: { state: string }
      matchers: { name: string; value: string }[]
    }[]
    const ours = silences.filter((s) => s.createdBy === 'probe-ops' && s.matchers.some((m) => m.value === 'postgres'))
    expect(ours.length).toBeGreaterThan(0)
    expect(ours.every((s) => s.status.state === 'expired')).toBe(true)
  })

  it('leaves a ready service alone', async () => {
    const before = await startedAt(pg.name)
    const { path } = config()
    const result = await runCli(['recover', 'postgres', '--config', path, '--json'], env())
    expect(result.exitCode).toBe(0)
    expect(step(parseReport(result), 'postgres').summary).toMatch(/^ready .*nothing changed$/)
    expect(await startedAt(pg.name)).toBe(before)
  })

  it('shows the plan and changes nothing with --dry-run', async () => {
    await dockerCli(bed().docker, ['stop', redisName])
    const { path } = config()
    const result = await runCli(['recover', 'redis', '--config', path, '--json', '--dry-run'], env())
    expect(result.exitCode).toBe(0)
    expect(step(parseReport(result), 'redis').summary).toMatch(/^would start redis \(not ready\), then wait up to 10 s/)
    expect(await state(redisName)).toBe('exited')
    await dockerCli(bed().docker, ['start', redisName])
  })

  it('looks at a SIGSTOPped Redis as running but not answering, not as running', async () => {
    // The container's PID 1 is docker-init; Redis is its child.
    const init = (await dockerCli(bed().docker, ['inspect', '-f', '{{.State.Pid}}', redisName])).stdout.trim()
    const redisPid = Number(readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(' ')[0])
    process.kill(redisPid, 'SIGSTOP')
    try {
      const { path } = config()
      const result = await runCli(['recover', 'redis', '--config', path, '--json', '--dry-run'], env())
      expect(result.exitCode, result.stdout).toBe(0)
      const redis = step(parseReport(result), 'redis')
      expect(redis.summary).toMatch(/^would restart redis \(not ready\)/)
      const look = (redis.data!.timeline as { event: string; detail: string }[]).find((t) => t.event === 'look')!
      expect(look.detail).toMatch(/^running but not answering within 2 s \(stopped, hung\?\);/)
    } finally {
      process.kill(redisPid, 'SIGCONT')
    }
  })

  it('recovers the database first when management cannot reach it', async () => {
    await dockerCli(bed().docker, ['stop', pg.name])
    const { path } = config()
    const result = await runCli(['recover', 'management', '--config', path, '--json'], env())
    const report = parseReport(result)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((s) => s.id)).toEqual(['postgres', 'redis', 'management'])
    expect(step(report, 'postgres').summary).toMatch(/^started/)
    expect(step(report, 'redis').summary).toMatch(/nothing changed/)
    // Once its database is back, management answers its health check again.
    expect(step(report, 'management').status).toBe('ok')
  })

  it('--force restarts the services named, never their ready dependencies', async () => {
    const [postgresBefore, redisBefore, managementBefore] = [await startedAt(pg.name), await startedAt(redisName), await startedAt(managementName)]
    const { path } = config()
    const result = await runCli(['recover', 'management', '--force', '--config', path, '--json'], env())
    const report = parseReport(result)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(step(report, 'postgres').summary).toMatch(/^ready .*nothing changed$/)
    expect(step(report, 'redis').summary).toMatch(/^ready .*nothing changed$/)
    expect(step(report, 'management').summary).toMatch(/^restarted; ready after/)
    expect(await startedAt(pg.name)).toBe(postgresBefore)
    expect(await startedAt(redisName)).toBe(redisBefore)
    expect(await startedAt(managementName)).not.toBe(managementBefore)
  })

  it('never signals another program that a stale pid file names, and says why', async () => {
    const dir = tempDir('web')
    const pidFile = join(dir, 'web.pid')
    const logFile = join(dir, 'web.log')
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/`
    const { path } = config({
      web: {
        runtime: 'process',
        pidFile,
        logFile,
        url,
        start: [process.execPath, FAKE_HTTP, '--role', 'web', '--port', String(port), '--pid-file', pidFile, '--log-file', logFile],
        readinessTimeoutSeconds: 10,
        stopGraceSeconds: 1,
      },
    })
    // web is down; its pid file names a pid that `sleep` now has.
    const sleeper = await startStranger('sleep', ['1000'])
    // The same program as web's, another instance of it (another site's web), named by a pid file of an hour ago.
    const otherPort = await freePort()
    const otherWeb = await startStranger(process.execPath, [
      FAKE_HTTP,
      '--role',
      'web',
      '--port',
      String(otherPort),
      '--pid-file',
      join(dir, 'other.pid'),
      '--log-file',
      join(dir, 'other.log'),
    ])
    try {
      writeFileSync(pidFile, `${sleeper.pid}\n`)
      const first = await runCli(['recover', 'web', '--force', '--config', path, '--json'], env())
      const web = step(parseReport(first), 'web')
      expect(isRunning(sleeper.pid!)).toBe(true)
      expect(first.exitCode, JSON.stringify(web, null, 1)).toBe(0)
      const look = (web.data!.timeline as { event: string; detail: string }[]).find((t) => t.event === 'look')!
      expect(look.detail).toMatch(
        new RegExp(`^not running: its pid file names pid ${sleeper.pid} \\(sleep\\), which is not web: it does not run web's start command`),
      )
      expect(web.summary).toMatch(/^started; ready after/)
      expect((await fetch(url)).ok).toBe(true)
      const started = Number(readFileSync(pidFile, 'utf8'))
      expect(started).not.toBe(sleeper.pid)

      // probe-ops started it, so a restart stops it: its record matches.
      const restarted = await runCli(['recover', 'web', '--force', '--config', path, '--json'], env())
      expect(restarted.exitCode, restarted.stdout).toBe(0)
      expect(step(parseReport(restarted), 'web').summary).toMatch(/^restarted; ready after/)
      expect(isRunning(started)).toBe(false)

      // web stops; the pid its pid file named went to the other web since.
      const current = Number(readFileSync(pidFile, 'utf8'))
      process.kill(current, 'SIGTERM')
      for (let i = 0; i < 100 && isRunning(current); i++) await new Promise((r) => setTimeout(r, 50))
      writeFileSync(pidFile, `${otherWeb.pid}\n`)
      const anHourAgo = new Date(Date.now() - 3600_000)
      utimesSync(pidFile, anHourAgo, anHourAgo)
      const third = await runCli(['recover', 'web', '--force', '--config', path, '--json'], env())
      expect(isRunning(otherWeb.pid!)).toBe(true)
      expect(third.exitCode, third.stdout).toBe(0)
      const thirdLook = (step(parseReport(third), 'web').data!.timeline as { event: string; detail: string }[]).find((t) => t.event === 'look')!
      expect(thirdLook.detail).toMatch(
        new RegExp(`^not running: its pid file names pid ${otherWeb.pid} \\(node\\), which started after the pid file was written .*: the pid was reused`),
      )
    } finally {
      sleeper.kill('SIGKILL')
      otherWeb.kill('SIGKILL')
      const ours = Number(readFileSync(pidFile, 'utf8'))
      if (ours !== sleeper.pid && ours !== otherWeb.pid && isRunning(ours)) process.kill(ours, 'SIGTERM')
    }
  })

  it('does not restart a dependent when its dependency cannot be recovered', async () => {
    const before = await startedAt(managementName)
    const { path } = config(
      { postgres: { container: 'no-such-postgres', composeService: 'no-such-postgres' } },
      { postgres: { host: '127.0.0.1', port: await freePort(), connectTimeoutSeconds: 1 } },
    )
    const result = await runCli(['recover', 'management', '--config', path, '--json', '--force'], env())
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    expect(step(report, 'postgres')).toMatchObject({
      status: 'failed',
      error: {
        message: expect.stringMatching(/no container for postgres.*not recreated silently/),
        hint: 'recreate it from the compose file: docker-compose up -d no-such-postgres',
      },
    })
    expect(step(report, 'management')).toMatchObject({ status: 'failed', summary: 'not restarted: postgres could not be recovered' })
    expect(await startedAt(managementName)).toBe(before)
  })

  it('gives up on a service that never becomes ready, with its log tail and an alert', async () => {
    const name = uniqueName('web')
    containers.push(await runSleeperContainer(bed().docker, { name, logLines: ['INFO web starting'], errorLines: ['ERROR cannot bind :3000'] }))
    const dead = await freePort()
    const { path } = config({ web: { container: name, url: `http://127.0.0.1:${dead}/`, readinessTimeoutSeconds: 1, stopGraceSeconds: 1 } })
    const result = await runCli(['recover', 'web', '--config', path, '--json'], env())
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    const web = step(report, 'web')
    expect(web.summary).toMatch(/^web not ready after 2 attempts: .*connection refused/)
    expect(web.data!.logTail).toEqual(expect.arrayContaining(['ERROR cannot bind :3000']))
    expect((web.data!.timeline as { event: string }[]).map((t) => t.event)).toContain('retry')
    expect(report.alerts).toEqual([{ alertname: 'RecoveryFailed', severity: 'critical', delivered: true }])
  })

  it('stops waiting for a container that exits at once, instead of waiting out the deadline', async () => {
    const name = uniqueName('dies')
    containers.push(await runCommandContainer(bed().docker, { name, cmd: ['/bin/sh', '-c', 'echo "FATAL cannot read config"; exit 1'] }))
    const dead = await freePort()
    const { path } = config({ dies: { container: name, url: `http://127.0.0.1:${dead}/`, readinessTimeoutSeconds: 60, stopGraceSeconds: 1 } })
    const result = await runCli(['recover', 'dies', '--config', path, '--json'], env())
    expect(result.exitCode).toBe(1)
    const dies = step(parseReport(result), 'dies')
    expect(dies.summary).toMatch(/not ready after 2 attempts: .*exited/)
    // Each attempt was cut short by the exit, not by the 60 s deadline.
    const retry = (dies.data!.timeline as { event: string; detail: string }[]).find((t) => t.event === 'retry')!
    expect(retry.detail).toMatch(/it exited/)
    expect(dies.data!.logTail).toEqual(expect.arrayContaining(['FATAL cannot read config']))
  })

  it('refuses to restart PostgreSQL whose data directory is missing', async () => {
    await dockerCli(bed().docker, ['stop', pg.name])
    const moved = `${pg.info.dataDir}.moved`
    renameSync(pg.info.dataDir, moved)
    try {
      const { path } = config()
      const result = await runCli(['recover', 'postgres', '--config', path, '--json'], env())
      expect(result.exitCode).toBe(1)
      expect(step(parseReport(result), 'postgres').summary).toBe(`postgres not restarted: its data directory ${pg.info.dataDir} (mounted at /data) is missing`)
      expect(await state(pg.name)).toBe('exited')
    } finally {
      renameSync(moved, pg.info.dataDir)
      await dockerCli(bed().docker, ['start', pg.name])
    }
  })

  it('does not restart a crash-looping container without --force', async () => {
    const name = uniqueName('redis-loop')
    containers.push(await runCommandContainer(bed().docker, { name, cmd: ['/bin/sh', '-c', 'echo "FATAL config error"; exit 1'], restart: 'always' }))
    for (let i = 0; i < 100; i++) {
      const restarts = Number((await dockerCli(bed().docker, ['inspect', '-f', '{{.RestartCount}}', name])).stdout.trim())
      if (restarts >= 3) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const { path } = config({ loop: { container: name, readiness: 'running' } })
    const result = await runCli(['recover', 'loop', '--config', path, '--json'], env())
    expect(result.exitCode).toBe(1)
    const loop = step(parseReport(result), 'loop')
    expect(loop.summary).toMatch(/is in a crash loop \(\d+ restarts\); not restarted again/)
    expect(loop.error!.hint).toMatch(/--force/)
    expect(loop.data!.logTail).toEqual(expect.arrayContaining(['FATAL config error']))
  })

  it('answers bad input with the contract exit codes', async () => {
    const { path, dir } = config()
    const unknown = await runCli(['recover', 'mysql', '--config', path], env())
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/unknown service "mysql"\n\s+known services: management, postgres, redis/)

    const missing = config({}, { docker: { host: 'unix:///nonexistent/docker.sock' } })
    const gone = await runCli(['recover', 'redis', '--config', missing.path, '--json'], env())
    expect(gone.exitCode).toBe(1)
    expect(step(parseReport(gone), 'redis').summary).toBe('the Docker socket /nonexistent/docker.sock does not exist')

    // A second recover while one runs: exit 3.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((r) => holder.once('spawn', r))
    try {
      mkdirSync(join(dir, 'lock'), { recursive: true })
      writeFileSync(join(dir, 'lock/recover.lock'), JSON.stringify({ pid: holder.pid, command: 'recover', since: new Date().toISOString() }))
      const second = await runCli(['recover', 'redis', '--config', path], env())
      expect(second.exitCode).toBe(3)
      expect(second.stderr).toMatch(/recover is already running/)
    } finally {
      holder.kill('SIGKILL')
    }
  })
})
