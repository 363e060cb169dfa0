import { execFileSync } from 'node:child_process'
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MAX_CONFIG_BYTES, loadConfig, parseConfigText, resolveConfig } from '../../src/config/load.js'
import { renderConfig, showConfig } from '../../src/config/show.js'
import { UsageError } from '../../src/errors.js'
import { tempDir } from '../helpers/temp.js'

function errorOf(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return error as UsageError
  }
  throw new Error('expected a UsageError')
}

const noEnv = {}

describe('configuration', () => {
  it('has defaults that match the guide deployment', () => {
    const config = resolveConfig(parseConfigText('', 'x'), null, noEnv)
    expect(config.postgres).toMatchObject({ host: 'localhost', port: 5432, user: 'postgres', database: 'network_probe' })
    expect(config.redis.url).toBe('redis://localhost:6379')
    expect(config.alertmanager.url).toBe('http://localhost:9093')
    expect(config.docker.host).toBe('unix:///var/run/docker.sock')
    expect(config.services.map((s) => s.name)).toEqual(['management', 'web', 'postgres', 'redis'])
    const management = config.services.find((s) => s.name === 'management')!
    expect(management).toMatchObject({
      runtime: 'docker',
      container: 'management',
      readiness: 'http',
      url: 'http://localhost:8000/api/v1/health',
      dependsOn: ['postgres', 'redis'],
    })
    expect(config.log.file).toBe('/var/log/network-probe/maintenance.log')
    expect(config.disk).toMatchObject({ warningPercent: 80, criticalPercent: 90 })
  })

  it('names the line and key of an unknown key', () => {
    const error = errorOf(() => parseConfigText('postgres:\n  host: db\n  hots: x\n', 'site.yaml'))
    expect(error.message).toBe('site.yaml:3: unknown key "postgres.hots"')
  })

  it('names the line and key of a wrong type', () => {
    const error = errorOf(() => parseConfigText('redis:\n  url: redis://r:6379\npostgres:\n  port: "five"\n', 'site.yaml'))
    expect(error.message).toMatch(/^site\.yaml:4: "postgres\.port": Expected number, received string/)
  })

  it('names the line of bad YAML', () => {
    const error = errorOf(() => parseConfigText('postgres:\n  host: [unclosed\nredis: {}\n', 'site.yaml'))
    expect(error.message).toMatch(/^site\.yaml:\d+: invalid YAML/)
  })

  it('rejects a duplicated key and a top level that is not a mapping', () => {
    expect(errorOf(() => parseConfigText('host: a\nhost: b\n', 'f')).message).toMatch(/^f:2: invalid YAML/)
    expect(errorOf(() => parseConfigText('- a\n- b\n', 'f')).message).toMatch(/mapping/)
  })

  it('says when the file is missing or is not a file', () => {
    const dir = tempDir('po-config')
    expect(errorOf(() => loadConfig(join(dir, 'nope.yaml'), noEnv)).message).toMatch(/does not exist/)
    mkdirSync(join(dir, 'a-dir.yaml'))
    expect(errorOf(() => loadConfig(join(dir, 'a-dir.yaml'), noEnv)).message).toMatch(/a-dir\.yaml is a directory, not a regular file/)
  })

  it('takes the file from $PROBE_OPS_CONFIG when --config is not given', () => {
    const dir = tempDir('po-config')
    writeFileSync(join(dir, 'c.yaml'), 'host: from-env-file\n')
    expect(loadConfig(undefined, { PROBE_OPS_CONFIG: join(dir, 'c.yaml') }).host).toBe('from-env-file')
  })

  it('honours the usual connection variables, the file winning', () => {
    const env = {
      PGHOST: 'pg.example',
      PGPORT: '6543',
      PGUSER: 'ops',
      PGPASSWORD: 's3cret-pg',
      PGDATABASE: 'np',
      REDIS_URL: 'redis://:s3cret-redis@cache:6380/2',
      DOCKER_HOST: 'tcp://127.0.0.1:2375',
      ALERTMANAGER_URL: 'http://am:9093/',
    }
    const config = resolveConfig(parseConfigText('postgres:\n  port: 7000\n', 'f'), null, env)
    expect(config.postgres).toMatchObject({ host: 'pg.example', port: 7000, user: 'ops', database: 'np' })
    expect(config.postgres.password?.reveal()).toBe('s3cret-pg')
    expect(config.redis.url).toBe('redis://cache:6380/2')
    expect(config.redis.password?.reveal()).toBe('s3cret-redis')
    expect(config.docker.host).toBe('tcp://127.0.0.1:2375')
    expect(config.alertmanager.url).toBe('http://am:9093')
  })

  it('reads DATABASE_URL, and rejects a malformed one', () => {
    const config = resolveConfig(parseConfigText('', 'f'), null, { DATABASE_URL: 'postgresql://app:p%40ss@db:5433/probe' })
    expect(config.postgres).toMatchObject({ host: 'db', port: 5433, user: 'app', database: 'probe' })
    expect(config.postgres.password?.reveal()).toBe('p@ss')
    expect(errorOf(() => resolveConfig(parseConfigText('', 'f'), null, { DATABASE_URL: 'mysql://x' })).message).toMatch(/DATABASE_URL/)
  })

  it('reads passwords from files and never shows them', () => {
    const dir = tempDir('po-config')
    writeFileSync(join(dir, 'pg'), 'file-password\n', { mode: 0o600 })
    const config = resolveConfig(parseConfigText(`postgres:\n  passwordFile: ${join(dir, 'pg')}\n`, 'f'), null, { PGPASSWORD: 'env-password' })
    expect(config.postgres.password?.reveal()).toBe('file-password')
    const shown = renderConfig(config, 'yaml')
    expect(shown).not.toContain('file-password')
    expect(shown).toContain(`passwordFile: ${join(dir, 'pg')}`)
    expect(JSON.stringify(config)).not.toContain('file-password')
    expect(String(config.postgres.password)).toBe('[redacted]')
    expect(errorOf(() => resolveConfig(parseConfigText(`redis:\n  passwordFile: ${join(dir, 'missing')}\n`, 'f'), null, noEnv)).message).toMatch(
      /redis\.passwordFile/,
    )
  })

  it('merges service overrides into the defaults and checks dependencies', () => {
    const config = resolveConfig(
      parseConfigText('services:\n  web:\n    enabled: false\n  management:\n    runtime: systemd\n  agent:\n    container: probe-agent\n', 'f'),
      null,
      noEnv,
    )
    expect(config.services.map((s) => s.name)).toEqual(['management', 'postgres', 'redis', 'agent'])
    expect(config.services[0]).toMatchObject({ runtime: 'systemd', unit: 'network-probe-management.service', url: 'http://localhost:8000/api/v1/health' })
    expect(config.services[3]).toMatchObject({ container: 'probe-agent', readiness: 'running' })
    expect(errorOf(() => resolveConfig(parseConfigText('services:\n  management:\n    dependsOn: [mysql]\n', 'f'), null, noEnv)).message).toMatch(/"mysql"/)
    expect(errorOf(() => resolveConfig(parseConfigText('services:\n  x:\n    readiness: http\n', 'f'), null, noEnv)).message).toMatch(/needs a url/)
  })
})

