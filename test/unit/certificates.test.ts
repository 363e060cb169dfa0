import { execFileSync } from 'node:child_process'
import { truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig, type Config } from '../../src/config/load.js'
import { checkCertificates, type CertificateCheckResult } from '../../src/jobs/cert-check/check.js'
import type { CertificateTarget } from '../../src/jobs/cert-check/targets.js'
import { parseHostPort } from '../../src/lib/host-port.js'
import { sortFindings, statusOf } from '../../src/report/outcome.js'
import { chainFindings, daysLeft, expiryFinding, leafFindings } from '../../src/jobs/cert-check/ratings.js'
import { buildChain, loadTrustStore, matchHost, type ChainResult } from '../../src/systems/certificate-chains.js'
import { parseCertificate, readPemOrDer, type Certificate, type CertificateFacts } from '../../src/systems/certificates.js'
import { derOf, issue, pki, rsaKey, startTlsServer, writeFile, type Issued, type TlsServer } from '../helpers/certificates.js'
import { tempDir } from '../helpers/temp.js'

/** The default configuration's certificate settings, with these over them. */
function settings(certificates: Partial<Config['certificates']> = {}): Config['certificates'] {
  const base = resolveConfig(parseConfigText('', 'test'), null, {})
  return { ...base.certificates, files: [], ...certificates }
}

function ids(result: CertificateCheckResult): string[] {
  return result.findings.map((f) => f.id)
}

