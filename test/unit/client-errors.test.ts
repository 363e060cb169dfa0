import { ReplyError } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig } from '../../src/config/load.js'
import { renderConfig, showConfig } from '../../src/config/show.js'
import { TimeoutError, type SystemErrorCode, type SystemName } from '../../src/errors.js'
import { defaultHint } from '../../src/jobs/hints.js'
import { alertmanagerFailure } from '../../src/systems/alertmanager.js'
import { dockerErrorCode, dockerFailure } from '../../src/systems/docker.js'
import { SystemError } from '../../src/systems/errors.js'
import { prometheusFailure } from '../../src/systems/prometheus.js'
import { redisErrorCode, redisFailure } from '../../src/systems/redis.js'

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

const redisConfig = resolveConfig(parseConfigText('', 'f'), null, {}).redis
const http = (url: string) => ({ url, timeoutMs: 1000 })

describe('redis error codes', () => {
  it('come from the first word of the server reply', () => {
    expect(redisErrorCode(new ReplyError('NOAUTH Authentication required.'))).toBe('auth')
    expect(redisErrorCode(new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'))).toBe('auth')
    expect(redisErrorCode(new ReplyError('LOADING Redis is loading the dataset in memory'))).toBe('starting')
    expect(redisErrorCode(new ReplyError('ERR unknown command'))).toBe('bad-answer')
    // The words count only in the reply's first place, and only in a server reply.
    expect(redisErrorCode(new ReplyError('ERR NOAUTH appears later'))).toBe('bad-answer')
    expect(redisErrorCode(new Error('WRONGPASS said by someone else'))).toBe('failed')
  })

  it('come from the errno, or a bound that ran out', () => {
    expect(redisErrorCode(withCode('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'))).toBe('refused')
    expect(redisErrorCode(withCode('connect ETIMEDOUT', 'ETIMEDOUT'))).toBe('no-answer')
    expect(redisErrorCode(new TimeoutError('Redis at redis://x', 1000))).toBe('no-answer')
    expect(redisErrorCode(new Error('Command timed out'))).toBe('no-answer')
    expect(redisErrorCode(withCode('read ECONNRESET', 'ECONNRESET'))).toBe('unreachable')
  })

  it('give the failure its words, with the address', () => {
    const url = redisConfig.url
    expect(redisFailure(withCode('x', 'ECONNREFUSED'), redisConfig).message).toBe(`Redis refused the connection at ${url}`)
    expect(redisFailure(new ReplyError('WRONGPASS no'), redisConfig).message).toBe(`Redis at ${url} rejected the password`)
    expect(redisFailure(new TimeoutError('x', 1000), redisConfig, 1000).message).toBe(`Redis at ${url} did not answer within 1 s`)
    const typed = redisFailure(withCode('x', 'ECONNREFUSED'), redisConfig)
    expect(redisFailure(typed, redisConfig)).toBe(typed)
    expect(typed.cause).toMatchObject({ code: 'ECONNREFUSED' })
  })
})

describe('docker error codes', () => {
  it('come from the engine status, the errno or the bound', () => {
    expect(dockerErrorCode(Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 }))).toBe('not-found')
    expect(dockerErrorCode(Object.assign(new Error('(HTTP code 500) server error'), { statusCode: 500 }))).toBe('bad-answer')
    expect(dockerErrorCode(withCode('connect EACCES /var/run/docker.sock', 'EACCES'))).toBe('permission')
    expect(dockerErrorCode(new TimeoutError('the Docker engine', 1000))).toBe('no-answer')
    expect(dockerFailure(withCode('connect ECONNREFUSED', 'ECONNREFUSED'), 'unix:///d.sock').message).toBe(
      'the Docker engine refused the connection at unix:///d.sock',
    )
  })
})