describe('configuration: bounded input', () => {
  it('refuses what is no configuration file before reading it: a device, a FIFO, more than 1 MiB', () => {
    const dir = tempDir('po-config')
    expect(errorOf(() => loadConfig('/dev/zero', noEnv)).message).toBe('config file /dev/zero is a character device, not a regular file')
    const fifo = join(dir, 'config.fifo')
    execFileSync('mkfifo', [fifo])
    // A FIFO nobody writes to: an open() would never return.
    expect(errorOf(() => loadConfig(fifo, noEnv)).message).toBe(`config file ${fifo} is a FIFO (named pipe), not a regular file`)
    const big = join(dir, 'big.yaml')
    writeFileSync(big, `host: x\n${'#'.repeat(MAX_CONFIG_BYTES)}\n`)
    const tooBig = errorOf(() => loadConfig(big, noEnv))
    expect(tooBig.message).toBe(`config file ${big} is larger than 1 MiB, more than any configuration file`)
    expect(tooBig.hint).toMatch(/is it the right file/)
  })

  it('refuses a password file that is a device or a FIFO, in one line naming the key', () => {
    const dir = tempDir('po-config')
    const fifo = join(dir, 'password.fifo')
    execFileSync('mkfifo', [fifo])
    expect(errorOf(() => resolveConfig(parseConfigText('postgres:\n  passwordFile: /dev/zero\n', 'f'), null, noEnv)).message).toBe(
      'postgres.passwordFile: /dev/zero is a character device, not a regular file',
    )
    expect(errorOf(() => resolveConfig(parseConfigText(`redis:\n  passwordFile: ${fifo}\n`, 'f'), null, noEnv)).message).toBe(
      `redis.passwordFile: ${fifo} is a FIFO (named pipe), not a regular file`,
    )
    const long = join(dir, 'long')
    writeFileSync(long, 'x'.repeat(65 * 1024))
    expect(errorOf(() => resolveConfig(parseConfigText(`alertmanager:\n  user: ops\n  passwordFile: ${long}\n`, 'f'), null, noEnv)).message).toBe(
      `alertmanager.passwordFile: ${long} is larger than 64 KiB, more than any password file`,
    )
  })

  it('names the allowed range of every timeout, and refuses one that would overflow a timer', () => {
    expect(errorOf(() => parseConfigText('diagnose:\n  checkTimeoutSeconds: 2147484\n', 'f')).message).toBe(
      'f:2: "diagnose.checkTimeoutSeconds": must be between 0.1 and 3600 seconds',
    )
    expect(errorOf(() => parseConfigText('postgres:\n  statementTimeoutSeconds: 0\n', 'f')).message).toBe(
      'f:2: "postgres.statementTimeoutSeconds": must be between 0.1 and 86400 seconds',
    )
    expect(errorOf(() => parseConfigText('retention:\n  pauseMs: 9999999999\n', 'f')).message).toBe(
      'f:2: "retention.pauseMs": must be between 0 and 600000 milliseconds',
    )
    expect(errorOf(() => parseConfigText('alerts:\n  ttlHours: 1e300\n', 'f')).message).toBe(
      'f:2: "alerts.ttlHours": must be between 0.0002777777777777778 and 8760 hours',
    )
    expect(errorOf(() => parseConfigText('services:\n  web:\n    readinessTimeoutSeconds: .inf\n', 'f')).message).toBe(
      'f:3: "services.web.readinessTimeoutSeconds": must be between 0.1 and 86400 seconds',
    )
  })

  it('reads durations in the grammar of the flags: diagnose.since takes 1w as --since does', () => {
    const config = resolveConfig(parseConfigText('diagnose:\n  since: 1w\nperformance:\n  window: 1h30m\n', 'f'), null, noEnv)
    expect(config.diagnose.sinceMs).toBe(604_800_000)
    expect(config.performance.windowMs).toBe(5_400_000)
    expect(resolveConfig(parseConfigText('diagnose:\n  since: 3600\n', 'f'), null, noEnv).diagnose.sinceMs).toBe(3_600_000)
    expect(errorOf(() => parseConfigText('diagnose:\n  since: yesterday\n', 'f')).message).toMatch(
      /^f:2: "diagnose\.since": is not a duration: use a number with a unit \(ms, s, m, h, d, w\)/,
    )
    expect(errorOf(() => parseConfigText('performance:\n  window: 500ms\n', 'f')).message).toBe('f:2: "performance.window": must be between 1s and 365d')
  })

  it('takes aliases, but not a cycle or an alias bomb', () => {
    const config = parseConfigText('disk:\n  paths: &paths [/, /var]\nbackup:\n  configPaths: *paths\n', 'f')
    expect(config.backup.configPaths).toEqual(['/', '/var'])
    expect(errorOf(() => parseConfigText('a: &x\n  b: *x\n', 'f')).message).toMatch(
      /^f:1: invalid YAML: an alias \(\*name\) refers to a mapping or sequence that contains it/,
    )
    const levels = [
      'l0: &l0 [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from({ length: 9 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`),
    ]
    expect(errorOf(() => parseConfigText(`${levels.join('\n')}\n`, 'f')).message).toMatch(
      /invalid YAML: the aliases \(\*name\) expand to more than 1,000,000 values/,
    )
    expect(errorOf(() => parseConfigText('host: a\n---\nhost: b\n', 'f')).message).toMatch(/^f:2: invalid YAML: more than one YAML document/)
  })

  it('finds the line of a duplicated key among thousands, in linear time', () => {
    const services = Array.from({ length: 5000 }, (_, i) => `  s${i}:\n    unit: s${i}.service\n`).join('')
    expect(errorOf(() => parseConfigText(`services:\n${services}  s17:\n    unit: again\n`, 'f')).message).toMatch(
      /^f:10002: invalid YAML: duplicated mapping key/,
    )
    expect(errorOf(() => parseConfigText(`services:\n${services}  s5000:\n    unti: typo\n`, 'f')).message).toBe('f:10003: unknown key "services.s5000.unti"')
  })
})