describe('certificate parsing', () => {
  const dir = tempDir('cert-unit')
  const { root, intermediate, leaf } = pki()
  const server = leaf({ commonName: 'api.example.test', sans: ['api.example.test', 'localhost', '127.0.0.1'], notAfterDays: 90 })

  it('reads the facts of an RSA certificate in PEM and in DER', async () => {
    const fromPem = await readPemOrDer(writeFile(dir, 'server.pem', server.pem))
    writeFileSync(join(dir, 'server.der'), derOf(server))
    const fromDer = await readPemOrDer(join(dir, 'server.der'))
    for (const facts of [fromPem.certificates[0]!.facts, fromDer.certificates[0]!.facts]) {
      expect(facts).toMatchObject({
        commonName: 'api.example.test',
        subject: 'CN=api.example.test, O=probe-ops tests',
        issuerCommonName: 'probe-ops Test Intermediate CA',
        subjectAltNames: ['DNS:api.example.test', 'DNS:localhost', 'IP:127.0.0.1'],
        keyType: 'RSA',
        keyBits: 2048,
        signatureAlgorithm: 'sha256WithRSAEncryption',
        isCA: false,
        selfSigned: false,
      })
    }
    expect(fromDer.error).toBeUndefined()
    expect(fromDer.certificates).toHaveLength(1)
  })

  it('reads an ECDSA certificate, which forge alone cannot', async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'ec.key'),
        '-out',
        join(dir, 'ec.pem'),
        '-days',
        '100',
        '-subj',
        '/CN=ec.example.test',
        '-addext',
        'subjectAltName=DNS:ec.example.test',
      ],
      { stdio: 'ignore' },
    )
    const contents = await readPemOrDer(join(dir, 'ec.pem'))
    expect(contents.certificates[0]!.facts).toMatchObject({
      commonName: 'ec.example.test',
      keyType: 'EC',
      keyBits: 256,
      curve: 'prime256v1',
      signatureAlgorithm: 'ecdsa-with-SHA256',
      selfSigned: true,
      subjectAltNames: ['DNS:ec.example.test'],
    })
    const key = await readPemOrDer(join(dir, 'ec.key'))
    expect(key.keys).toHaveLength(1)
    expect(key.certificates).toHaveLength(0)
  })

  it('says what is wrong with a file that is no certificate', async () => {
    expect((await readPemOrDer(join(dir, 'missing.pem'))).error).toEqual({ kind: 'missing', message: `${join(dir, 'missing.pem')} does not exist` })
    expect((await readPemOrDer(dir)).error).toMatchObject({ kind: 'not-a-file', message: `${dir} is a directory, not a regular file` })
    // Neither read without end nor waited on: /dev/zero and a FIFO nobody writes to.
    expect((await readPemOrDer('/dev/zero')).error).toEqual({ kind: 'not-a-file', message: '/dev/zero is a character device, not a regular file' })
    const fifo = join(dir, 'cert.fifo')
    execFileSync('mkfifo', [fifo])
    expect((await readPemOrDer(fifo)).error).toEqual({ kind: 'not-a-file', message: `${fifo} is a FIFO (named pipe), not a regular file` })
    expect((await readPemOrDer(writeFile(dir, 'text.txt', 'hello\n'))).error?.kind).toBe('not-a-certificate')
    expect((await readPemOrDer(writeFile(dir, 'empty.pem', ''))).error?.message).toMatch(/it is empty/)
    const huge = writeFile(dir, 'huge.log', '')
    truncateSync(huge, 64 * 1024 * 1024)
    expect((await readPemOrDer(huge)).error).toEqual({
      kind: 'not-a-certificate',
      message: `${huge} is larger than 16 MiB, more than any certificate or key file`,
    })
    const broken = await readPemOrDer(writeFile(dir, 'broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))
    expect(broken.error?.kind).toBe('not-a-certificate')
    expect(broken.error?.message).toMatch(/cannot be parsed/)
  })

  it('builds and verifies chains: trusted, missing intermediate, out of order, self-signed, forged link', async () => {
    const store = { anchors: [(await parseCertificate(derOf(root))).x509] }
    const c = async (...issued: Issued[]) => Promise.all(issued.map((i) => parseCertificate(derOf(i))))

    const good = buildChain(await c(server, intermediate), store)
    expect(good).toMatchObject({ trusted: true, outOfOrder: false, unused: [] })
    expect(good.links.map((l) => [l.facts.commonName, l.source])).toEqual([
      ['api.example.test', 'presented'],
      ['probe-ops Test Intermediate CA', 'presented'],
      ['probe-ops Test Root CA', 'trust-store'],
    ])

    expect(buildChain(await c(server), store)).toMatchObject({ trusted: false, problem: 'unknown-issuer' })
    const stranger = issue({ commonName: 'stranger', ca: true })
    expect(buildChain(await c(intermediate, server), store)).toMatchObject({ trusted: true, unused: [1] })
    expect(buildChain(await c(server, stranger, intermediate), store)).toMatchObject({ trusted: true, outOfOrder: true, unused: [1] })
    expect(buildChain(await c(issue({ commonName: 'self', sans: ['self'] })), store)).toMatchObject({ trusted: false, problem: 'self-signed' })

    // Named as issued by the intermediate (name and key id) but signed by another key.
    const forged = issue({ commonName: 'forged', issuer: intermediate, signWith: rsaKey().key })
    expect(buildChain(await c(forged, intermediate), store)).toMatchObject({ trusted: false, problem: 'bad-signature', badSignatureAt: 0 })
  })

  it('matches host names and addresses against the SANs only', async () => {
    const x509 = (await parseCertificate(derOf(server))).x509
    expect(matchHost(x509, 'api.example.test')).toBe('san')
    expect(matchHost(x509, '127.0.0.1')).toBe('san')
    expect(matchHost(x509, 'other.example.test')).toBe('mismatch')
    const cnOnly = (await parseCertificate(derOf(issue({ commonName: 'legacy.example.test' })))).x509
    expect(matchHost(cnOnly, 'legacy.example.test')).toBe('common-name-only')
  })

  it('loads the system CA bundle, or a CA file, and refuses a CA file that is none', async () => {
    const system = await loadTrustStore()
    expect(system.anchors.length).toBeGreaterThan(50)
    const own = await loadTrustStore(writeFile(dir, 'ca.pem', root.pem))
    expect(own.anchors).toHaveLength(1)
    await expect(loadTrustStore(join(dir, 'nope.pem'))).rejects.toThrow(/CA file does not exist/)
  })
})

