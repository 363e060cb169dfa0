import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig, type Config } from '../../src/config/load.js'
import { parseAuthLines } from '../../src/jobs/security-check/auth-attempts.js'
import { failedLoginFindings, summarize } from '../../src/jobs/security-check/failed-logins.js'
import { openPortFindings } from '../../src/jobs/security-check/open-ports.js'
import { updateFindings } from '../../src/jobs/shared/package-updates.js'
import { containerFindings, hbaFindings } from '../../src/jobs/security-check/services.js'
import { accountFindings, parsePasswd, parseShadow } from '../../src/jobs/security-check/user-accounts.js'
import { lynisFindings, nmapFindings, trivyFindings } from '../../src/jobs/security-check/vulnerability-scan.js'
import { parseAptUpgradable } from '../../src/systems/packages.js'
import { parseLynisReport, parseNmapXml, parseTrivyJson } from '../../src/systems/scanners.js'
import { formatIpv6, parseProcNet, type ListeningSocket } from '../../src/systems/sockets.js'

function config(yaml = ''): Config {
  return resolveConfig(parseConfigText(yaml, 'test'), null, {})
}

describe('failed logins', () => {
  const now = new Date(2026, 10, 25, 12, 0, 0)
  const lines = [
    // An SSH password failure: PAM's line and sshd's line are one failure.
    'Nov 25 10:00:01 probe-01 sshd[100]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root',
    'Nov 25 10:00:03 probe-01 sshd[100]: Failed password for root from 203.0.113.5 port 51000 ssh2',
    'Nov 25 10:00:05 probe-01 sshd[100]: message repeated 4 times: [ Failed password for root from 203.0.113.5 port 51000 ssh2]',
    // An invalid user on a password server: "Invalid user" then "Failed password": one failure.
    'Nov 25 10:01:00 probe-01 sshd[101]: Invalid user admin from 203.0.113.5 port 51002',
    'Nov 25 10:01:02 probe-01 sshd[101]: Failed password for invalid user admin from 203.0.113.5 port 51002 ssh2',
    // A key-only server: "Invalid user" alone is the attempt.
    'Nov 25 10:02:00 probe-01 sshd[102]: Invalid user oracle from 198.51.100.7 port 40000',
    'Nov 25 10:02:00 probe-01 sshd[102]: Connection closed by invalid user oracle 198.51.100.7 port 40000 [preauth]',
    // sudo: a local failure.
    'Nov 25 10:03:00 probe-01 sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice',
    // Journal format with a zone; then a success after all those failures.
    '2026-11-25T10:04:00+0000 probe-01 sshd[103]: Failed password for root from 203.0.113.5 port 51003 ssh2',
    'Nov 25 11:59:00 probe-01 sshd[104]: Accepted password for root from 203.0.113.5 port 51004 ssh2',
    // Out of the window (yesterday morning) and noise.
    'Nov 24 09:00:00 probe-01 sshd[90]: Failed password for root from 192.0.2.1 port 1 ssh2',
    'Nov 25 10:06:00 probe-01 CRON[200]: pam_unix(cron:session): session opened for user root',
    'garbage',
  ]

  it('counts each attempt once, by user and source, inside the window', () => {
    const events = parseAuthLines(lines, now)
    const summary = summarize(events, now.getTime() - 24 * 3_600_000, 5)
    expect(summary.total).toBe(9)
    expect(summary.bySource).toEqual({ '203.0.113.5': 7, '198.51.100.7': 1, local: 1 })
    expect(summary.byUser).toEqual({ root: 6, admin: 1, oracle: 1, alice: 1 })
    expect(summary.acceptedAfterFailures).toMatchObject([{ user: 'root', source: '203.0.113.5', failuresBefore: 7 }])
  })

  it('rates the counts against the threshold with stable ids', () => {
    const summary = summarize(parseAuthLines(lines, now), now.getTime() - 24 * 3_600_000, 5)
    const findings = failedLoginFindings(summary, 5, 24)
    expect(findings.map((f) => [f.id, f.severity])).toEqual([
      ['failed-logins:total', 'medium'],
      ['failed-logins:source:203.0.113.5', 'medium'],
      ['failed-logins:user:root', 'medium'],
      ['failed-logins:accepted-after-failures:203.0.113.5:root', 'high'],
    ])
    expect(failedLoginFindings(summarize(parseAuthLines(lines, now), 0, 100), 100, 24)).toEqual([])
  })

  it('puts a syslog date from the future into last year', () => {
    const [event] = parseAuthLines(['Dec 31 23:00:00 h sshd[1]: Failed password for x from 192.0.2.9 port 1 ssh2'], new Date(2027, 0, 1, 1, 0, 0))
    expect(new Date(event!.at).getFullYear()).toBe(2026)
    const [old] = parseAuthLines(['Dec 31 23:00:00 h sshd[1]: Failed password for x from 192.0.2.9 port 1 ssh2'], new Date(2027, 5, 1))
    expect(new Date(old!.at).getFullYear()).toBe(2026)
  })
})