describe('configuration: credentials in URLs', () => {
  it('takes the password out of an HTTP URL and keeps it as a Secret', () => {
    const config = resolveConfig(
      parseConfigText('alertmanager:\n  url: http://admin:S3cret%21@am:9093/\nservices:\n  web:\n    url: http://probe:W3b@web:3000/health?token=T0k\n', 'f'),
      null,
      noEnv,
    )
    expect(config.alertmanager.url).toBe('http://am:9093')
    expect(config.alertmanager.credentials?.user).toBe('admin')
    expect(config.alertmanager.credentials?.password.reveal()).toBe('S3cret!')
    const web = config.services.find((s) => s.name === 'web')!
    expect(web.url).toBe('http://web:3000/health?token=T0k')
    expect(web.credentials?.password.reveal()).toBe('W3b')
    const fromEnv = resolveConfig(parseConfigText('', 'f'), null, { ALERTMANAGER_URL: 'http://ops:E@am:9093', PROMETHEUS_URL: 'http://p:Q@prom:9090' })
    expect(fromEnv.alertmanager).toMatchObject({ url: 'http://am:9093', credentials: { user: 'ops' } })
    expect(fromEnv.prometheus.credentials?.password.source).toBe('PROMETHEUS_URL')
    expect(JSON.stringify(config)).not.toMatch(/S3cret|W3b/)
  })

  it('reads user + passwordFile, and says what is missing', () => {
    const dir = tempDir('po-config')
    writeFileSync(join(dir, 'prom'), 'from-file\n')
    const config = resolveConfig(
      parseConfigText(`prometheus:\n  url: http://prom:9090\n  user: reader\n  passwordFile: ${join(dir, 'prom')}\n`, 'f'),
      null,
      noEnv,
    )
    expect(config.prometheus.credentials).toMatchObject({ user: 'reader', passwordFile: join(dir, 'prom') })
    expect(config.prometheus.credentials?.password.reveal()).toBe('from-file')
    expect(errorOf(() => resolveConfig(parseConfigText(`alertmanager:\n  passwordFile: ${join(dir, 'prom')}\n`, 'f'), null, noEnv)).message).toBe(
      'alertmanager.passwordFile needs a user: set alertmanager.user',
    )
    expect(errorOf(() => resolveConfig(parseConfigText('services:\n  agent:\n    user: x\n', 'f'), null, noEnv)).message).toMatch(
      /services\.agent: user is for the health URL, and there is none/,
    )
  })
})

