import { createServer, type Server } from 'node:http'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report } from '../../src/report/model.js'
import { ALERTMANAGER_BASIC_AUTH, startAlertmanager, startRedis, type AlertmanagerServer, type RedisServer } from '../bed/index.js'
import { parseReport, runCli, writeConfig, type CliResult } from '../helpers/cli.js'
import { tempDir } from '../helpers/temp.js'

/**
 * Credentials inside URL settings (issue 11 item 12): probe-ops authenticates with them, and they
 * appear in none of what it shows or writes: stdout (text and --json), stderr, the report file,
 * the maintenance log, the metrics files, config show.
 */

const NO_SERVICES = { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } }

/** Everything a run left for anyone to read: its output and the files of its configuration's directory. */
function everythingShown(runs: CliResult[], dir: string): string {
  const files = [
    join(dir, 'maintenance.log'),
    join(dir, 'report.json'),
    ...(existsSync(join(dir, 'metrics')) ? readdirSync(join(dir, 'metrics')).map((f) => join(dir, 'metrics', f)) : []),
  ]
  return [...runs.flatMap((r) => [r.stdout, r.stderr]), ...files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'))].join('\n')
}

function step(report: Report, id: string) {
  return report.steps.find((s) => s.id === id)!
}

describe('credentials in URLs: used, and never shown', () => {
  const { user, password } = ALERTMANAGER_BASIC_AUTH
  let am: AlertmanagerServer
  let health: Server
  let healthUrl: string
  const healthPassword = 'W3b-Health-Pass'
  const healthToken = 'T0ken-Value-42'

  beforeAll(async () => {
    // A real AlertManager that refuses requests without the password (its web.config.file).
    am = await startAlertmanager({ basicAuth: true })
    // A health endpoint behind basic auth and a token, as a management API behind a proxy.
    health = createServer((req, res) => {
      const expected = `Basic ${Buffer.from(`probe:${healthPassword}`).toString('base64')}`
      const ok = req.headers.authorization === expected && req.url === `/health?token=${healthToken}`
      res.writeHead(ok ? 200 : 401).end(ok ? 'ok' : 'who are you?')
    })
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve))
    healthUrl = `http://probe:${healthPassword}@127.0.0.1:${(health.address() as { port: number }).port}/health?token=${healthToken}`
  })

  afterAll(async () => {
    await am?.stop()
    await new Promise((resolve) => health?.close(resolve))
  })

  it('sends a test alert through an AlertManager that wants a password given in its URL, which appears nowhere', async () => {
    const url = `http://${user}:${password}@127.0.0.1:${am.info.port}`
    const { path, dir } = writeConfig({ host: 'secrets', alertmanager: { url }, services: NO_SERVICES })
    const reportFile = join(dir, 'report.json')
    const json = await runCli(['alert', 'test', '--config', path, '--json', '--report-file', reportFile])
    const report = parseReport(json)
    expect(json.exitCode, json.stdout + json.stderr).toBe(0)
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['send', 'ok'],
      ['confirm', 'ok'],
      ['resolve', 'ok'],
    ])
    expect(report.alerts).toEqual([{ alertname: 'ProbeOpsTestAlert', severity: 'info', delivered: true }])
    expect(JSON.stringify(step(report, 'send').data)).toContain(`127.0.0.1:${am.info.port}`)
    const text = await runCli(['alert', 'test', '--config', path])
    expect(text.exitCode, text.stdout).toBe(0)
    const alerts = await runCli(['diagnose', '--config', path, '--only', 'alerts', '--report-file', reportFile])
    expect(alerts.exitCode, alerts.stdout).toBe(0)
    const show = await runCli(['config', 'show', '--config', path])
    expect(show.stdout).toContain(`url: http://${user}:[redacted]@127.0.0.1:${am.info.port}`)
    const showJson = await runCli(['config', 'show', '--config', path, '--json'])

    const shown = everythingShown([json, text, alerts, show, showJson], dir)
    expect(readFileSync(join(dir, 'maintenance.log'), 'utf8')).toMatch(/"module"/)
    expect(readdirSync(join(dir, 'metrics')).length).toBeGreaterThan(0)
    expect(shown).not.toContain(password)
  })

  it('says a refused or missing password without showing the one it sent', async () => {
    const wrongPassword = 'Wr0ng-Al3rt-Pass'
    const wrong = writeConfig({ alertmanager: { url: `http://${user}:${wrongPassword}@127.0.0.1:${am.info.port}` }, services: NO_SERVICES })
    const refused = await runCli(['alert', 'test', '--config', wrong.path, '--json', '--report-file', join(wrong.dir, 'report.json')])
    expect(refused.exitCode).toBe(1)
    expect(step(parseReport(refused), 'send').summary).toMatch(
      new RegExp(`POST http://127\\.0\\.0\\.1:${am.info.port}/api/v2/alerts answered 401 \\(the user or password was refused\\)`),
    )
    const text = await runCli(['alert', 'test', '--config', wrong.path])
    expect(everythingShown([refused, text], wrong.dir)).not.toContain(wrongPassword)

    const none = writeConfig({ alertmanager: { url: `http://127.0.0.1:${am.info.port}` }, services: NO_SERVICES })
    const unauthenticated = await runCli(['alert', 'test', '--config', none.path, '--json'])
    expect(step(parseReport(unauthenticated), 'send').summary).toMatch(/answered 401 \(it wants a user and password\)/)
  })

  it('takes the password from alertmanager.passwordFile instead', async () => {
    const { path, dir } = writeConfig({})
    const passwordFile = join(dir, 'alertmanager-password')
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
    writeFileSync(
      path,
      JSON.stringify({
        log: { file: join(dir, 'maintenance.log') },
        lock: { dir: join(dir, 'lock') },
        metrics: { textfileDir: join(dir, 'metrics') },
        services: NO_SERVICES,
        alertmanager: { url: `http://127.0.0.1:${am.info.port}`, user, passwordFile },
      }),
    )
    const result = await runCli(['alert', 'test', '--config', path, '--json'])
    expect(result.exitCode, result.stdout).toBe(0)
    const show = await runCli(['config', 'show', '--config', path])
    expect(show.stdout).toContain(`passwordFile: ${passwordFile}`)
    expect(everythingShown([result, show], dir)).not.toContain(password)
  })

  it('checks a health URL with a password and a token, and shows neither', async () => {
    const { path, dir } = writeConfig({ services: { ...NO_SERVICES, web: { url: healthUrl } } })
    const reportFile = join(dir, 'report.json')
    const json = await runCli(['diagnose', '--config', path, '--only', 'http', '--json', '--report-file', reportFile])
    const report = parseReport(json)
    expect(json.exitCode, json.stdout).toBe(0)
    expect(step(report, 'http').status).toBe('ok')
    expect(JSON.stringify(step(report, 'http'))).toContain('token=[redacted]')
    const text = await runCli(['diagnose', '--config', path, '--only', 'http'])
    expect(text.stdout).toMatch(/web http:\/\/127\.0\.0\.1:\d+\/health\?token=\[redacted\] 200 in/)
    const shown = everythingShown([json, text, await runCli(['config', 'show', '--config', path])], dir)
    expect(shown).not.toContain(healthPassword)
    expect(shown).not.toContain(healthToken)
  })
})

