import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../../src/report/model.js'
import type { Report, StepResult } from '../../src/report/model.js'
import {
  bed,
  bedEnv,
  dockerCli,
  runCommandContainer,
  startHangingServer,
  startPostgres,
  startRedis,
  uniqueName,
  type HangingServer,
  type PostgresServer,
  type RedisServer,
  type RunningContainer,
} from '../bed/index.js'
import { pki, startTlsServer, writeFile, type TlsServer } from '../helpers/certificates.js'
import { parseReport, runCli, runRecords, writeConfig } from '../helpers/cli.js'
import { journalAnswers } from '../helpers/journal.js'
import { expectPromtoolAccepts, sampleValue as sample } from '../helpers/promtool.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

function findings(s: StepResult): Finding[] {
  return s.findings ?? []
}

function severityOf(s: StepResult, id: string): string | undefined {
  return findings(s).find((f) => f.id === id)?.severity
}

/** Settings that keep a run on this test's own files: nothing of the machine's /etc. */
function isolated(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  mkdirSync(join(dir, 'empty'), { recursive: true })
  writeFileSync(join(dir, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n')
  writeFileSync(join(dir, 'shadow'), 'root:$6$x:19000::::::\n')
  return {
    certificates: { files: [] },
    security: {
      authLog: join(dir, 'empty', 'auth.log'),
      permissionPaths: [],
      privatePaths: [],
      passwdFile: join(dir, 'passwd'),
      shadowFile: join(dir, 'shadow'),
      ...(extra.security ?? {}),
    },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'security')),
  }
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)))
}