describe('failed logins in real auth log formats: each attempt once', () => {
  const corpus = (name: string) =>
    readFileSync(join(import.meta.dirname, '../fixtures/auth', name), 'utf8')
      .split('\n')
      .filter(Boolean)
  const day = 24 * 3_600_000

  it('Debian sshd with pam_unix: PAM and sshd lines of one attempt are one failure, pids reused later are new sessions', () => {
    const now = new Date(2026, 10, 25, 12, 0, 0)
    const summary = summarize(parseAuthLines(corpus('debian-sshd.log'), now), now.getTime() - day, 5)
    // root 3 (3 Failed, PAM 1 + 2 more), admin 2 (Invalid user, 2 Failed, PAM 1 + 1 more), oracle 1 (key-only),
    // ubuntu 6 (1 + "message repeated 5 times"), deploy 1 (keyboard-interactive: PAM, error: PAM, Failed),
    // test 1 (sshd[4101] again three hours later: a new connection).
    expect(summary.byUser).toEqual({ root: 3, admin: 2, oracle: 1, ubuntu: 6, deploy: 1, test: 1 })
    expect(summary.bySource).toEqual({ '203.0.113.5': 5, '198.51.100.7': 7, '192.0.2.44': 1, '192.0.2.99': 1 })
    expect(summary.total).toBe(14)
    expect(summary.acceptedAfterFailures).toMatchObject([{ user: 'root', source: '203.0.113.5', failuresBefore: 5 }])
  })

  it('su, sudo and login: every PAM failure counts, a brute force on su is seen, the summary lines of the same attempts are not counted again', () => {
    const now = new Date(2026, 10, 25, 12, 0, 0)
    const events = parseAuthLines(corpus('debian-su-sudo-login.log'), now)
    const summary = summarize(events, now.getTime() - day, 5)
    // su: 5 runs by www-data (pam_unix + FAILED SU each), 1 by bob through pam_sss (FAILED SU alone);
    // sudo: 3 wrong passwords (first PAM line, "PAM 2 more", "3 incorrect password attempts"), then 1 more before a success;
    // login: 3 tries on tty1 (FAILED LOGIN (1..3), PAM 1 + 2 more); pkexec: 1.
    expect(summary.byUser).toEqual({ root: 6, alice: 5, operator: 3 })
    expect(summary.bySource).toEqual({ local: 14 })
    expect(summary.total).toBe(14)
    expect(events.filter((e) => e.service === 'su').map((e) => e.count)).toEqual([1, 1, 1, 1, 1, 1])
    expect(events.filter((e) => e.service === 'login').map((e) => [e.user, e.count])).toEqual([['operator', 3]])
    expect(failedLoginFindings(summary, 5, 24).map((f) => f.id)).toEqual(expect.arrayContaining(['failed-logins:user:root', 'failed-logins:source:local']))
  })

  it('journald (journalctl -o short-iso): the same attempts with pids everywhere, sshd-session too', () => {
    const now = new Date('2026-11-25T12:00:00Z')
    const events = parseAuthLines(corpus('journald-short-iso.log'), now)
    expect(events.map((e) => [e.service, e.user, e.source, e.count])).toEqual([
      ['sshd', 'root', '203.0.113.77', 2],
      ['sudo', 'alice', 'local', 3],
      ['su', 'root', 'local', 1],
      ['sshd', 'guest', '198.51.100.20', 1],
    ])
    expect(events[0]!.at).toBe(Date.parse('2026-11-25T10:00:07Z'))
  })
})