describe('checkCertificates', () => {
  const dir = tempDir('cert-check-unit')
  const { root, intermediate, leaf } = pki()
  const caFile = writeFile(dir, 'ca.pem', root.pem)
  const servers: TlsServer[] = []
  const file = (name: string, ...parts: Issued[]) => writeFile(dir, name, ...parts.map((p) => p.pem))
  const target = (path: string, key?: string): CertificateTarget => ({ kind: 'file', path, ...(key ? { key } : {}) })

  afterAll(async () => {
    for (const s of servers) await s.close()
  })

  it('rates each case with a stable id and severity', async () => {
    const valid = leaf({ commonName: 'valid', sans: ['valid'], notAfterDays: 200 })
    const cases = {
      valid: file('valid.pem', valid, intermediate),
      expiring: file('expiring.pem', leaf({ commonName: 'soon', notAfterDays: 10 }), intermediate),
      critical: file('critical.pem', leaf({ commonName: 'very soon', notAfterDays: 3 }), intermediate),
      expired: file('expired.pem', leaf({ commonName: 'old', notBeforeDays: -100, notAfterDays: -2 }), intermediate),
      future: file('future.pem', leaf({ commonName: 'future', notBeforeDays: 5, notAfterDays: 300 }), intermediate),
      selfSigned: file('self.pem', issue({ commonName: 'self' })),
      noIntermediate: file('leaf-only.pem', valid),
      weak: file('weak.pem', leaf({ commonName: 'weak', bits: 1024 }), intermediate),
      sha1: file('sha1.pem', leaf({ commonName: 'sha1', md: 'sha1' }), intermediate),
    }
    const result = await checkCertificates(
      settings({ caFile }),
      Object.values(cases).map((p) => target(p)),
    )
    const byFile = (path: string) => result.findings.filter((f) => f.id.endsWith(`:${path}`)).map((f) => [f.id.split(':')[0], f.severity])
    expect(byFile(cases.valid)).toEqual([])
    expect(byFile(cases.expiring)).toEqual([['cert-expiry', 'medium']])
    expect(byFile(cases.critical)).toEqual([['cert-expiry', 'critical']])
    expect(byFile(cases.expired)).toEqual([['cert-expiry', 'critical']])
    expect(byFile(cases.future)).toEqual([['cert-not-yet-valid', 'high']])
    expect(byFile(cases.selfSigned)).toEqual([['cert-untrusted', 'high']])
    expect(byFile(cases.noIntermediate)).toEqual([['cert-untrusted', 'high']])
    expect(byFile(cases.weak)).toEqual([['cert-weak-key', 'high']])
    expect(byFile(cases.sha1)).toEqual([['cert-weak-signature', 'medium']])
    const report = result.certificates.find((c) => c.target === cases.valid)!
    expect(report).toMatchObject({ status: 'ok', trusted: true, certificate: { commonName: 'valid', daysLeft: 199 } })
    expect(report.chain!.map((l) => l.source)).toEqual(['presented', 'presented', 'trust-store'])
    expect(result.certificates.find((c) => c.target === cases.expiring)!.status).toBe('warning')

    // The same input gives the same findings, in the same order.
    const again = await checkCertificates(
      settings({ caFile }),
      Object.values(cases).map((p) => target(p)),
    )
    expect(ids(again)).toEqual(ids(result))
  })

  it('checks that a key matches: configured pairs, a key in the same file, and --key', async () => {
    const pair = rsaKey()
    const cert = leaf({ commonName: 'keyed', keyPair: pair })
    const certFile = file('keyed.pem', cert, intermediate)
    const rightKey = writeFile(dir, 'right.key', pair.keyPem)
    const wrongKey = writeFile(dir, 'wrong.key', rsaKey().keyPem)
    const bundle = writeFile(dir, 'bundle.pem', cert.pem, intermediate.pem, rsaKey().keyPem)

    const result = await checkCertificates(settings({ caFile }), [target(certFile, rightKey), target(bundle)])
    expect(result.certificates.map((c) => [c.keyFile, c.keyMatch])).toEqual([
      [rightKey, true],
      [bundle, false],
    ])
    expect(ids(result)).toEqual([`cert-key-mismatch:${bundle}`])

    const flagged = await checkCertificates(settings({ caFile }), [target(certFile)], { keys: [wrongKey, rightKey] })
    expect(ids(flagged)).toEqual([`cert-key-mismatch:${wrongKey}`])
    expect(flagged.certificates[0]).toMatchObject({ keyFile: rightKey, keyMatch: true })
  })

  it('connects to endpoints concurrently, checks the host name, and bounds a hung one', async () => {
    const good = leaf({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] })
    const wrongHost = leaf({ commonName: 'elsewhere', sans: ['elsewhere.example.test'] })
    const a = await startTlsServer(good.keyPem, [good, intermediate], { delayMs: 300 })
    const b = await startTlsServer(wrongHost.keyPem, [wrongHost, intermediate], { delayMs: 300 })
    const leafOnly = await startTlsServer(good.keyPem, [good])
    servers.push(a, b, leafOnly)
    const { createServer } = await import('node:net')
    const hung = createServer(() => undefined)
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r))
    const hungPort = (hung.address() as { port: number }).port
    const endpoint = (host: string, port: number): CertificateTarget => ({ kind: 'endpoint', host, port })
    const result = await checkCertificates(settings({ caFile, timeoutMs: 1000 }), [
      endpoint('127.0.0.1', a.port),
      endpoint('localhost', a.port),
      endpoint('127.0.0.1', b.port),
      endpoint('127.0.0.1', leafOnly.port),
      endpoint('127.0.0.1', hungPort),
    ])
    hung.close()
    expect(result.certificates.map((c) => [c.target, c.status])).toEqual([
      [`127.0.0.1:${a.port}`, 'ok'],
      [`localhost:${a.port}`, 'ok'],
      [`127.0.0.1:${b.port}`, 'failed'],
      [`127.0.0.1:${leafOnly.port}`, 'failed'],
      [`127.0.0.1:${hungPort}`, 'failed'],
    ])
    expect(ids(result).sort()).toEqual(
      [`cert-host-mismatch:127.0.0.1:${b.port}`, `cert-untrusted:127.0.0.1:${leafOnly.port}`, `tls-unreachable:127.0.0.1:${hungPort}`].sort(),
    )
    expect(result.findings.find((f) => f.id.startsWith('tls-unreachable'))!.message).toMatch(/completed no TLS handshake within 1 s/)
    expect(result.certificates[0]!.tls).toMatchObject({ protocol: expect.stringMatching(/^TLSv1\.[23]$/) })
  })

  it('says a CA file that cannot be read once, and checks the rest', async () => {
    const path = file('any.pem', leaf({ commonName: 'any' }), intermediate)
    const result = await checkCertificates(settings({ caFile: join(dir, 'missing-ca.pem') }), [target(path)])
    expect(ids(result)).toEqual([`cert-ca-file:${join(dir, 'missing-ca.pem')}`])
    expect(result.certificates[0]!.trusted).toBeUndefined()
  })
})

