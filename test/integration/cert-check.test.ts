import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import type { Finding } from '../../src/report/model.js'
import { startHangingServer, startRefusedPort, type HangingServer } from '../bed/index.js'
import { derOf, issue, pki, rsaKey, startTlsServer, writeFile, type Issued, type TlsServer } from '../helpers/certificates.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
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

function severities(s: StepResult): Record<string, string> {
  return Object.fromEntries(findings(s).map((f) => [f.id, f.severity]))
}

/** Bad usage: one line (and a hint), exit 2, nothing on stdout, no stack. */
function expectUsageError(result: { exitCode: number; stdout: string; stderr: string }, pattern: RegExp) {
  expect(result.exitCode).toBe(2)
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
  expect(result.stdout).toBe('')
}

describe('probe-ops cert check against generated certificates and real TLS servers', () => {
  const dir = tempDir('cert-check')
  const { root, intermediate, leaf } = pki()
  const caFile = writeFile(dir, 'ca.pem', root.pem)
  const servers: TlsServer[] = []
  let hanging: HangingServer
  const pem = (name: string, ...parts: Issued[]) => writeFile(dir, name, ...parts.map((p) => p.pem))

  beforeAll(async () => {
    hanging = await startHangingServer()
  })

  afterAll(async () => {
    await hanging.close()
    for (const s of servers) await s.close()
  })

  it('rates every kind of certificate file, and exits 1 on the worst', async () => {
    const pair = rsaKey()
    const files = {
      valid: pem('valid.pem', leaf({ commonName: 'valid.example.test', sans: ['valid.example.test'], notAfterDays: 120, keyPair: pair }), intermediate),
      expiring: pem('expiring.pem', leaf({ commonName: 'expiring', notAfterDays: 10 }), intermediate),
      expired: pem('expired.pem', leaf({ commonName: 'expired', notBeforeDays: -400, notAfterDays: -3 }), intermediate),
      notYetValid: pem('future.pem', leaf({ commonName: 'future', notBeforeDays: 3 }), intermediate),
      selfSigned: pem('self-signed.pem', issue({ commonName: 'self-signed.example.test' })),
      brokenChain: pem('broken-chain.pem', leaf({ commonName: 'broken' }), issue({ commonName: 'probe-ops Test Intermediate CA', ca: true })),
      notACertificate: writeFile(dir, 'notes.txt', 'this is not a certificate\n'),
      directory: join(dir, 'a-directory'),
      missing: join(dir, 'missing.pem'),
    }
    mkdirSync(files.directory)
    const rightKey = writeFile(dir, 'valid.key', pair.keyPem)
    const result = await runCli(['cert', 'check', ...Object.values(files), '--key', rightKey, '--ca-file', caFile, '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode).toBe(1)
    expect(report.command).toBe('cert check')
    expect(step(report, 'endpoints').status).toBe('skipped')
    const checked = step(report, 'files')
    expect(checked.status).toBe('failed')
    expect(severities(checked)).toEqual({
      [`cert-expiry:${files.expired}`]: 'critical',
      [`cert-invalid:${files.notACertificate}`]: 'high',
      [`cert-not-yet-valid:${files.notYetValid}`]: 'high',
      [`cert-unreadable:${files.directory}`]: 'high',
      [`cert-unreadable:${files.missing}`]: 'high',
      [`cert-untrusted:${files.brokenChain}`]: 'high',
      [`cert-chain-extra:${files.brokenChain}`]: 'low',
      [`cert-untrusted:${files.selfSigned}`]: 'high',
      [`cert-expiry:${files.expiring}`]: 'medium',
    })
    const messages = Object.fromEntries(findings(checked).map((f) => [f.id, f.message]))
    expect(messages[`cert-untrusted:${files.selfSigned}`]).toMatch(/is self-signed and not in the trust store/)
    expect(messages[`cert-expiry:${files.expiring}`]).toMatch(/expires in (9|10) days/)
    expect(messages[`cert-unreadable:${files.missing}`]).toBe(`${files.missing} does not exist`)
    expect(messages[`cert-unreadable:${files.directory}`]).toBe(`${files.directory} is a directory, not a regular file`)
    const certificates = checked.data!.certificates as {
      target: string
      status: string
      trusted?: boolean
      keyMatch?: boolean
      certificate?: { daysLeft: number; keyType: string; keyBits: number; subjectAltNames: string[] }
    }[]
    expect(certificates.find((c) => c.target === files.valid)).toMatchObject({
      status: 'ok',
      trusted: true,
      keyMatch: true,
      certificate: { keyType: 'RSA', keyBits: 2048, subjectAltNames: ['DNS:valid.example.test'] },
    })
    expect(certificates.find((c) => c.target === files.valid)!.certificate!.daysLeft).toBeGreaterThanOrEqual(119)

    // Same input, same findings: ids a dashboard can track.
    const again = parseReport(await runCli(['cert', 'check', ...Object.values(files), '--key', rightKey, '--ca-file', caFile, '--json']))
    expect(findings(step(again, 'files')).map((f) => f.id)).toEqual(findings(checked).map((f) => f.id))
  })

  it('passes a good chain, warns (exit 0) ten days before expiry, and --fail-on warning makes that exit 1', async () => {
    const good = pem('good.pem', leaf({ commonName: 'good', notAfterDays: 200 }), intermediate)
    const ok = await runCli(['cert', 'check', good, '--ca-file', caFile])
    expect(ok.exitCode, ok.stdout).toBe(0)
    expect(ok.stdout).toMatch(/✔ files\s+1 checked; soonest expiry .*good\.pem in 19\d days; no findings/)
    expect(ok.stdout).toMatch(
      /CN=good, 19\d days left \(until \d{4}-\d\d-\d\d\), RSA 2048, sha256WithRSAEncryption, issuer CN=probe-ops Test Intermediate CA, chain trusted \(3 links\)/,
    )

    const soon = pem('soon.pem', leaf({ commonName: 'soon', notAfterDays: 10 }), intermediate)
    const warned = await runCli(['cert', 'check', soon, '--ca-file', caFile])
    expect(warned.exitCode).toBe(0)
    expect(warned.stdout).toMatch(/! medium: the certificate in .*soon\.pem \(CN=soon\) expires in (9|10) days/)
    expect((await runCli(['cert', 'check', soon, '--ca-file', caFile, '--fail-on', 'warning'])).exitCode).toBe(1)
    // Thresholds from the flags: 10 days left is critical under --critical-days 14.
    const critical = parseReport(await runCli(['cert', 'check', soon, '--ca-file', caFile, '--critical-days', '14', '--json']))
    expect(severities(step(critical, 'files'))).toEqual({ [`cert-expiry:${soon}`]: 'critical' })
  })

  it('reads DER files and PEM bundles, and says when a key does not match', async () => {
    const pair = rsaKey()
    const cert = leaf({ commonName: 'der', keyPair: pair })
    const derFile = join(dir, 'server.der')
    writeFileSync(derFile, derOf(cert))
    const wrongKey = writeFile(dir, 'wrong.key', rsaKey().keyPem)
    const bundle = writeFile(dir, 'bundle.pem', cert.pem, intermediate.pem, pair.keyPem)
    const result = await runCli(['cert', 'check', derFile, bundle, '--key', wrongKey, '--ca-file', caFile, '--json'])
    const files = step(parseReport(result), 'files')
    expect(result.exitCode).toBe(1)
    expect(severities(files)).toEqual({ [`cert-key-mismatch:${wrongKey}`]: 'high', [`cert-untrusted:${derFile}`]: 'high' })
    const certificates = files.data!.certificates as { target: string; keyMatch?: boolean; keyFile?: string }[]
    expect(certificates.find((c) => c.target === bundle)).toMatchObject({ keyFile: bundle, keyMatch: true })
  })

  it('checks live endpoints concurrently: chain, host name, refused, and a hung one within its timeout', async () => {
    const local = leaf({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] })
    const good = await startTlsServer(local.keyPem, [local, intermediate], { delayMs: 200 })
    const otherHost = leaf({ commonName: 'elsewhere', sans: ['elsewhere.example.test'] })
    const wrongHost = await startTlsServer(otherHost.keyPem, [otherHost, intermediate], { delayMs: 200 })
    const leafOnly = await startTlsServer(local.keyPem, [local])
    servers.push(good, wrongHost, leafOnly)
    const refused = await startRefusedPort()
    const args = ['cert', 'check', '--ca-file', caFile, '--check-timeout', '2', '--json']
    for (const host of [good.address, `localhost:${good.port}`, wrongHost.address, leafOnly.address, `127.0.0.1:${refused}`, `127.0.0.1:${hanging.port}`])
      args.push('--host', host)
    const result = await runCli(args)
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode).toBe(1)
    const endpoints = step(report, 'endpoints')
    expect(severities(endpoints)).toEqual({
      [`cert-host-mismatch:${wrongHost.address}`]: 'high',
      [`cert-untrusted:${leafOnly.address}`]: 'high',
      [`tls-unreachable:127.0.0.1:${refused}`]: 'high',
      [`tls-unreachable:127.0.0.1:${hanging.port}`]: 'high',
    })
    const byId = Object.fromEntries(findings(endpoints).map((f) => [f.id, f]))
    expect(byId[`tls-unreachable:127.0.0.1:${refused}`]!.message).toBe(`127.0.0.1:${refused} refused the connection`)
    expect(byId[`tls-unreachable:127.0.0.1:${hanging.port}`]!.message).toBe(`127.0.0.1:${hanging.port} completed no TLS handshake within 2 s`)
    expect(byId[`cert-untrusted:${leafOnly.address}`]!.fix).toMatch(/send the intermediate/)
    expect(hanging.accepted).toBeGreaterThan(0)
    const certificates = endpoints.data!.certificates as { target: string; status: string; hostMatch?: boolean; tls?: { protocol: string } }[]
    expect(certificates.filter((c) => c.status === 'ok').map((c) => c.target)).toEqual([good.address, `localhost:${good.port}`])
    expect(certificates[0]!.tls!.protocol).toMatch(/^TLSv1\.[23]$/)
  })

  it('checks an address against the name it must serve (serverName: SNI and host name), and names a name it does not cover', async () => {
    // One address, two virtual hosts: without SNI it presents the default certificate.
    const fallback = leaf({ commonName: 'default.example.test', sans: ['default.example.test'] })
    const api = leaf({ commonName: 'api.example.test', sans: ['api.example.test'] })
    const server = await startTlsServer(fallback.keyPem, [fallback, intermediate], {
      byServerName: { 'api.example.test': { keyPem: api.keyPem, chain: [api, intermediate] } },
    })
    servers.push(server)
    const { path } = writeConfig({
      certificates: {
        files: [],
        caFile,
        endpoints: [
          { host: '127.0.0.1', port: server.port, serverName: 'api.example.test' },
          { host: '127.0.0.1', port: server.port, serverName: 'shop.example.test' },
          server.address,
        ],
      },
    })
    const result = await runCli(['cert', 'check', '--config', path, '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode).toBe(1)
    const endpoints = step(report, 'endpoints')
    const certificates = endpoints.data!.certificates as { target: string; status: string; hostMatch?: boolean; certificate?: { commonName: string } }[]
    expect(certificates.map((c) => [c.target, c.status, c.hostMatch, c.certificate?.commonName])).toEqual([
      [`api.example.test@${server.address}`, 'ok', true, 'api.example.test'],
      [`shop.example.test@${server.address}`, 'failed', false, 'default.example.test'],
      [server.address, 'failed', false, 'default.example.test'],
    ])
    const mismatch = findings(endpoints).find((f) => f.id === `cert-host-mismatch:shop.example.test@${server.address}`)!
    expect(mismatch.message).toBe(
      `the certificate of shop.example.test@${server.address} is not valid for shop.example.test: it names DNS:default.example.test`,
    )

    const flag = parseReport(await runCli(['cert', 'check', '--host', server.address, '--server-name', 'api.example.test', '--ca-file', caFile, '--json']))
    expect(step(flag, 'endpoints')).toMatchObject({ status: 'ok' })
  })

  it('fails a file argument that is a device or a FIFO with the reason, and exits at once', async () => {
    const fifo = join(dir, 'cert.fifo')
    execFileSync('mkfifo', [fifo])
    // Before, /dev/zero was read until memory ran out and the FIFO was waited on forever.
    const result = await runCli(['cert', 'check', '/dev/zero', fifo, '--json'])
    const report = parseReport(result)
    expect(result.exitCode).toBe(1)
    const files = step(report, 'files')
    expect(files.status).toBe('failed')
    expect(Object.fromEntries(findings(files).map((f) => [f.id, f.message]))).toEqual({
      'cert-unreadable:/dev/zero': '/dev/zero is a character device, not a regular file',
      [`cert-unreadable:${fifo}`]: `${fifo} is a FIFO (named pipe), not a regular file`,
    })
    const key = parseReport(
      await runCli(['cert', 'check', pem('with-key.pem', leaf({ commonName: 'k' }), intermediate), '--key', '/dev/zero', '--ca-file', caFile, '--json']),
    )
    expect(findings(step(key, 'files')).map((f) => f.message)).toContain(
      'the private key for /dev/zero cannot be used: /dev/zero is a character device, not a regular file',
    )
    const ca = parseReport(await runCli(['cert', 'check', caFile, '--ca-file', fifo, '--json']))
    expect(findings(step(ca, 'files')).map((f) => f.message)).toEqual([`CA file is a FIFO (named pipe), not a regular file: chains were not checked`])
  })

  it('checks the configured files and endpoints when none are given', async () => {
    const local = leaf({ commonName: 'localhost', sans: ['127.0.0.1'] })
    const server = await startTlsServer(local.keyPem, [local, intermediate])
    servers.push(server)
    const pair = rsaKey()
    const certFile = pem('configured.pem', leaf({ commonName: 'configured', keyPair: pair }), intermediate)
    const keyFile = writeFile(dir, 'configured.key', pair.keyPem)
    const { path } = writeConfig({ certificates: { files: [{ path: certFile, key: keyFile }], endpoints: [server.address], caFile, warningDays: 400 } })
    const result = await runCli(['cert', 'check', '--config', path, '--json'])
    const report = parseReport(result)
    expect(result.exitCode).toBe(0)
    expect(report.status).toBe('warning')
    expect(severities(step(report, 'files'))).toEqual({ [`cert-expiry:${certFile}`]: 'medium' })
    expect((step(report, 'files').data!.certificates as { keyMatch: boolean }[])[0]!.keyMatch).toBe(true)
    expect(severities(step(report, 'endpoints'))).toEqual({ [`cert-expiry:${server.address}`]: 'medium' })
  })

  it('answers bad input with one line and exit 2', async () => {
    expectUsageError(await runCli(['cert', 'check', '--host', 'example.com:99999']), /--host "example\.com:99999": port 99999 is not between 1 and 65535/)
    expectUsageError(await runCli(['cert', 'check', '--host', 'not a host']), /--host "not a host": expected HOST or HOST:PORT/)
    expectUsageError(await runCli(['cert', 'check', '--host', '::1']), /write an IPv6 address in brackets/)
    expectUsageError(
      await runCli(['cert', 'check', '--warning-days', '5', '--critical-days', '10', caFile]),
      /critical days \(10\) are more than warning days \(5\)/,
    )
    expectUsageError(await runCli(['cert', 'check', caFile, '--frobnicate']), /Nonexistent flag: --frobnicate/)
    expectUsageError(await runCli(['cert', 'check', '--only', 'nope', caFile]), /unknown step "nope" for cert check/)
    const { path } = writeConfig({ certificates: { endpoints: ['ok.example.test', 'bad.example.test:0'] } })
    expectUsageError(await runCli(['cert', 'check', '--config', path]), /probe-ops\.yaml:\d+: "certificates\.endpoints\.1": HOST or HOST:PORT/)
    // A CA file that cannot be read is a finding of the run, not a crash.
    const missingCa = parseReport(await runCli(['cert', 'check', caFile, '--ca-file', join(dir, 'nope.pem'), '--json']))
    expect(findings(step(missingCa, 'files')).map((f) => f.id)).toEqual([`cert-ca-file:${join(dir, 'nope.pem')}`])
  })
})