describe('listening sockets', () => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
  it('reads /proc/net tables: LISTEN TCP and unconnected UDP, IPv4 and IPv6', () => {
    const tcp = parseProcNet(
      header +
        '   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 1001 1\n' +
        '   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 1002 1\n' +
        '   2: 0100007F:1538 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   106        0 1003 1\n',
      'tcp',
      4,
    )
    expect(tcp.map((s) => [s.address, s.port, s.loopback, s.inode])).toEqual([
      ['127.0.0.1', 5432, true, 1001],
      ['0.0.0.0', 6379, false, 1002],
    ])
    const tcp6 = parseProcNet(
      header +
        '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2001 1\n   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2002 1\n',
      'tcp',
      6,
    )
    expect(tcp6.map((s) => [s.address, s.port, s.loopback])).toEqual([
      ['::', 8080, false],
      ['::1', 80, true],
    ])
    const udp = parseProcNet(
      header +
        '   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 3001 2\n   1: 0100007F:A000 0100007F:0035 01 00000000:00000000 00:00000000 00000000 0 0 3002 2\n',
      'udp',
      4,
    )
    expect(udp.map((s) => [s.protocol, s.address, s.port])).toEqual([['udp', '0.0.0.0', 53]])
  })

  it('writes IPv6 addresses the RFC 5952 way', () => {
    expect(formatIpv6([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::')
    expect(formatIpv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])).toBe('2001:db8::1:0:0:1')
    expect(formatIpv6([0xfe80, 0, 0, 0, 0x1, 0x2, 0x3, 0x4])).toBe('fe80::1:2:3:4')
    expect(formatIpv6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x1])).toBe('::ffff:127.0.0.1')
  })

  it('flags exposed stores high, unlisted ports medium, and leaves loopback and allowed ports alone', () => {
    const s = (address: string, port: number, extra: Partial<ListeningSocket> = {}): ListeningSocket => ({
      protocol: 'tcp',
      family: address.includes(':') ? 6 : 4,
      address,
      port,
      loopback: address.startsWith('127.') || address === '::1',
      inode: 1,
      ...extra,
    })
    const findings = openPortFindings(
      [
        s('127.0.0.1', 5432),
        s('0.0.0.0', 6379),
        s('::', 5432, { process: 'postgres', pid: 7 }),
        s('0.0.0.0', 22),
        s('0.0.0.0', 8080),
        s('0.0.0.0', 53, { protocol: 'udp' }),
      ],
      config(),
    )
    expect(findings.map((f) => [f.id, f.severity])).toEqual([
      ['open-port:tcp:0.0.0.0:6379', 'high'],
      ['open-port:tcp:[::]:5432', 'high'],
      ['open-port:tcp:0.0.0.0:8080', 'medium'],
      ['open-port:udp:0.0.0.0:53', 'medium'],
    ])
    expect(findings[1]!.message).toBe('PostgreSQL listens beyond loopback on :: (all interfaces) tcp/5432 (postgres, pid 7)')
    const allowed = openPortFindings(
      [s('0.0.0.0', 6379), s('0.0.0.0', 8080), s('0.0.0.0', 53, { protocol: 'udp' })],
      config('security:\n  allowedPorts: [6379, tcp/8080, tcp/53]\n'),
    )
    expect(allowed.map((f) => [f.id, f.severity])).toEqual([
      ['open-port:tcp:0.0.0.0:6379', 'low'],
      ['open-port:udp:0.0.0.0:53', 'medium'],
    ])
  })
})