describe('findings', () => {
  it('orders by severity then id, keeps the worst of duplicate ids, and sets the status', () => {
    const sorted = sortFindings([
      { id: 'b', severity: 'low', message: '' },
      { id: 'a', severity: 'high', message: '' },
      { id: 'c', severity: 'low', message: '' },
      { id: 'b', severity: 'medium', message: '' },
    ])
    expect(sorted.map((f) => `${f.id}:${f.severity}`)).toEqual(['a:high', 'b:medium', 'c:low'])
    expect(statusOf([{ id: 'x', severity: 'info', message: '' }])).toBe('ok')
    expect(statusOf([{ id: 'x', severity: 'low', message: '' }])).toBe('warning')
    expect(statusOf([{ id: 'x', severity: 'critical', message: '' }])).toBe('failed')
  })

  it('parses HOST[:PORT] endpoints', () => {
    expect(parseHostPort('example.com', 443)).toEqual({ host: 'example.com', port: 443 })
    expect(parseHostPort('example.com:8443', 443)).toEqual({ host: 'example.com', port: 8443 })
    expect(parseHostPort('[::1]:8443', 443)).toEqual({ host: '::1', port: 8443 })
    expect(parseHostPort('example.com:99999', 443)).toEqual({ error: 'port 99999 is not between 1 and 65535' })
    expect(parseHostPort('example.com:0', 443)).toHaveProperty('error')
    expect(parseHostPort('::1', 443)).toHaveProperty('error')
    expect(parseHostPort('https://example.com', 443)).toHaveProperty('error')
  })
})

