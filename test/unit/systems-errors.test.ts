import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig } from '../../src/config/load.js'
import { StepFailure, TimeoutError, type SystemErrorCode, type SystemName } from '../../src/errors.js'
import { defaultHint, hintOf } from '../../src/jobs/hints.js'
import { readAuthLog } from '../../src/systems/auth-log.js'
import { fetchProblemOf, loadTrustStore, PeerChainError } from '../../src/systems/certificate-chains.js'
import { SystemError } from '../../src/systems/errors.js'
import { fileErrorCode, fileReadErrorCode } from '../../src/systems/files.js'
import { journalProblem } from '../../src/systems/journal.js'
import { postgresErrorCode, postgresFailure } from '../../src/systems/postgres.js'
import { readPid, tailFile } from '../../src/systems/process.js'
import { tempDir } from '../helpers/temp.js'

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

const pg = resolveConfig(parseConfigText('', 'f'), null, {}).postgres
const at = `${pg.host}:${pg.port}`

describe('postgres error codes', () => {
  it('come from the SQLSTATE', () => {
    expect(postgresErrorCode(withCode('password authentication failed', '28P01'))).toBe('auth')
    expect(postgresErrorCode(withCode('no pg_hba.conf entry', '28000'))).toBe('auth')
    expect(postgresErrorCode(withCode('database "x" does not exist', '3D000'))).toBe('not-found')
    expect(postgresErrorCode(withCode('the database system is starting up', '57P03'))).toBe('starting')
    expect(postgresErrorCode(withCode('canceling statement due to statement timeout', '57014'))).toBe('no-answer')
    expect(postgresErrorCode(withCode('relation "x" does not exist', '42P01'))).toBe('bad-answer')
  })

  it('come from the errno, along the causes and inside an AggregateError', () => {
    expect(postgresErrorCode(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe('refused')
    expect(postgresErrorCode(new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')]))).toBe('refused')
    expect(postgresErrorCode(new Error('wrapped', { cause: withCode('getaddrinfo ENOTFOUND db', 'ENOTFOUND') }))).toBe('dns')
    expect(postgresErrorCode(withCode('getaddrinfo EAI_AGAIN db', 'EAI_AGAIN'))).toBe('dns')
    expect(postgresErrorCode(withCode('connect EHOSTUNREACH', 'EHOSTUNREACH'))).toBe('unreachable')
    expect(postgresErrorCode(withCode('connect ETIMEDOUT', 'ETIMEDOUT'))).toBe('unreachable')
    expect(postgresErrorCode(withCode('connect EACCES /run/postgresql/.s.PGSQL.5432', 'EACCES'))).toBe('permission')
  })

  it('say a bound that ran out: ours, or one of pg whose errors carry no code', () => {
    expect(postgresErrorCode(new TimeoutError('PostgreSQL at x', 1000))).toBe('no-answer')
    expect(postgresErrorCode(new Error('Query read timeout'))).toBe('no-answer')
    expect(postgresErrorCode(new Error('timeout expired'))).toBe('no-answer')
    // Only pg's own, code-less errors: words elsewhere say nothing.
    expect(postgresErrorCode(withCode('timeout expired', 'XX000'))).toBe('bad-answer')
    expect(postgresErrorCode(new Error('Connection terminated unexpectedly'))).toBe('failed')
  })

  it('give the failure its words, with the address, and keep an error that already says what happened', () => {
    expect(postgresFailure(withCode('x', 'ECONNREFUSED'), pg).message).toBe(`PostgreSQL refused the connection at ${at}`)
    expect(postgresFailure(withCode('x', 'ENOTFOUND'), pg).message).toBe(`PostgreSQL host ${pg.host} does not resolve`)
    expect(postgresFailure(withCode('x', '28P01'), pg).message).toBe(`PostgreSQL rejected the credentials of user ${pg.user}`)
    expect(postgresFailure(withCode('x', '3D000'), pg, 'other').message).toBe(`database "other" does not exist at ${at}`)
    expect(postgresFailure(withCode('x', '57P03'), pg).message).toBe(`PostgreSQL at ${at} is starting up or shutting down`)
    expect(postgresFailure(new TimeoutError('x', 1), { ...pg, connectTimeoutMs: 2000 }).message).toBe(`PostgreSQL at ${at} accepted no query within 2 s`)
    expect(postgresFailure(new Error('Connection terminated unexpectedly'), pg).message).toBe(`PostgreSQL at ${at}: Connection terminated unexpectedly`)
    const typed = postgresFailure(withCode('x', 'ECONNREFUSED'), pg)
    expect(typed).toMatchObject({ system: 'postgres', code: 'refused', target: at })
    expect(typed.cause).toMatchObject({ code: 'ECONNREFUSED' })
    expect(postgresFailure(typed, pg)).toBe(typed)
    const step = new StepFailure('pg_dump: it failed', 'read its log')
    expect(postgresFailure(step, pg)).toBe(step)
  })
})

describe('journalctl answers', () => {
  it('say no journal or a partial one only on stderr, with exit 0; any other exit failed', () => {
    expect(journalProblem({ exitCode: 0, stderr: 'No journal files were found.\n-- No entries --\n' })).toBe('not-found')
    expect(
      journalProblem({
        exitCode: 0,
        stderr:
          "Hint: You are currently not seeing messages from other users and the system.\n      Users in groups 'adm', 'systemd-journal' can see all messages.",
      }),
    ).toBe('permission')
    expect(journalProblem({ exitCode: 1, stderr: 'Failed to open files: Invalid argument' })).toBe('failed')
    expect(journalProblem({ exitCode: 1, stderr: '' })).toBe('failed')
    expect(journalProblem({ exitCode: 0, stderr: '' })).toBeUndefined()
  })
})

describe('file and TLS error codes', () => {
  it.each([
    ['EACCES', 'permission'],
    ['EPERM', 'permission'],
    ['ENOENT', 'not-found'],
    ['EIO', 'failed'],
    [undefined, 'failed'],
  ] as const)('errno %s of a file operation is %s', (errno, code) => {
    expect(fileErrorCode(errno)).toBe(code)
  })

  it.each([
    ['missing', 'not-found'],
    ['unreadable', 'permission'],
    ['not-a-file', 'bad-setting'],
    ['too-large', 'bad-setting'],
  ] as const)('a file read that found it %s is %s', (found, code) => {
    expect(fileReadErrorCode(found)).toBe(code)
  })

  it.each([
    ['ECONNREFUSED', 'refused'],
    ['ENOTFOUND', 'dns'],
    ['ECONNRESET', 'reset'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'not-tls'],
    ['ERR_SSL_PACKET_LENGTH_TOO_LONG', 'not-tls'],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'handshake'],
    [undefined, 'handshake'],
  ] as const)('code %s of a handshake is %s', (code, problem) => {
    expect(fetchProblemOf(code)).toBe(problem)
  })

  it('makes a chain not fetched a SystemError of certificates that keeps its kind', () => {
    const error = new PeerChainError('timeout', 'x:443 completed no TLS handshake within 1 s')
    expect(error).toMatchObject({ system: 'certificates', code: 'no-answer', kind: 'timeout' })
  })
})

describe('what the modules throw, read from real files', () => {
  const dir = tempDir('systems-errors-')
  mkdirSync(join(dir, 'a-directory'))
  writeFileSync(join(dir, 'service.log'), 'one\ntwo\n')

  it('says a pid file that is a directory, with no hint', async () => {
    const error = await readPid(join(dir, 'a-directory')).catch((thrown: unknown) => thrown)
    expect(error).toMatchObject({ system: 'process', code: 'bad-setting', message: `pid file ${join(dir, 'a-directory')} is a directory, not a regular file` })
    expect(defaultHint(error)).toBeUndefined()
    expect(await readPid(join(dir, 'missing.pid'))).toBeUndefined()
  })

  it("says a log file that is missing, with the service's setting to check", async () => {
    const error = await tailFile(join(dir, 'missing.log')).catch((thrown: unknown) => thrown)
    expect(error).toMatchObject({ system: 'process', code: 'not-found', message: `log file ${join(dir, 'missing.log')} does not exist` })
    expect(defaultHint(error)).toBe("check the service's logFile setting, and that the service writes there")
    expect(defaultHint(await tailFile(join(dir, 'a-directory')).catch((thrown: unknown) => thrown))).toBeUndefined()
    expect(await tailFile(join(dir, 'service.log'))).toEqual(['one', 'two'])
  })

  it('says an auth log that is missing or no file, and the setting to fix', async () => {
    const missing = await readAuthLog(join(dir, 'auth.log'), 60_000, { timeoutMs: 5000 })
    expect(missing).toMatchObject({ read: false, reason: `the auth log ${join(dir, 'auth.log')} does not exist` })
    expect(!missing.read && hintOf(missing.error)).toBe(
      'set security.authLog to the file sshd and PAM log to (/var/log/auth.log, /var/log/secure on Red Hat), or to "journald"',
    )
    const directory = await readAuthLog(join(dir, 'a-directory'), 60_000, { timeoutMs: 5000 })
    expect(directory).toMatchObject({ read: false, reason: `the auth log ${join(dir, 'a-directory')} is a directory, not a regular file` })
    expect(!directory.read && hintOf(directory.error)).toBe('set security.authLog to the file (or to "journald")')
  })

  it('says a CA file that is missing, with no hint (cert check rates it)', async () => {
    const error = await loadTrustStore(join(dir, 'ca.pem')).catch((thrown: unknown) => thrown)
    expect(error).toMatchObject({ system: 'certificates', code: 'not-found', message: 'CA file does not exist' })
    expect(defaultHint(error)).toBeUndefined()
  })
})

/** Each (system, code) E's modules throw, as they throw it, and its hint word for word (undefined: none, as before). */
const unit = 'probe-ops-test.service'
const thrown: Array<[string, SystemError, string | undefined]> = [
  ...(
    [
      ['refused', withCode('x', 'ECONNREFUSED'), 'PostgreSQL is down: run `probe-ops recover postgres`'],
      ['dns', withCode('x', 'ENOTFOUND'), 'fix postgres.host or PGHOST'],
      ['auth', withCode('x', '28P01'), 'check PGPASSWORD or postgres.passwordFile'],
      ['not-found', withCode('x', '3D000'), 'fix postgres.database or PGDATABASE'],
      ['starting', withCode('x', '57P03'), 'wait a few seconds and try again'],
      [
        'no-answer',
        new TimeoutError('x', 1),
        'it accepts connections but does not answer: look for a hung or overloaded server, then `probe-ops recover postgres`',
      ],
      ['unreachable', withCode('x', 'EHOSTUNREACH'), 'check that PostgreSQL is running and the connection settings are right'],
      ['permission', withCode('x', 'EACCES'), 'check that PostgreSQL is running and the connection settings are right'],
      ['bad-answer', withCode('x', '42P01'), 'check that PostgreSQL is running and the connection settings are right'],
      ['failed', new Error('x'), 'check that PostgreSQL is running and the connection settings are right'],
    ] as const
  ).map(([code, cause, hint]): [string, SystemError, string] => [`postgres.${code}`, postgresFailure(cause, pg) as SystemError, hint]),
  [
    'systemd.not-installed',
    new SystemError('systemd', 'not-installed', 'systemctl is not installed here', { target: unit, data: { action: 'show' } }),
    'this host does not run systemd: set the service runtime to docker',
  ],
  [
    'systemd.refused (not booted with systemd)',
    new SystemError('systemd', 'refused', 'systemctl: System has not been booted with systemd', { target: unit, data: { action: 'show', booted: false } }),
    'this host does not run systemd: set the service runtime to docker or process',
  ],
  [
    'systemd.timeout of show',
    new SystemError('systemd', 'timeout', 'systemctl show did not finish within 1000 ms', { target: unit, data: { action: 'show' } }),
    'systemd is slow to answer: check `systemctl status`',
  ],
  [
    'systemd.timeout of start',
    new SystemError('systemd', 'timeout', `systemctl start ${unit} did not finish within 1000 ms`, { target: unit, data: { action: 'start' } }),
    `see \`systemctl status ${unit}\``,
  ],
  [
    'systemd.failed show',
    new SystemError('systemd', 'failed', 'systemctl: Unknown operation', { target: unit, data: { action: 'show', booted: true } }),
    undefined,
  ],
  [
    'systemd.failed restart',
    new SystemError('systemd', 'failed', `systemctl restart ${unit}: Job failed`, { target: unit, data: { action: 'restart' } }),
    `see \`journalctl -u ${unit} -n 50\``,
  ],
  [
    'journal.not-installed',
    new SystemError('journal', 'not-installed', 'journalctl is not installed here'),
    'this host does not run systemd: read a log file instead',
  ],
  [
    'journal.not-found',
    new SystemError('journal', 'not-found', 'journalctl found no journal on this host'),
    'journald keeps no journal here (Storage=none, or no systemd): read a log file instead',
  ],
  [
    'journal.permission',
    new SystemError('journal', 'permission', 'journalctl may not read the whole journal: x'),
    'run as root, or as a member of the systemd-journal or adm group',
  ],
  [
    'journal.failed exit',
    new SystemError('journal', 'failed', 'journalctl exited with 1', { data: { exitCode: 1 } }),
    'run as root, or as a member of the systemd-journal or adm group',
  ],
  [
    'journal.failed to run',
    new SystemError('journal', 'failed', 'journalctl could not run: x', { data: { ran: false } }),
    'the journal is slow or broken: check `journalctl --verify`',
  ],
  [
    'journal.timeout',
    new SystemError('journal', 'timeout', 'journalctl did not finish within 5 s', { data: { ran: false } }),
    'the journal is slow or broken: check `journalctl --verify`',
  ],
  ['process.not-found pid file', new SystemError('process', 'not-found', 'pid file x cannot be read (ENOENT)', { data: { file: 'pid' } }), undefined],
  ['process.permission pid file', new SystemError('process', 'permission', 'pid file x is not readable', { data: { file: 'pid' } }), undefined],
  ['process.failed pid file', new SystemError('process', 'failed', 'pid file x cannot be read (EIO)', { data: { file: 'pid' } }), undefined],
  [
    'process.permission log file',
    new SystemError('process', 'permission', 'log file x is not readable', { data: { file: 'log' } }),
    'run as root, or as a user that may read it',
  ],
  ['process.bad-setting log file', new SystemError('process', 'bad-setting', 'log file x is a directory', { data: { file: 'log' } }), undefined],
  [
    'process.not-installed start command',
    new SystemError('process', 'not-installed', 'cannot start /nonexistent: ENOENT', { target: 'agent', data: { action: 'start', spawned: false } }),
    'fix the service start command in the configuration',
  ],
  [
    'process.failed spawn',
    new SystemError('process', 'failed', 'cannot start /etc: EACCES', { target: 'agent', data: { action: 'start', spawned: false } }),
    'fix the service start command in the configuration',
  ],
  [
    'process.failed exit with a log file',
    new SystemError('process', 'failed', 'agent --x exited with code 2', {
      target: 'agent',
      data: { action: 'start', spawned: true, logFile: '/var/log/agent.log' },
    }),
    'read /var/log/agent.log',
  ],
  [
    'process.failed exit',
    new SystemError('process', 'failed', 'agent exited with code 2', { target: 'agent', data: { action: 'start', spawned: true } }),
    undefined,
  ],
  [
    'process.failed stop of another process',
    new SystemError('process', 'failed', 'agent not stopped: ...', { target: 'agent', data: { action: 'stop', unproven: 'other', pidFile: '/run/agent.pid' } }),
    'if agent is stopped, the pid file is stale: remove /run/agent.pid; if that process is agent, fix services.agent.start to the command that runs it',
  ],
  [
    'process.failed stop unproven',
    new SystemError('process', 'failed', 'agent not stopped: ...', { target: 'agent', data: { action: 'stop', unproven: 'no-start-command' } }),
    'set services.agent.start to the command that runs it, or stop it by hand',
  ],
  ['auth-log.permission', new SystemError('auth-log', 'permission', 'the auth log x is not readable'), 'run as root or as a member of the adm group'],
  ['auth-log.bad-setting', new SystemError('auth-log', 'bad-setting', 'the auth log x is a directory'), 'set security.authLog to the file (or to "journald")'],
  ['auth-log.failed', new SystemError('auth-log', 'failed', 'the auth log x cannot be read: EIO'), 'check the file, or set security.authLog to "journald"'],
  [
    'auth-log.not-found of no source',
    new SystemError('auth-log', 'not-found', 'no auth log: ...', { data: { source: 'none', files: ['/var/log/auth.log'] } }),
    'set security.authLog to the file sshd and PAM log to; rsyslog writes /var/log/auth.log',
  ],
  ['files.permission', new SystemError('files', 'permission', "EACCES: permission denied, scandir '/x'"), undefined],
  ['files.not-found', new SystemError('files', 'not-found', "ENOTDIR: not a directory, realpath '/x'"), undefined],
  ['files.failed', new SystemError('files', 'failed', "EIO: i/o error, unlink '/x'"), undefined],
  ['certificates.not-found', new SystemError('certificates', 'not-found', 'CA file does not exist'), undefined],
  ['certificates.permission', new SystemError('certificates', 'permission', 'CA file is not readable'), undefined],
  ['certificates.bad-setting', new SystemError('certificates', 'bad-setting', 'CA file is a directory'), undefined],
  ['certificates.bad-answer', new SystemError('certificates', 'bad-answer', 'CA file x holds no certificate'), undefined],
  ...(['refused', 'timeout', 'dns', 'reset', 'handshake', 'aborted'] as const).map((kind): [string, SystemError, undefined] => [
    `certificates.${kind}`,
    new PeerChainError(kind, 'x'),
    undefined,
  ]),
  ['scanners.failed', new SystemError('scanners', 'failed', 'nmap exited with 1'), undefined],
  ['packages.failed', new SystemError('packages', 'failed', 'apt list --upgradable exited with 100'), undefined],
]

describe('the hints table', () => {
  it.each(thrown)('has the hint of %s, word for word', (_label, error, hint) => {
    expect(defaultHint(error)).toBe(hint)
  })

  it('covers every (system, code) pair the non-client modules throw', () => {
    const pairs = new Set(thrown.map(([, error]) => `${error.system}.${error.code}`))
    const expected: Array<`${SystemName}.${SystemErrorCode}`> = [
      'postgres.refused',
      'postgres.dns',
      'postgres.auth',
      'postgres.not-found',
      'postgres.starting',
      'postgres.no-answer',
      'postgres.unreachable',
      'postgres.permission',
      'postgres.bad-answer',
      'postgres.failed',
      'systemd.not-installed',
      'systemd.refused',
      'systemd.timeout',
      'systemd.failed',
      'journal.not-installed',
      'journal.not-found',
      'journal.permission',
      'journal.failed',
      'journal.timeout',
      'process.not-found',
      'process.permission',
      'process.failed',
      'process.bad-setting',
      'process.not-installed',
      'auth-log.permission',
      'auth-log.bad-setting',
      'auth-log.failed',
      'auth-log.not-found',
      'files.permission',
      'files.not-found',
      'files.failed',
      'certificates.not-found',
      'certificates.permission',
      'certificates.bad-setting',
      'certificates.bad-answer',
      'certificates.refused',
      'certificates.no-answer',
      'certificates.dns',
      'certificates.unreachable',
      'certificates.cancelled',
      'scanners.failed',
      'packages.failed',
    ]
    expect([...pairs].sort()).toEqual([...expected].sort())
  })
})