describe('packages, accounts, services, scanners', () => {
  it('reads apt list --upgradable and keeps security updates as one tracked finding', () => {
    const packages = parseAptUpgradable(
      'Listing...\nopenssl/bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]\nbase-files/bookworm 12.4+deb12u8 amd64 [upgradable from: 12.4+deb12u7]\nlibkrb5-3/jammy-updates,jammy-security 1.19.2-2ubuntu0.4 amd64 [upgradable from: 1.19.2-2ubuntu0.3]\n',
    )
    expect(packages.map((p) => [p.name, p.security])).toEqual([
      ['openssl', true],
      ['base-files', false],
      ['libkrb5-3', true],
    ])
    expect(updateFindings({ packages, listsAgeDays: 30 }).map((f) => [f.id, f.severity])).toEqual([
      ['security-updates:pending', 'medium'],
      ['updates-pending', 'info'],
      ['apt-lists-stale', 'low'],
    ])
    // maintain weekly only reports updates: lists too old are a fact there, not a warning; a week old is not too old.
    expect(updateFindings({ packages: [], listsAgeDays: 30 }, 'info').map((f) => [f.id, f.severity])).toEqual([['apt-lists-stale', 'info']])
    expect(updateFindings({ packages: [], listsAgeDays: 7 })).toEqual([])
    expect(updateFindings({ packages: [], listsAgeDays: 0 })).toEqual([])
  })

  it('finds uid 0 twins, empty passwords and login accounts', () => {
    const accounts = parsePasswd(
      'root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\nsvc:x:1002:1002::/srv:/usr/sbin/nologin\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nlegacy::1003:1003::/home/legacy:/bin/sh\n',
    )
    const shadow = parseShadow('root:$6$abc:19000::::::\nalice:$6$def:19000::::::\nbob::19000::::::\nsvc::19000::::::\ndaemon:*:19000::::::\n')
    expect(accountFindings(accounts, shadow).map((f) => [f.id, f.severity])).toEqual([
      ['uid0-account:toor', 'critical'],
      ['login-account:alice', 'info'],
      ['login-account:bob', 'info'],
      ['empty-password:bob', 'critical'],
      ['empty-password:svc', 'high'],
      ['login-account:legacy', 'info'],
      ['empty-password:legacy', 'critical'],
    ])
    // Without a readable shadow, only what passwd itself says.
    expect(
      accountFindings(accounts, undefined)
        .filter((f) => f.id.startsWith('empty-password'))
        .map((f) => f.id),
    ).toEqual(['empty-password:legacy'])
  })

  it('rates pg_hba trust by where it lets in, and containers that own the host', () => {
    // As pg_hba_file_rules gives them: address and netmask apart, keywords in address alone.
    const rule = (line: number, type: string, address: string | null, netmask: string | null, method: string | null, error: string | null = null) => ({
      line_number: line,
      type,
      database: ['all'],
      user_name: ['all'],
      address,
      netmask,
      auth_method: method,
      error,
    })
    expect(
      hbaFindings([
        rule(1, 'local', null, null, 'trust'),
        rule(2, 'host', '127.0.0.1', '255.255.255.255', 'trust'),
        rule(3, 'host', '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'trust'),
        rule(4, 'host', '0.0.0.0', '0.0.0.0', 'trust'),
        rule(5, 'host', 'samenet', null, 'trust'),
        rule(6, 'hostssl', '10.1.0.0', '255.255.0.0', 'trust'),
        rule(7, 'host', '10.0.0.0', '255.0.0.0', 'scram-sha-256'),
        rule(8, 'host', null, null, null, 'invalid authentication method "bogus"'),
      ]).map((f) => [f.id, f.severity]),
    ).toEqual([
      ['pg-hba-trust:local:all:all', 'low'],
      ['pg-hba-trust:host:all:all:127.0.0.1/32', 'low'],
      ['pg-hba-trust:host:all:all:::1/128', 'low'],
      ['pg-hba-trust:host:all:all:0.0.0.0/0', 'critical'],
      ['pg-hba-trust:host:all:all:samenet', 'critical'],
      ['pg-hba-trust:hostssl:all:all:10.1.0.0/16', 'critical'],
      ['pg-hba-error:8', 'low'],
    ])
    expect(
      containerFindings({
        Name: '/agent',
        HostConfig: { Privileged: true },
        Mounts: [{ Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock' }],
      }).map((f) => f.id),
    ).toEqual(['container-privileged:agent', 'container-docker-socket:agent'])
    expect(containerFindings({ Name: '/tools', HostConfig: { CapAdd: ['SYS_ADMIN', 'NET_ADMIN'] } }).map((f) => [f.id, f.severity])).toEqual([
      ['container-capabilities:tools', 'medium'],
    ])
    expect(containerFindings({ Name: '/web', HostConfig: {}, Mounts: [{ Source: '/srv/web', Destination: '/data' }] })).toEqual([])
    const stopped = containerFindings({ Name: '/old', State: { Status: 'exited', Running: false }, HostConfig: { Privileged: true } })
    expect(stopped.map((f) => [f.id, f.severity])).toEqual([['container-privileged:old', 'medium']])
    expect(stopped[0]!.message).toMatch(/runs privileged \(exited now, as configured\)/)
  })

  it('reads lynis, trivy and nmap results', () => {
    const lynis = parseLynisReport(
      'hardening_index=64\nwarning[]=AUTH-9286|Found accounts without expire date|-|-|\nsuggestion[]=SSH-7408|Consider hardening SSH configuration|-|-|\nsuggestion[]=KRNL-6000|One or more sysctl values differ|-|-|\n',
    )
    expect(lynis).toEqual({
      hardeningIndex: 64,
      warnings: [{ test: 'AUTH-9286', text: 'Found accounts without expire date' }],
      suggestions: [
        { test: 'SSH-7408', text: 'Consider hardening SSH configuration' },
        { test: 'KRNL-6000', text: 'One or more sysctl values differ' },
      ],
    })
    expect(lynisFindings(lynis).map((f) => [f.id, f.severity])).toEqual([
      ['lynis:AUTH-9286', 'medium'],
      ['lynis:suggestions', 'info'],
    ])
    const trivy = parseTrivyJson(
      JSON.stringify({
        Results: [
          {
            Target: 'x',
            Vulnerabilities: [
              { VulnerabilityID: 'CVE-2024-1', PkgName: 'openssl', Severity: 'CRITICAL', FixedVersion: '3.0.15' },
              { VulnerabilityID: 'CVE-2024-2', PkgName: 'zlib', Severity: 'HIGH' },
            ],
          },
          { Target: 'y', Vulnerabilities: null },
        ],
      }),
    )
    expect(trivyFindings('network-probe/agent:latest', trivy).map((f) => [f.id, f.severity])).toEqual([
      ['trivy:network-probe/agent:latest:critical', 'critical'],
      ['trivy:network-probe/agent:latest:high', 'high'],
    ])
    const ports = parseNmapXml(
      '<host><ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/><service name="ssh"/></port><port protocol="tcp" portid="25"><state state="closed"/></port></ports></host>',
    )
    expect(ports).toEqual([{ protocol: 'tcp', port: 22, service: 'ssh' }])
    expect(nmapFindings(ports).map((f) => f.id)).toEqual(['nmap:tcp:127.0.0.1:22'])
  })
})

describe('configuration of the certificates and security sections', () => {
  it('has the guide defaults', () => {
    const c = config()
    expect(c.certificates).toMatchObject({ files: [{ path: '/etc/ssl/certs/server.crt' }], endpoints: [], warningDays: 30, criticalDays: 7, timeoutMs: 5000 })
    expect(c.security).toMatchObject({
      authLog: '/var/log/auth.log',
      windowMs: 24 * 3_600_000,
      failedLoginThreshold: 10,
      permissionPaths: ['/etc/network-probe', '/opt/network-probe'],
    })
    expect(c.security.allowedPorts).toContainEqual({ protocol: 'any', port: 22 })
  })

  it('accepts files as paths or { path, key }, and endpoints as HOST[:PORT]', () => {
    const c = config(
      'certificates:\n  files:\n    - /a.pem\n    - { path: /b.pem, key: /b.key }\n  endpoints: [api.example.com, "10.0.0.5:8443", "[::1]:443"]\n',
    )
    expect(c.certificates.files).toEqual([{ path: '/a.pem' }, { path: '/b.pem', key: '/b.key' }])
    expect(c.certificates.endpoints).toEqual([
      { host: 'api.example.com', port: 443 },
      { host: '10.0.0.5', port: 8443 },
      { host: '::1', port: 443 },
    ])
  })

  it('names the line of a bad endpoint, port or threshold', () => {
    expect(() => config('certificates:\n  endpoints:\n    - ok.example.com\n    - "bad.example.com:99999"\n')).toThrow(
      /^test:4: "certificates\.endpoints\.1": HOST or HOST:PORT/,
    )
    expect(() => config('certificates:\n  warningDays: 5\n  criticalDays: 10\n')).toThrow(/"certificates\.criticalDays": must not be more than warningDays/)
    expect(() => config('security:\n  allowedPorts: [22, "tcp/70000"]\n')).toThrow(/^test:2: "security\.allowedPorts\.1"/)
    expect(() => config('certificates:\n  files:\n    - { path: /a, kee: /b }\n')).toThrow(/unknown key "certificates\.files\.0\.kee"/)
  })
})