describe('certificate ratings', () => {
  const now = new Date('2026-06-01T12:00:00Z')
  const DAY = 86_400_000
  const thresholds = { warningDays: 30, criticalDays: 7, timeoutMs: 5000 }
  const file: CertificateTarget = { kind: 'file', path: '/etc/ssl/certs/server.crt' }
  const endpoint: CertificateTarget = { kind: 'endpoint', host: 'api.example.test', port: 443 }

  /** A certificate as ratings see it: its facts and validity, no X.509 object. */
  function certificate(options: {
    days?: number
    notBeforeDays?: number
    keyType?: string
    keyBits?: number
    signature?: string
    selfSigned?: boolean
    cn?: string
  }) {
    const notAfter = new Date(now.getTime() + (options.days ?? 200) * DAY + 60_000)
    const notBefore = new Date(now.getTime() + (options.notBeforeDays ?? -10) * DAY)
    const facts: CertificateFacts = {
      subject: `CN=${options.cn ?? 'server'}`,
      commonName: options.cn ?? 'server',
      issuer: 'CN=Intermediate',
      subjectAltNames: [],
      serialNumber: '01',
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      keyType: options.keyType ?? 'RSA',
      keyBits: options.keyBits ?? 2048,
      signatureAlgorithm: options.signature ?? 'sha256WithRSAEncryption',
      isCA: false,
      selfSigned: options.selfSigned ?? false,
      fingerprintSha256: 'AA',
    }
    return { facts, notAfter, notBefore, x509: undefined as never } satisfies Certificate
  }

  const rated = (target: CertificateTarget, cert: Certificate, settings = thresholds) =>
    leafFindings(target, cert, settings, now).map((f) => [f.id, f.severity, f.message])

  it('rates the days left against the warning and critical days, and an expired certificate as critical', () => {
    expect(daysLeft(certificate({ days: 30 }).notAfter, now)).toBe(30)
    expect(rated(file, certificate({ days: 30 }))).toEqual([])
    expect(rated(file, certificate({ days: 29 }))).toEqual([
      [
        `cert-expiry:${file.path}`,
        'medium',
        `the certificate in ${file.path} (CN=server) expires in 29 days, on ${certificate({ days: 29 }).notAfter.toISOString().slice(0, 10)}`,
      ],
    ])
    expect(rated(file, certificate({ days: 7 }))[0]?.[1]).toBe('medium')
    expect(rated(file, certificate({ days: 6 }))[0]?.[1]).toBe('critical')
    expect(rated(endpoint, certificate({ days: 0 }))[0]?.slice(0, 2)).toEqual(['cert-expiry:api.example.test:443', 'critical'])
    const expired = certificate({ days: -3 })
    expect(rated(endpoint, expired)[0]).toEqual([
      'cert-expiry:api.example.test:443',
      'critical',
      `the certificate of api.example.test:443 (CN=server) expired on ${expired.notAfter.toISOString().slice(0, 10)}`,
    ])
    // The thresholds are the run's: --critical-days 14 makes 10 days left critical.
    expect(rated(file, certificate({ days: 10 }), { ...thresholds, criticalDays: 14 })[0]?.[1]).toBe('critical')
    expect(rated(file, certificate({ days: 10 }), { ...thresholds, warningDays: 5, criticalDays: 2 })).toEqual([])
    expect(expiryFinding(file, certificate({ days: 100 }), thresholds, now)).toBeUndefined()
  })

  it('rates a certificate not yet valid, a weak key and a weak signature', () => {
    const ids = (cert: Certificate) => Object.fromEntries(leafFindings(file, cert, thresholds, now).map((f) => [f.id.split(':')[0], f.severity]))
    expect(ids(certificate({ notBeforeDays: 2 }))).toEqual({ 'cert-not-yet-valid': 'high' })
    expect(ids(certificate({ keyBits: 1024 }))).toEqual({ 'cert-weak-key': 'high' })
    expect(ids(certificate({ keyType: 'EC', keyBits: 256 }))).toEqual({})
    expect(ids(certificate({ keyType: 'EC', keyBits: 224 }))).toEqual({ 'cert-weak-key': 'high' })
    expect(ids(certificate({ keyType: 'DSA', keyBits: 3072 }))).toEqual({ 'cert-weak-key': 'high' })
    expect(ids(certificate({ signature: 'sha1WithRSAEncryption' }))).toEqual({ 'cert-weak-signature': 'medium' })
    // A self-signed root's own signature is never checked by a client: no finding for it.
    expect(ids(certificate({ signature: 'sha1WithRSAEncryption', selfSigned: true }))).toEqual({})
  })

  function chain(links: { cert: Certificate; source?: 'presented' | 'trust-store' }[], extra: Partial<ChainResult> = {}): ChainResult {
    return {
      links: links.map((l) => ({ ...l.cert, source: l.source ?? 'presented' })),
      trusted: true,
      outOfOrder: false,
      unused: [],
      ...extra,
    }
  }

  it('rates a chain: untrusted by its cause, each link above the leaf, and a file out of order or with strays', () => {
    const leafCert = certificate({ cn: 'server' })
    const intermediate = certificate({ cn: 'Intermediate', days: 400 })
    const root = certificate({ cn: 'Root', days: 4000, selfSigned: true })
    const severities = (target: CertificateTarget, result: ChainResult) =>
      Object.fromEntries(chainFindings(target, result, 'ca.pem', thresholds, now).map((f) => [f.id, f.severity]))
    expect(severities(file, chain([{ cert: leafCert }, { cert: intermediate }, { cert: root, source: 'trust-store' }]))).toEqual({})

    const selfSigned = chainFindings(endpoint, chain([{ cert: leafCert }], { trusted: false, problem: 'self-signed' }), 'ca.pem', thresholds, now)
    expect(selfSigned).toEqual([
      expect.objectContaining({
        id: 'cert-untrusted:api.example.test:443',
        severity: 'high',
        message: expect.stringMatching(/self-signed and not in the trust store \(ca\.pem\)$/),
      }),
    ])
    const unknown = (target: CertificateTarget) =>
      chainFindings(target, chain([{ cert: leafCert }], { trusted: false, problem: 'unknown-issuer' }), 'ca.pem', thresholds, now)[0]!
    expect(unknown(file).fix).toMatch(/append the intermediate/)
    expect(unknown(endpoint).fix).toMatch(/send the intermediate/)
    expect(unknown(endpoint).message).toMatch(/no issuer found for CN=server \(issuer CN=Intermediate\) in what the server sends/)
    const badSignature = chain([{ cert: leafCert }, { cert: intermediate }], { trusted: false, problem: 'bad-signature', badSignatureAt: 0 })
    expect(chainFindings(file, badSignature, 'ca.pem', thresholds, now)[0]!.message).toMatch(/the signature on CN=server does not verify/)

    const expiredRoot = certificate({ cn: 'Root', days: -1, selfSigned: true })
    const soonIntermediate = certificate({ cn: 'Intermediate', days: 20 })
    const futureIntermediate = certificate({ cn: 'Intermediate', notBeforeDays: 1 })
    expect(severities(file, chain([{ cert: leafCert }, { cert: soonIntermediate }, { cert: expiredRoot, source: 'trust-store' }]))).toEqual({
      [`cert-chain-expiry:${file.path}:1`]: 'medium',
      [`cert-chain-expired:${file.path}:2`]: 'critical',
    })
    expect(severities(file, chain([{ cert: leafCert }, { cert: futureIntermediate }]))).toEqual({ [`cert-chain-not-yet-valid:${file.path}:1`]: 'high' })
    // A root of the trust store close to its end is the CA bundle's business, not this chain's.
    expect(severities(file, chain([{ cert: leafCert }, { cert: certificate({ cn: 'Root', days: 20, selfSigned: true }), source: 'trust-store' }]))).toEqual({})
    expect(severities(file, chain([{ cert: leafCert }, { cert: certificate({ cn: 'Intermediate', signature: 'sha1WithRSAEncryption' }) }]))).toEqual({
      [`cert-weak-signature:${file.path}:1`]: 'medium',
    })

    const messy = chain([{ cert: leafCert }, { cert: intermediate }], { outOfOrder: true, unused: [2] })
    expect(severities(file, messy)).toEqual({ [`cert-chain-order:${file.path}`]: 'low', [`cert-chain-extra:${file.path}`]: 'low' })
    // What a server sends in the wrong order is the client's problem to sort: no finding for an endpoint.
    expect(severities(endpoint, messy)).toEqual({})
  })
})