describe('a Redis 6 ACL user in the redis URL: signed in as, and its password never shown', () => {
  const aclPassword = 'Pr0be-Acl-Pass'
  let redis: RedisServer

  beforeAll(async () => {
    // The default user has a password of its own: signing in as it with the ACL user's fails.
    redis = await startRedis({ password: 'D3fault-Pass', users: [`probe on >${aclPassword} ~* +@all`] })
  })

  afterAll(async () => {
    await redis?.stop()
  })

  it('authenticates as the user of redis://user:password@host, in the file or in REDIS_URL', async () => {
    const url = `redis://probe:${aclPassword}@127.0.0.1:${redis.info.port}`
    const { path, dir } = writeConfig({ redis: { url }, services: NO_SERVICES })
    const json = await runCli(['diagnose', '--config', path, '--only', 'redis', '--json', '--report-file', join(dir, 'report.json')])
    expect(json.exitCode, json.stdout + json.stderr).toBe(0)
    expect(step(parseReport(json), 'redis').status).toBe('ok')
    const text = await runCli(['diagnose', '--config', path, '--only', 'redis'])
    expect(text.exitCode, text.stdout).toBe(0)
    // The user is shown (and fed back, configures the same), the password never.
    const show = await runCli(['config', 'show', '--config', path])
    expect(show.stdout).toContain(`url: redis://probe@127.0.0.1:${redis.info.port}`)

    const fromEnvironment = writeConfig({ services: NO_SERVICES })
    const environment = await runCli(['diagnose', '--config', fromEnvironment.path, '--only', 'redis', '--json'], { REDIS_URL: url })
    expect(environment.exitCode, environment.stdout + environment.stderr).toBe(0)
    expect(everythingShown([json, text, show, environment], dir) + everythingShown([], fromEnvironment.dir)).not.toContain(aclPassword)
  })

  it('takes the password from redis.passwordFile for the user in the URL', async () => {
    const passwordFile = join(tempDir('redis-password'), 'password')
    writeFileSync(passwordFile, `${aclPassword}\n`, { mode: 0o600 })
    const { path, dir } = writeConfig({ services: NO_SERVICES, redis: { url: `redis://probe@127.0.0.1:${redis.info.port}`, passwordFile } })
    const result = await runCli(['diagnose', '--config', path, '--only', 'redis', '--json'])
    expect(result.exitCode, result.stdout + result.stderr).toBe(0)
    // Without the user, the same password is the default user's, which is refused.
    writeFileSync(path, JSON.stringify({ services: NO_SERVICES, redis: { url: `redis://127.0.0.1:${redis.info.port}`, passwordFile } }))
    const refused = await runCli(['diagnose', '--config', path, '--only', 'redis', '--json'])
    expect(refused.exitCode).toBe(1)
    expect(step(parseReport(refused), 'redis').summary).toMatch(/rejected the password/)
    expect(everythingShown([result, refused], dir)).not.toContain(aclPassword)
  })
})