/** Every (system, code) the client modules throw, each with the hint it has always had. */
const thrown: Array<[label: string, error: SystemError, hint: string]> = [
  ['redis refused', redisFailure(withCode('x', 'ECONNREFUSED'), redisConfig), 'Redis is down: run `probe-ops recover redis`'],
  ['redis auth', redisFailure(new ReplyError('NOAUTH x'), redisConfig), 'set the password in REDIS_URL or redis.passwordFile'],
  [
    'redis no-answer',
    redisFailure(new TimeoutError('x', 1), redisConfig),
    'it accepts connections but does not answer: check for a hung or overloaded server, then `probe-ops recover redis`',
  ],
  ['redis starting', redisFailure(new ReplyError('LOADING x'), redisConfig), 'check that Redis is running and redis.url is right'],
  ['redis bad-answer', redisFailure(new ReplyError('ERR x'), redisConfig), 'check that Redis is running and redis.url is right'],
  ['redis unreachable', redisFailure(withCode('x', 'ECONNRESET'), redisConfig), 'check that Redis is running and redis.url is right'],
  ['redis dns', redisFailure(withCode('x', 'ENOTFOUND'), redisConfig), 'check that Redis is running and redis.url is right'],
  ['redis permission', redisFailure(withCode('x', 'EACCES'), redisConfig), 'check that Redis is running and redis.url is right'],
  ['redis failed', redisFailure(new Error('x'), redisConfig), 'check that Redis is running and redis.url is right'],
  ['docker refused', dockerFailure(withCode('x', 'ECONNREFUSED'), 'u'), 'start Docker (systemctl start docker), or fix docker.host / DOCKER_HOST'],
  ['docker permission', dockerFailure(withCode('x', 'EACCES'), 'u'), 'run as root or as a member of the docker group'],
  ['docker no-answer', dockerFailure(new TimeoutError('x', 1), 'u'), 'the engine is hung or overloaded: check `systemctl status docker`'],
  ['docker failed', dockerFailure(new Error('x'), 'u'), 'check that the Docker engine is running'],
  ['docker unreachable', dockerFailure(withCode('x', 'ECONNRESET'), 'u'), 'check that the Docker engine is running'],
  ['docker dns', dockerFailure(withCode('x', 'ENOTFOUND'), 'u'), 'check that the Docker engine is running'],
  ['docker bad-answer', dockerFailure(Object.assign(new Error('x'), { statusCode: 500 }), 'u'), 'check that the Docker engine is running'],
  [
    'docker bad-setting (connectDocker)',
    new SystemError('docker', 'bad-setting', 'DOCKER_HOST "x" is not a unix:// or tcp:// address'),
    'set docker.host or DOCKER_HOST to unix:///var/run/docker.sock or tcp://host:2375',
  ],
  [
    'docker not-found, the socket (connectDocker)',
    new SystemError('docker', 'not-found', 'the Docker socket /x does not exist', { data: { missing: 'socket' } }),
    'is Docker running? set docker.host or DOCKER_HOST to its socket',
  ],
  [
    'docker not-found, a container to act on (ServiceRuntimes.container)',
    new SystemError('docker', 'not-found', 'there is no container for db', { target: 'db', data: { missing: 'container', composeService: 'postgres' } }),
    'recreate it from the compose file: docker-compose up -d postgres',
  ],
  [
    'docker not-found, a container to read (ServiceRuntimes.logs)',
    new SystemError('docker', 'not-found', 'no container for db', { target: 'db', data: { missing: 'container' } }),
    'is it deployed? `docker ps -a` lists the containers',
  ],
  [
    'process bad-setting, start (ServiceRuntimes.start)',
    new SystemError('process', 'bad-setting', 'agent has no start command', { target: 'agent', data: { setting: 'start' } }),
    'set services.agent.start to its command (an argument list)',
  ],
  [
    'process bad-setting, logFile (ServiceRuntimes.logs)',
    new SystemError('process', 'bad-setting', 'no log file is configured for agent', { target: 'agent', data: { setting: 'logFile' } }),
    'set services.agent.logFile to the file its output goes to',
  ],
  [
    'alertmanager refused',
    alertmanagerFailure(withCode('x', 'ECONNREFUSED'), http('http://am')),
    'start AlertManager, or fix alertmanager.url / ALERTMANAGER_URL',
  ],
  ['alertmanager no-answer', alertmanagerFailure(new DOMException('x', 'TimeoutError'), http('http://am')), 'check that AlertManager is healthy'],
  ...(['unreachable', 'dns', 'auth', 'bad-answer', 'failed'] as const).map((code): [string, SystemError, string] => [
    `alertmanager ${code}`,
    alertmanagerFailure(new SystemError('http', code, 'x'), http('http://am')),
    'check alertmanager.url / ALERTMANAGER_URL',
  ]),
]