describe('configuration: certificate endpoints', () => {
  it('takes HOST:PORT or { host, port, serverName }, and names the problem of either', () => {
    const config = resolveConfig(
      parseConfigText(
        'certificates:\n  endpoints:\n    - api.example.com\n    - { host: 10.0.0.5, port: 8443, serverName: api.example.com }\n    - { host: "[::1]" }\n',
        'f',
      ),
      null,
      noEnv,
    )
    expect(config.certificates.endpoints).toEqual([
      { host: 'api.example.com', port: 443 },
      { host: '10.0.0.5', port: 8443, serverName: 'api.example.com' },
      { host: '::1', port: 443 },
    ])
    expect(errorOf(() => parseConfigText('certificates:\n  endpoints:\n    - ok.example\n    - bad:0\n', 'f')).message).toMatch(
      /^f:4: "certificates\.endpoints\.1": HOST or HOST:PORT/,
    )
    expect(errorOf(() => parseConfigText('certificates:\n  endpoints:\n    - host: 10.0.0.5\n      serverName: "not a name"\n', 'f')).message).toMatch(
      /^f:4: "certificates\.endpoints\.0\.serverName": a DNS name/,
    )
    expect(errorOf(() => parseConfigText('certificates:\n  endpoints:\n    - host: a.example:443\n', 'f')).message).toMatch(
      /^f:3: "certificates\.endpoints\.0\.host": a host name or address .* without a port/,
    )
  })
})