describe('probe-ops security-check against real sockets, files, Redis, PostgreSQL and Docker', () => {
  const dir = tempDir('security')
  const closers: (() => Promise<unknown> | void)[] = []

  afterAll(async () => {
    for (const close of closers.reverse()) await close()
  })

  it('counts failed logins from the auth log by user and source against the threshold', async () => {
    const stamp = (minutesAgo: number) => {
      const d = new Date(Date.now() - minutesAgo * 60_000)
      return d.toISOString()
    }
    const lines: string[] = []
    for (let i = 0; i < 12; i++) {
      lines.push(
        `${stamp(60 - i)} probe-01 sshd[${1000 + i}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root`,
      )
      lines.push(`${stamp(60 - i)} probe-01 sshd[${1000 + i}]: Failed password for root from 203.0.113.9 port ${40000 + i} ssh2`)
    }
    lines.push(`${stamp(30)} probe-01 sshd[2000]: Invalid user oracle from 198.51.100.4 port 5000`)
    lines.push(
      `${stamp(20)} probe-01 sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice`,
    )
    lines.push(`${stamp(10)} probe-01 sshd[2100]: Accepted password for root from 203.0.113.9 port 41000 ssh2`)
    lines.push(`${stamp(60 * 30)} probe-01 sshd[900]: Failed password for root from 192.0.2.200 port 1 ssh2`)
    const authLog = writeFile(dir, 'auth.log', `${lines.join('\n')}\n`)
    const { path } = writeConfig(isolated(dir, { security: { authLog, failedLoginThreshold: 10 } }))
    const result = await runCli(['security-check', '--config', path, '--only', 'failed-logins', '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    const logins = step(report, 'failed-logins')
    expect(result.exitCode).toBe(1)
    expect(logins.data).toMatchObject({
      source: authLog,
      total: 14,
      bySource: { '203.0.113.9': 12, '198.51.100.4': 1, local: 1 },
      byUser: { root: 12, oracle: 1, alice: 1 },
    })
    expect(findings(logins).map((f) => [f.id, f.severity])).toEqual([
      ['failed-logins:accepted-after-failures:203.0.113.9:root', 'high'],
      ['failed-logins:source:203.0.113.9', 'medium'],
      ['failed-logins:total', 'medium'],
      ['failed-logins:user:root', 'medium'],
    ])

    expect(logins.summary).toBe(`14 failed logins in 24 h in ${authLog} (threshold 10)`)
  })

  it('never says "0 failed logins" from a configured auth log that does not exist: a warning names it, and nothing else is read instead', async () => {
    const missing = join(dir, 'empty', 'auth.log')
    const { path } = writeConfig(isolated(dir, { security: { authLog: missing } }))
    const result = await runCli(['security-check', '--config', path, '--only', 'failed-logins', '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    const logins = step(report, 'failed-logins')
    expect(result.exitCode).toBe(0)
    expect(logins).toMatchObject({ status: 'warning', summary: `not counted: the auth log ${missing} does not exist`, data: { read: false, source: null } })
    expect(findings(logins)).toEqual([
      expect.objectContaining({
        id: 'failed-logins:not-read',
        severity: 'medium',
        message: `the auth log ${missing} does not exist: failed logins not counted`,
      }),
    ])
    // Nothing else was read in its place, and nothing reads as a count.
    expect(JSON.stringify(logins)).not.toMatch(/\b0 failed logins|"source":"journald"/)
    const text = await runCli(['security-check', '--config', path, '--only', 'failed-logins'])
    expect(text.stdout).toContain(`the auth log ${missing} does not exist`)
    expect(text.stdout).not.toMatch(/\b0 failed logins/)
  })

  it('reads journald only when told to or when the default file is absent, and only from a journal that answered', async () => {
    const journal = await journalAnswers()
    const configured = step(
      parseReport(
        await runCli([
          'security-check',
          '--config',
          writeConfig(isolated(dir, { security: { authLog: 'journald' } })).path,
          '--only',
          'failed-logins',
          '--json',
        ]),
      ),
      'failed-logins',
    )
    if (journal.answers) {
      expect(configured).toMatchObject({ data: { read: true, source: 'journald' }, summary: expect.stringMatching(/ failed logins in 24 h in journald /) })
    } else {
      expect(configured).toMatchObject({ status: 'warning', data: { read: false }, summary: `not counted: the journal could not be read: ${journal.why}` })
    }

    // The default setting: Debian's file, else Red Hat's, else the journal when it answers; else a warning naming them.
    const byDefault = step(
      parseReport(
        await runCli([
          'security-check',
          '--config',
          writeConfig(isolated(dir, { security: { authLog: '/var/log/auth.log' } })).path,
          '--only',
          'failed-logins',
          '--json',
        ]),
      ),
      'failed-logins',
    )
    const file = ['/var/log/auth.log', '/var/log/secure'].find((f) => existsSync(f))
    if (file) expect(byDefault.data).toMatchObject({ read: true, source: file })
    else if (journal.answers) expect(byDefault.data).toMatchObject({ read: true, source: 'journald', note: '/var/log/auth.log does not exist' })
    else {
      expect(byDefault).toMatchObject({
        status: 'warning',
        summary: `not counted: no auth log: /var/log/auth.log does not exist and the journal could not be read (${journal.why})`,
      })
      expect(byDefault.summary).not.toMatch(/\b0 failed logins/)
    }
  })

  it('flags the sockets this test opens beyond loopback, with their process, against the allow-list', async () => {
    const exposed = createServer()
    const local = createServer()
    const allowed = createServer()
    const fakeRedis = createServer()
    const udp: UdpSocket = createSocket('udp4')
    const exposedPort = await listen(exposed, '0.0.0.0')
    const localPort = await listen(local, '127.0.0.1')
    const allowedPort = await listen(allowed, '0.0.0.0')
    const redisPort = await listen(fakeRedis, '0.0.0.0')
    await new Promise<void>((r) => udp.bind(0, '0.0.0.0', r))
    const udpPort = udp.address().port
    closers.push(
      () => new Promise((r) => exposed.close(r)),
      () => new Promise((r) => local.close(r)),
      () => new Promise((r) => allowed.close(r)),
      () => new Promise((r) => fakeRedis.close(r)),
      () => void udp.close(),
    )
    const { path } = writeConfig(isolated(dir, { security: { allowedPorts: [`tcp/${allowedPort}`] }, redis: { url: `redis://127.0.0.1:${redisPort}` } }))
    const result = await runCli(['security-check', '--config', path, '--only', 'open-ports', '--json'])
    const ports = step(parseReport(result), 'open-ports')
    expect(severityOf(ports, `open-port:tcp:0.0.0.0:${exposedPort}`)).toBe('medium')
    expect(severityOf(ports, `open-port:udp:0.0.0.0:${udpPort}`)).toBe('medium')
    expect(severityOf(ports, `open-port:tcp:0.0.0.0:${redisPort}`)).toBe('high')
    expect(severityOf(ports, `open-port:tcp:0.0.0.0:${allowedPort}`)).toBeUndefined()
    expect(severityOf(ports, `open-port:tcp:127.0.0.1:${localPort}`)).toBeUndefined()
    expect(ports.status).toBe('failed')
    expect(result.exitCode).toBe(1)
    expect(findings(ports).find((f) => f.id === `open-port:tcp:0.0.0.0:${redisPort}`)!.message).toMatch(
      new RegExp(`^Redis listens beyond loopback on 0\\.0\\.0\\.0 \\(all interfaces\\) tcp/${redisPort} \\(.+, pid ${process.pid}\\)`),
    )
    const sockets = ports.data!.sockets as { protocol: string; address: string; port: number; pid?: number; loopback: boolean }[]
    expect(sockets).toContainEqual(expect.objectContaining({ protocol: 'tcp', address: '127.0.0.1', port: localPort, loopback: true, pid: process.pid }))
    expect(sockets).toContainEqual(expect.objectContaining({ protocol: 'udp', address: '0.0.0.0', port: udpPort, pid: process.pid }))
  })

  it('finds world-writable files and secrets, backups and its own config readable by others', async () => {
    const app = join(dir, 'opt-network-probe')
    const etc = join(dir, 'etc-network-probe')
    const backups = join(dir, 'backups')
    for (const d of [app, etc, backups, join(app, 'shared'), join(app, 'scratch')]) mkdirSync(d, { recursive: true })
    chmodSync(join(app, 'shared'), 0o777)
    chmodSync(join(app, 'scratch'), 0o1777)
    const writable = writeFile(app, 'run.sh', '#!/bin/sh\n')
    chmodSync(writable, 0o666)
    const safe = writeFile(app, 'app.conf', 'x\n')
    chmodSync(safe, 0o644)
    symlinkSync('/etc/shadow', join(app, 'link-to-shadow'))
    const settings = writeFile(etc, 'settings.yaml', 'log_level: info\n')
    const envFile = writeFile(etc, '.env', 'DB_PASSWORD=x\n')
    const tlsKey = writeFile(etc, 'server.pem', '-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n')
    const privateConf = writeFile(etc, 'private.conf', 'x\n')
    for (const f of [settings, envFile, tlsKey]) chmodSync(f, 0o644)
    chmodSync(privateConf, 0o640)
    chmodSync(backups, 0o755)
    const dump = writeFile(backups, 'network_probe.dump', 'PGDMP')
    chmodSync(dump, 0o644)
    const passwordFile = writeFile(dir, 'pg-password', 'not-the-real-one\n')
    chmodSync(passwordFile, 0o644)
    // The age identity decrypts every backup, the S3 credentials reach the bucket: secrets like the passwords.
    const identityFile = join(dir, 'backup-identity.txt')
    await execa('age-keygen', ['-o', identityFile])
    const recipient = /public key: (age1\S+)/.exec(readFileSync(identityFile, 'utf8'))![1]!
    chmodSync(identityFile, 0o644)
    const credentialsFile = writeFile(dir, 's3-credentials', '[default]\naws_access_key_id = x\naws_secret_access_key = not-the-real-one\n')
    chmodSync(credentialsFile, 0o644)
    const secondDisk = join(dir, 'second-disk')
    mkdirSync(secondDisk)
    chmodSync(secondDisk, 0o700)
    const copied = writeFile(secondDisk, 'network_probe.dump', 'PGDMP')
    chmodSync(copied, 0o644)
    const repositories = [
      { name: 'local', type: 'local', path: backups },
      { name: 'second', type: 'local', path: secondDisk },
      { name: 'offsite', type: 's3', bucket: 'platform-backups', endpoint: 'http://127.0.0.1:9', credentialsFile },
    ]
    const { path } = writeConfig(
      isolated(dir, {
        security: { permissionPaths: [app, join(dir, 'absent')], privatePaths: [etc] },
        backup: { dir: backups, repositories, encryption: { recipients: [recipient], identityFile } },
        postgres: { passwordFile },
      }),
    )
    chmodSync(path, 0o644)
    const result = await runCli(['security-check', '--config', path, '--only', 'file-permissions', '--json'])
    const files = step(parseReport(result), 'file-permissions')
    expect(result.exitCode).toBe(1)
    expect(Object.fromEntries(findings(files).map((f) => [f.id, f.severity]))).toEqual({
      [`world-writable:${writable}`]: 'high',
      [`world-writable:${join(app, 'shared')}`]: 'high',
      [`readable-by-others:${envFile}`]: 'high',
      [`readable-by-others:${tlsKey}`]: 'high',
      [`readable-by-others:${dump}`]: 'high',
      [`readable-by-others:${passwordFile}`]: 'high',
      [`readable-by-others:${identityFile}`]: 'high',
      [`readable-by-others:${credentialsFile}`]: 'high',
      [`readable-by-others:${copied}`]: 'high',
      [`readable-by-others:${settings}`]: 'medium',
      [`readable-by-others:${backups}`]: 'medium',
      [`readable-by-others:${path}`]: 'medium',
    })
    expect(files.data!.missing).toEqual([join(dir, 'absent')])
    expect(result.stdout).not.toContain('not-the-real-one')
  })

  it('lists login accounts, and flags a second uid 0 and empty passwords', async () => {
    const passwd = writeFile(
      dir,
      'passwd-users',
      'root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n',
    )
    const shadow = writeFile(
      dir,
      'shadow-users',
      'root:$6$a:19000::::::\ntoor:$6$b:19000::::::\nwww-data:*:19000::::::\nalice:$6$c:19000::::::\nbob::19000::::::\n',
    )
    const { path } = writeConfig(isolated(dir, { security: { passwdFile: passwd, shadowFile: shadow } }))
    const accounts = step(parseReport(await runCli(['security-check', '--config', path, '--only', 'user-accounts', '--json'])), 'user-accounts')
    expect(findings(accounts).map((f) => [f.id, f.severity])).toEqual([
      ['empty-password:bob', 'critical'],
      ['uid0-account:toor', 'critical'],
      ['login-account:alice', 'info'],
      ['login-account:bob', 'info'],
    ])
    expect(accounts.data).toMatchObject({ shadowChecked: true, loginAccounts: ['alice', 'bob'], uid0: ['root', 'toor'] })
  })

  describe('services', () => {
    let openRedis: RedisServer
    let postgres: PostgresServer
    const containers: RunningContainer[] = []
    const names = { privileged: uniqueName('privileged'), socket: uniqueName('docker-socket'), plain: uniqueName('plain') }
    /** Whether this machine lets a privileged container start (a container without all capabilities does not). */
    let privilegedRuns = false

    beforeAll(async () => {
      const { docker } = bed()
      ;[openRedis, postgres] = await Promise.all([startRedis(), startPostgres()])
      // pg_hba_file_rules reads the file as it is on disk; it is never reloaded here.
      appendFileSync(
        join(postgres.info.dataDir, 'pg_hba.conf'),
        'host    all          all    0.0.0.0/0       trust\nlocal   all          all                    trust\n',
      )
      // Where the engine may not grant every capability, `docker run --privileged` creates the
      // container and fails to start it: it stays, configured privileged, and is rated as such.
      privilegedRuns = await runCommandContainer(docker, { name: names.privileged, cmd: ['/bin/sleep', '100000'], privileged: true }).then(
        () => true,
        () => false,
      )
      containers.push(
        {
          id: names.privileged,
          name: names.privileged,
          remove: async () => void (await dockerCli(docker, ['rm', '-f', '-v', names.privileged], { reject: false })),
        },
        await runCommandContainer(docker, { name: names.socket, cmd: ['/bin/sleep', '100000'], binds: [`${docker.socketPath}:/var/run/docker.sock`] }),
        await runCommandContainer(docker, { name: names.plain, cmd: ['/bin/sleep', '100000'] }),
      )
    })

    afterAll(async () => {
      for (const c of containers) await c.remove()
      await openRedis?.stop()
      await postgres?.stop()
    })

    it('flags Redis without a password, pg_hba trust beyond loopback, and containers that own the host', async () => {
      const env = {
        ...bedEnv(),
        REDIS_URL: openRedis.info.url,
        PGHOST: postgres.info.host,
        PGPORT: String(postgres.info.port),
        PGUSER: postgres.info.user,
        PGPASSWORD: postgres.info.password,
        PGDATABASE: 'postgres',
      }
      const { path } = writeConfig(isolated(dir))
      const result = await runCli(['security-check', '--config', path, '--only', 'services', '--json'], env)
      const services = step(parseReport(result), 'services')
      expect(result.exitCode).toBe(1)
      const got = Object.fromEntries(findings(services).map((f) => [f.id, f.severity]))
      expect(got).toMatchObject({
        [`redis-no-password:127.0.0.1:${openRedis.info.port}`]: 'high',
        'pg-hba-trust:host:all:all:0.0.0.0/0': 'critical',
        'pg-hba-trust:local:all:all': 'low',
        [`container-privileged:${names.privileged}`]: privilegedRuns ? 'high' : 'medium',
        [`container-docker-socket:${names.socket}`]: 'high',
      })
      expect(Object.keys(got).filter((id) => id.endsWith(names.plain))).toEqual([])
      expect(result.stdout).not.toContain(postgres.info.password)
    })

    it('passes a Redis that requires a password, and says what it could not check', async () => {
      const { path } = writeConfig(isolated(dir, { postgres: { port: 1 } }))
      const result = await runCli(['security-check', '--config', path, '--only', 'services', '--json'], {
        ...bedEnv(),
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      })
      const services = step(parseReport(result), 'services')
      expect(findings(services).filter((f) => f.id.startsWith('redis'))).toEqual([])
      const checks = services.data!.checks as { check: string; checked: boolean; detail: string }[]
      expect(checks).toEqual([
        { check: 'redis', checked: true, detail: `redis 127.0.0.1:${bed().redis.port}: a password is required`, findings: [] },
        { check: 'pg-hba', checked: false, detail: expect.stringMatching(/^pg_hba: not checked: PostgreSQL refused the connection/), findings: [] },
        { check: 'containers', checked: false, detail: 'containers: not checked: the Docker socket /nonexistent/docker.sock does not exist', findings: [] },
      ])
      expect(services.status).toBe('ok')
      expect(result.stdout).not.toContain(bed().redis.password)
    })
  })

  it('checks the configured certificates, bounded when an endpoint hangs', async () => {
    const { root, intermediate, leaf } = pki()
    const caFile = writeFile(dir, 'ca.pem', root.pem)
    const local = leaf({ commonName: 'localhost', sans: ['127.0.0.1'], notAfterDays: 20 })
    const server: TlsServer = await startTlsServer(local.keyPem, [local, intermediate])
    const hanging: HangingServer = await startHangingServer()
    closers.push(
      () => server.close(),
      () => hanging.close(),
    )
    const certFile = writeFile(dir, 'server.crt', local.pem, intermediate.pem)
    const config = writeConfig(
      isolated(dir, { certificates: { files: [certFile], endpoints: [server.address, `127.0.0.1:${hanging.port}`], caFile, timeoutSeconds: 1 } }),
    )
    const result = await runCli(['security-check', '--config', config.path, '--only', 'certificates', '--json'])
    const report = parseReport(result)
    const certificates = step(report, 'certificates')
    expect(Object.fromEntries(findings(certificates).map((f) => [f.id, f.severity]))).toEqual({
      [`tls-unreachable:127.0.0.1:${hanging.port}`]: 'high',
      [`cert-expiry:${certFile}`]: 'medium',
      [`cert-expiry:${server.address}`]: 'medium',
    })

    // Its gauges: the expiry of the file and of the endpoint it reached, none made up for the hung one.
    const { metrics } = runRecords(config.dir, 'security-check')
    await expectPromtoolAccepts(metrics)
    const notAfter = Math.floor(local.cert.validity.notAfter.getTime() / 1000)
    expect(sample(metrics, 'probe_ops_certificate_expiry_timestamp_seconds', `kind="file",subject="localhost",target="${certFile}"`)).toBe(notAfter)
    expect(sample(metrics, 'probe_ops_certificate_expiry_timestamp_seconds', `kind="endpoint",subject="localhost",target="${server.address}"`)).toBe(notAfter)
    expect(metrics).not.toContain(`target="127.0.0.1:${hanging.port}"`)
  })

  it('lists pending updates through apt, security ones separately', async () => {
    const { path } = writeConfig(isolated(dir))
    const updates = step(parseReport(await runCli(['security-check', '--config', path, '--only', 'security-updates', '--json'])), 'security-updates')
    expect(updates.status).not.toBe('failed')
    expect(updates.data).toMatchObject({ source: 'apt', upgradable: expect.any(Number) })
    for (const f of findings(updates)) expect(['security-updates:pending', 'updates-pending', 'apt-lists-stale']).toContain(f.id)
  })

  it('skips the scanners that are not installed, and runs nmap (loopback only) when it is on PATH', async () => {
    const { path } = writeConfig(isolated(dir))
    const skipped = step(parseReport(await runCli(['security-check', '--config', path, '--only', 'vulnerability-scan', '--json'])), 'vulnerability-scan')
    expect(skipped).toMatchObject({ status: 'skipped', summary: 'none of lynis, trivy, nmap is installed (probe-ops never installs them)' })

    // A stand-in that answers as nmap does and records its arguments: the real one is not installed here.
    const bin = join(dir, 'bin')
    mkdirSync(bin, { recursive: true })
    const argsFile = join(dir, 'nmap-args')
    writeFileSync(
      join(bin, 'nmap'),
      `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\ncat <<'XML'\n<?xml version="1.0"?><nmaprun><host><ports><port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port><port protocol="tcp" portid="5432"><state state="open"/><service name="postgresql"/></port></ports></host></nmaprun>\nXML\n`,
      { mode: 0o755 },
    )
    const ran = step(
      parseReport(await runCli(['security-check', '--config', path, '--only', 'vulnerability-scan', '--json'], { PATH: `${bin}:${process.env.PATH}` })),
      'vulnerability-scan',
    )
    expect(ran.status).toBe('ok')
    expect(findings(ran).map((f) => f.id)).toEqual(['nmap:tcp:127.0.0.1:22', 'nmap:tcp:127.0.0.1:5432'])
    expect(ran.data).toMatchObject({ installed: ['nmap'], notInstalled: ['lynis', 'trivy'] })
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(argsFile, 'utf8').trim().split('\n').at(-1)).toBe('127.0.0.1')
  })

  it('runs every step at once, each bounded, with a valid report and the exit code of the worst', async () => {
    const { path } = writeConfig(isolated(dir))
    const result = await runCli(['security-check', '--config', path, '--json'], bedEnv())
    const report = parseReport(result)
    expectValidReport(report)
    expect(report.command).toBe('security-check')
    expect(report.steps.map((s) => s.id)).toEqual([
      'failed-logins',
      'open-ports',
      'certificates',
      'file-permissions',
      'security-updates',
      'user-accounts',
      'services',
      'vulnerability-scan',
    ])
    expect(step(report, 'certificates')).toMatchObject({ status: 'skipped' })
    expect(result.exitCode).toBe(report.status === 'failed' ? 1 : 0)
    expect(result.stdout).not.toContain(bed().redis.password)
    expect(result.stdout).not.toContain(bed().postgres.password)

    const text = await runCli(['security-check', '--config', path, '--skip', 'security-updates,vulnerability-scan,open-ports'], bedEnv())
    expect(text.stdout).toMatch(/^✔ user-accounts\s+1 accounts, 0 login accounts$/m)
    expect(text.stdout).toMatch(/^security-check: /m)
    const bad = await runCli(['security-check', '--only', 'ports'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toMatch(
      /unknown step "ports" for security-check\n\s+steps are: failed-logins, open-ports, certificates, file-permissions, security-updates, user-accounts, services, vulnerability-scan/,
    )
  })
})