const prometheusOff = "set prometheus.url (or PROMETHEUS_URL) to Prometheus's address, or to '' to leave Prometheus out"
thrown.push(
  ['prometheus refused', prometheusFailure(withCode('x', 'ECONNREFUSED'), http('http://p')), `start it, or ${prometheusOff}`],
  ['prometheus dns', prometheusFailure(withCode('x', 'ENOTFOUND'), http('http://p')), prometheusOff],
  [
    'prometheus no-answer',
    prometheusFailure(new DOMException('x', 'TimeoutError'), http('http://p')),
    'it accepts connections but does not answer: check its load, or raise prometheus.timeoutSeconds',
  ],
  [
    'prometheus bad-answer, a rejected query',
    prometheusFailure(new SystemError('http', 'bad-answer', 'x', { data: { status: 400, body: 'parse error' } }), http('http://p'), 'up('),
    'this is a bug in probe-ops',
  ],
  [
    'prometheus bad-answer, not JSON',
    prometheusFailure(new SystemError('http', 'bad-answer', 'x', { data: { status: 200, notJson: true } }), http('http://p')),
    `is it Prometheus? ${prometheusOff}`,
  ],
  [
    'prometheus bad-answer, no data (queryInstant)',
    new SystemError('prometheus', 'bad-answer', 'x', { data: { answer: 'no-data' } }),
    'check the metric names, or the Prometheus version (the HTTP API v1 is needed)',
  ],
  [
    'prometheus bad-answer, a result of another type (queryInstant)',
    new SystemError('prometheus', 'bad-answer', 'x', { data: { answer: 'unexpected-type' } }),
    'this is a bug in probe-ops',
  ],
  ['prometheus bad-answer, a 500', prometheusFailure(new SystemError('http', 'bad-answer', 'x', { data: { status: 500 } }), http('http://p')), prometheusOff],
  ...(['unreachable', 'auth', 'failed'] as const).map((code): [string, SystemError, string] => [
    `prometheus ${code}`,
    prometheusFailure(new SystemError('http', code, 'x'), http('http://p')),
    prometheusOff,
  ]),
)

describe('the hints table', () => {
  it.each(thrown)('has the hint of %s, word for word', (_label, error, hint) => {
    expect(defaultHint(error)).toBe(hint)
  })

  it('covers every (system, code) pair the client modules throw', () => {
    const pairs = new Set(thrown.map(([, error]) => `${error.system}.${error.code}`))
    const expected: Array<`${SystemName}.${SystemErrorCode}`> = [
      'redis.refused',
      'redis.auth',
      'redis.no-answer',
      'redis.starting',
      'redis.bad-answer',
      'redis.unreachable',
      'redis.dns',
      'redis.permission',
      'redis.failed',
      'docker.refused',
      'docker.permission',
      'docker.no-answer',
      'docker.failed',
      'docker.unreachable',
      'docker.dns',
      'docker.bad-answer',
      'docker.bad-setting',
      'docker.not-found',
      'process.bad-setting',
      'alertmanager.refused',
      'alertmanager.no-answer',
      'alertmanager.unreachable',
      'alertmanager.dns',
      'alertmanager.auth',
      'alertmanager.bad-answer',
      'alertmanager.failed',
      'prometheus.refused',
      'prometheus.dns',
      'prometheus.no-answer',
      'prometheus.bad-answer',
      'prometheus.unreachable',
      'prometheus.auth',
      'prometheus.failed',
    ]
    expect([...pairs].sort()).toEqual([...expected].sort())
  })

  it('gives none for a container that a raw engine call found missing', () => {
    expect(defaultHint(new SystemError('docker', 'not-found', 'no such container'))).toBeUndefined()
  })
})

describe('systemd.timeoutSeconds', () => {
  it('defaults to the docker timeout it used to borrow, and is a key of its own that config show round-trips', () => {
    const defaults = resolveConfig(parseConfigText('', 'f'), null, {})
    expect(defaults.systemd.timeoutMs).toBe(defaults.docker.timeoutMs)
    const config = resolveConfig(parseConfigText('docker:\n  timeoutSeconds: 3\nsystemd:\n  timeoutSeconds: 20\n', 'f'), null, {})
    expect(config.systemd.timeoutMs).toBe(20_000)
    expect(config.docker.timeoutMs).toBe(3000)
    expect(showConfig(config).document.systemd).toEqual({ timeoutSeconds: 20 })
    const again = resolveConfig(parseConfigText(renderConfig(config, 'yaml'), 'shown'), null, {})
    expect(again.systemd.timeoutMs).toBe(20_000)
    expect(renderConfig(again, 'json')).toBe(renderConfig(config, 'json'))
  })
})