describe('config show', () => {
  const rich = (dir: string) => `
host: probe-01
runtime: systemd
docker:
  host: tcp://127.0.0.1:2375
  composeProject: network-probe
postgres:
  host: db.internal
  port: 6543
  passwordFile: ${join(dir, 'pg')}
  sslmode: require
  statementTimeoutSeconds: 60
redis:
  url: redis://:R3dis@cache:6380/2
alertmanager:
  url: http://admin:Al3rt@am.internal:9093
  timeoutSeconds: 2.5
prometheus:
  url: http://prom.internal:9090/?token=Pr0m
services:
  web:
    enabled: false
  management:
    runtime: docker
    url: http://probe:M4n@mgmt:8000/api/v1/health
    silences: ['alertname="X"']
  agent:
    runtime: process
    pidFile: /run/agent.pid
    start: [/usr/bin/agent, --flag]
    stopSignal: SIGINT
    readinessTimeoutSeconds: 90
diagnose:
  since: 2h30m
  checkTimeoutSeconds: 3
performance:
  window: 1w
certificates:
  files: [/etc/ssl/a.pem, { path: /etc/ssl/b.pem, key: /etc/ssl/b.key }]
  endpoints: [api.example.com:8443, { host: 10.0.0.5, serverName: api.example.com }]
  warningDays: 21
security:
  allowedPorts: [22, tcp/8080, udp/123]
  windowHours: 12
backup:
  keep: { daily: 3 }
`

  it('prints the file schema, which parses back to the same configuration, secrets redacted', () => {
    const dir = tempDir('po-show')
    writeFileSync(join(dir, 'pg'), 'Pg-S3cret\n')
    writeFileSync(join(dir, 'probe-ops.yaml'), rich(dir))
    const env = { PGUSER: 'ops', PGPASSWORD: 'ignored-as-the-file-names-one' }
    const config = loadConfig(join(dir, 'probe-ops.yaml'), env)
    const shown = renderConfig(config, 'yaml')
    for (const secret of ['Pg-S3cret', 'R3dis', 'Al3rt', 'Pr0m', 'M4n', 'ignored-as']) expect(shown).not.toContain(secret)
    expect(shown).toMatch(/^# probe-ops: the effective configuration, from .*probe-ops\.yaml, the defaults and the environment\./)
    expect(shown).toContain('#   redis password: from redis.url')
    expect(shown).toContain('url: http://admin:[redacted]@am.internal:9093')
    expect(shown).toContain('url: http://prom.internal:9090/?token=[redacted]')
    expect(shown).toContain('since: 2h30m')
    expect(shown).not.toMatch(/timeoutMs|sinceMs|source: null/)

    // Fed back, it is a valid configuration, and the same one.
    writeFileSync(join(dir, 'shown.yaml'), shown)
    const again = loadConfig(join(dir, 'shown.yaml'), {})
    expect(renderConfig(again, 'json')).toBe(renderConfig(config, 'json'))
    expect(again.services.map((s) => s.name)).toEqual(['management', 'postgres', 'redis', 'agent'])
    expect(again.postgres.password?.reveal()).toBe('Pg-S3cret')
    expect(again.alertmanager.credentials?.user).toBe('admin')
    expect(again.certificates.endpoints[1]).toEqual({ host: '10.0.0.5', port: 443, serverName: 'api.example.com' })

    // --json is the same document, also a valid configuration.
    writeFileSync(join(dir, 'shown.json'), renderConfig(config, 'json'))
    expect(renderConfig(loadConfig(join(dir, 'shown.json'), {}), 'json')).toBe(renderConfig(config, 'json'))
  })

  it('keeps user, passwordFile and a password-less user apart from a password in the URL', () => {
    const dir = tempDir('po-show')
    writeFileSync(join(dir, 'am'), 'Am-S3cret\n')
    const text = `alertmanager:\n  url: http://am:9093\n  user: probe\n  passwordFile: ${join(dir, 'am')}\nprometheus:\n  url: http://prom:9090\n  user: reader\nservices:\n  web:\n    url: http://w:W3b@web:3000/\n`
    const config = resolveConfig(parseConfigText(text, 'f'), null, {})
    const { document } = showConfig(config)
    expect(document.alertmanager).toEqual({ url: 'http://am:9093', user: 'probe', passwordFile: join(dir, 'am'), timeoutSeconds: 5 })
    expect(document.prometheus).toEqual({ url: 'http://prom:9090', user: 'reader', timeoutSeconds: 5 })
    expect(document.services?.web?.url).toBe('http://w:[redacted]@web:3000/')
    const again = resolveConfig(parseConfigText(renderConfig(config, 'yaml'), 'shown'), null, {})
    expect(renderConfig(again, 'json')).toBe(renderConfig(config, 'json'))
    expect(again.alertmanager.credentials?.password.reveal()).toBe('Am-S3cret')
  })

  it('names where an environment password comes from, without it', () => {
    const shown = renderConfig(
      resolveConfig(parseConfigText('', 'f'), null, { PGPASSWORD: 'Env-S3cret', DATABASE_URL: 'postgres://u:Url-S3cret@db/x' }),
      'yaml',
    )
    expect(shown).not.toMatch(/Env-S3cret|Url-S3cret/)
    expect(shown).toContain('#   postgres password: from PGPASSWORD')
    expect(shown).toContain('(no configuration file)')
  })
})
