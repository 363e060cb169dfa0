import type { KeyObject } from 'node:crypto'
import { isIP } from 'node:net'
import type { CertificateEndpoint, Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { formatHostPort } from '../../lib/host-port.js'
import { describeCounts, findingsOutcome, sortFindings, statusOf, type Finding } from '../../report/findings.js'
import type { StepOutcome } from '../../report/runner.js'
import {
  PeerChainError,
  buildChain,
  fetchPeerChain,
  keyMatches,
  loadTrustStore,
  matchHost,
  parseCertificate,
  readPemOrDer,
  type Certificate,
  type CertificateFacts,
  type ChainResult,
  type TrustStore,
} from '../../systems/certificates.js'

/**
 * The certificate check that `cert check`, `security-check` and `maintain weekly` share: every
 * file and endpoint checked concurrently (each endpoint within its timeout), every problem a
 * rated finding with a stable id (`cert-expiry:/etc/ssl/certs/server.crt`,
 * `tls-unreachable:api.example.com:443`), and one record per certificate for the report.
 */

export type CertificateTarget = { kind: 'file'; path: string; key?: string } | ({ kind: 'endpoint' } & CertificateEndpoint)

export interface CertificateOptions {
  /** Private key files to match against the certificate files checked (`cert check --key`). */
  keys?: string[]
  now?: Date
}

export interface ChainLinkReport {
  subject: string
  issuer: string
  notAfter: string
  daysLeft: number
  source: 'presented' | 'trust-store'
}

export interface CertificateReport {
  /** The file path, or host:port. */
  target: string
  kind: 'file' | 'endpoint'
  status: 'ok' | 'warning' | 'failed'
  /** Why nothing could be checked (missing file, refused connection). */
  error?: string
  certificate?: CertificateFacts & { daysLeft: number }
  chain?: ChainLinkReport[]
  /** Chains to a certificate of the trust store (undefined when the store could not be read). */
  trusted?: boolean
  hostMatch?: boolean
  keyFile?: string
  keyMatch?: boolean
  tls?: { protocol?: string; cipher?: string; handshakeMs: number }
  findings: string[]
}

export interface CertificateCheckResult {
  certificates: CertificateReport[]
  findings: Finding[]
  trustStore: string
}

/** Endpoints checked at once; more wait for a free slot. */
const CONCURRENCY = 64

/** The file path; host:port for an endpoint, serverName@address:port when it must serve another name. */
export function targetName(target: CertificateTarget): string {
  if (target.kind === 'file') return target.path
  return target.serverName ? `${target.serverName}@${formatHostPort(target)}` : formatHostPort(target)
}

/** The files and endpoints of the configuration. */
export function configuredTargets(config: Config): CertificateTarget[] {
  return [
    ...config.certificates.files.map((f): CertificateTarget => ({ kind: 'file', path: f.path, ...(f.key ? { key: f.key } : {}) })),
    ...config.certificates.endpoints.map((e): CertificateTarget => ({ kind: 'endpoint', ...e })),
  ]
}

const DAY_MS = 86_400_000

function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10)
}

function describeCert(facts: CertificateFacts): string {
  return facts.commonName ? `CN=${facts.commonName}` : facts.subject || '(empty subject)'
}

async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

interface Rated {
  report: CertificateReport
  findings: Finding[]
}

/** What is wrong with a certificate and its chain, whatever it came from. */
function rateCertificate(
  target: CertificateTarget,
  leaf: Certificate,
  chain: ChainResult | undefined,
  store: TrustStore | undefined,
  config: Config,
  now: Date,
): Finding[] {
  const name = targetName(target)
  const { warningDays, criticalDays } = config.certificates
  const findings: Finding[] = []
  const left = daysLeft(leaf.notAfter, now)
  const what = target.kind === 'file' ? `the certificate in ${name}` : `the certificate of ${name}`
  const renew =
    target.kind === 'file'
      ? `renew it and install the new certificate at ${name} (then reload the services that use it)`
      : `renew the certificate ${name} serves and reload its server`
  if (leaf.notAfter.getTime() <= now.getTime()) {
    findings.push({
      id: `cert-expiry:${name}`,
      severity: 'critical',
      message: `${what} (${describeCert(leaf.facts)}) expired on ${day(leaf.notAfter)}`,
      fix: renew,
    })
  } else if (left < criticalDays) {
    findings.push({
      id: `cert-expiry:${name}`,
      severity: 'critical',
      message: `${what} (${describeCert(leaf.facts)}) expires in ${left} days, on ${day(leaf.notAfter)}`,
      fix: renew,
    })
  } else if (left < warningDays) {
    findings.push({
      id: `cert-expiry:${name}`,
      severity: 'medium',
      message: `${what} (${describeCert(leaf.facts)}) expires in ${left} days, on ${day(leaf.notAfter)}`,
      fix: renew,
    })
  }
  if (leaf.notBefore.getTime() > now.getTime()) {
    findings.push({
      id: `cert-not-yet-valid:${name}`,
      severity: 'high',
      message: `${what} is not valid before ${leaf.notBefore.toISOString()}`,
      fix: 'check the clock of the machine that issued it (and of this one), or install the previous certificate until then',
    })
  }
  const weakKey =
    (leaf.facts.keyType.startsWith('RSA') && (leaf.facts.keyBits ?? 0) < 2048) ||
    (leaf.facts.keyType === 'EC' && (leaf.facts.keyBits ?? 0) < 256) ||
    leaf.facts.keyType === 'DSA'
  if (weakKey)
    findings.push({
      id: `cert-weak-key:${name}`,
      severity: 'high',
      message: `${what} has a weak key: ${leaf.facts.keyType} ${leaf.facts.keyBits ?? ''}`.trim(),
      fix: 'issue a new certificate with an RSA 2048+ or ECDSA P-256+ key',
    })
  if (store && chain) {
    if (!chain.trusted) {
      const message =
        chain.problem === 'self-signed'
          ? `${what} is self-signed and not in the trust store (${store.source})`
          : chain.problem === 'bad-signature'
            ? `the chain of ${name} is broken: the signature on ${describeCert(chain.links[chain.badSignatureAt ?? 0]!.facts)} does not verify with its issuer's key`
            : `the chain of ${name} does not lead to a trusted root: no issuer found for ${describeCert(chain.links.at(-1)!.facts)} (issuer ${chain.links.at(-1)!.facts.issuer}) in ${target.kind === 'file' ? 'the file' : 'what the server sends'} or the trust store (${store.source})`
      const fix =
        chain.problem === 'self-signed'
          ? 'use a certificate from a CA, or pass the certificate itself as --ca-file (certificates.caFile) if it is meant to be trusted this way'
          : chain.problem === 'bad-signature'
            ? 'an intermediate of the wrong CA (same name, other key) is installed: put the intermediate that really issued the certificate after it'
            : target.kind === 'file'
              ? 'append the intermediate certificate(s) to the file (a "fullchain"), or check it against the right CA with --ca-file'
              : 'configure the server to send the intermediate certificate(s) after its own (a "fullchain" file)'
      findings.push({ id: `cert-untrusted:${name}`, severity: 'high', message, fix })
    }
    chain.links.forEach((link, index) => {
      if (index === 0) return
      const role = link.source === 'trust-store' ? 'trusted root' : link.facts.selfSigned ? 'root' : 'intermediate'
      if (link.notAfter.getTime() <= now.getTime()) {
        findings.push({
          id: `cert-chain-expired:${name}:${index}`,
          severity: 'critical',
          message: `the ${role} ${describeCert(link.facts)} in the chain of ${name} expired on ${day(link.notAfter)}`,
          fix:
            link.source === 'trust-store'
              ? 'update the CA bundle (ca-certificates) and the chain the certificate is served with'
              : 'replace that certificate in the chain with the current one from the CA',
        })
      } else if (link.notBefore.getTime() > now.getTime()) {
        findings.push({
          id: `cert-chain-not-yet-valid:${name}:${index}`,
          severity: 'high',
          message: `the ${role} ${describeCert(link.facts)} in the chain of ${name} is not valid before ${link.notBefore.toISOString()}`,
          fix: "check the clock, or use the CA's current intermediate",
        })
      } else if (daysLeft(link.notAfter, now) < warningDays && link.source === 'presented') {
        findings.push({
          id: `cert-chain-expiry:${name}:${index}`,
          severity: 'medium',
          message: `the ${role} ${describeCert(link.facts)} in the chain of ${name} expires in ${daysLeft(link.notAfter, now)} days`,
          fix: "get the CA's new intermediate and serve it instead",
        })
      }
      if (/sha1|md5|md2/i.test(link.facts.signatureAlgorithm) && !link.facts.selfSigned) {
        findings.push({
          id: `cert-weak-signature:${name}:${index}`,
          severity: 'medium',
          message: `${describeCert(link.facts)} in the chain of ${name} is signed with ${link.facts.signatureAlgorithm}`,
          fix: "use the CA's SHA-256 intermediate",
        })
      }
    })
    if (target.kind === 'file' && chain.outOfOrder) {
      findings.push({
        id: `cert-chain-order:${name}`,
        severity: 'low',
        message: `the certificates in ${name} are not in chain order (each followed by its issuer)`,
        fix: 'put the server certificate first, then its intermediate(s), in issuing order',
      })
    }
    if (target.kind === 'file' && chain.unused.length > 0) {
      findings.push({
        id: `cert-chain-extra:${name}`,
        severity: 'low',
        message: `${chain.unused.length} certificate(s) in ${name} are not part of the chain (positions ${chain.unused.map((p) => p + 1).join(', ')})`,
        fix: 'remove the certificates that do not belong to this chain',
      })
    }
  }
  if (/sha1|md5|md2/i.test(leaf.facts.signatureAlgorithm) && !leaf.facts.selfSigned) {
    findings.push({
      id: `cert-weak-signature:${name}`,
      severity: 'medium',
      message: `${what} is signed with ${leaf.facts.signatureAlgorithm}`,
      fix: 'reissue it with a SHA-256 signature',
    })
  }
  return findings
}

function chainReport(chain: ChainResult, now: Date): ChainLinkReport[] {
  return chain.links.map((l) => ({
    subject: l.facts.subject,
    issuer: l.facts.issuer,
    notAfter: l.facts.notAfter,
    daysLeft: daysLeft(l.notAfter, now),
    source: l.source,
  }))
}

function finish(report: Omit<CertificateReport, 'status' | 'findings'>, findings: Finding[]): Rated {
  const sorted = sortFindings(findings)
  return { report: { ...report, status: statusOf(sorted), findings: sorted.map((f) => f.id) }, findings: sorted }
}

interface KeyFile {
  path: string
  keys: KeyObject[]
  encrypted: boolean
  error?: string
}

async function readKeyFile(path: string): Promise<KeyFile> {
  const contents = await readPemOrDer(path)
  if (contents.error && contents.error.kind !== 'not-a-certificate') return { path, keys: [], encrypted: false, error: contents.error.message }
  if (contents.keys.length === 0 && contents.encryptedKeys === 0) return { path, keys: [], encrypted: false, error: `${path} holds no private key` }
  return { path, keys: contents.keys, encrypted: contents.encryptedKeys > 0 && contents.keys.length === 0 }
}

/** Why a key file cannot be compared with a certificate, if it cannot. */
function unusableKey(name: string, key: KeyFile): Finding | undefined {
  if (key.error)
    return {
      id: `cert-key-unreadable:${name}`,
      severity: 'high',
      message: `the private key for ${name} cannot be used: ${key.error}`,
      fix: 'fix the key path (certificates.files[].key or --key)',
    }
  if (key.encrypted)
    return { id: `cert-key-encrypted:${name}`, severity: 'info', message: `the private key ${key.path} is encrypted: not compared with ${name}` }
  return undefined
}

/** Compares a certificate with a key file: undefined when the key could not be compared. */
function compareKey(name: string, leaf: Certificate, key: KeyFile, findings: Finding[]): boolean | undefined {
  const unusable = unusableKey(name, key)
  if (unusable) {
    findings.push(unusable)
    return undefined
  }
  const matches = key.keys.some((k) => keyMatches(leaf.x509, k))
  if (!matches)
    findings.push({
      id: `cert-key-mismatch:${name}`,
      severity: 'high',
      message: `the private key ${key.path} does not belong to the certificate in ${name}`,
      fix: 'install the key the certificate was issued for (or the certificate that goes with this key); the server will not start or will fail handshakes',
    })
  return matches
}

async function checkFile(
  target: Extract<CertificateTarget, { kind: 'file' }>,
  store: TrustStore | undefined,
  config: Config,
  now: Date,
  keyFiles: Map<string, Promise<KeyFile>>,
): Promise<Rated & { leaf?: Certificate }> {
  const name = target.path
  const contents = await readPemOrDer(target.path)
  if (contents.error) {
    const id = contents.error.kind === 'not-a-certificate' ? `cert-invalid:${name}` : `cert-unreadable:${name}`
    const fix =
      contents.error.kind === 'missing'
        ? 'fix the path (certificates.files, or the FILE argument), or install the certificate there'
        : contents.error.kind === 'not-a-certificate' || contents.error.kind === 'not-a-file'
          ? 'point at the PEM or DER certificate itself (not a directory, a key, a CSR or another file)'
          : 'run as a user that may read it, or fix its permissions'
    return finish({ target: name, kind: 'file', error: contents.error.message }, [{ id, severity: 'high', message: contents.error.message, fix }])
  }
  const findings: Finding[] = []
  const leaf = contents.certificates[0]
  if (!leaf) {
    return finish({ target: name, kind: 'file', error: `${name} holds a private key but no certificate` }, [
      {
        id: `cert-invalid:${name}`,
        severity: 'high',
        message: `${name} holds a private key but no certificate`,
        fix: 'point at the certificate file; give the key with certificates.files[].key or --key',
      },
    ])
  }
  if (contents.invalid.length > 0)
    findings.push({
      id: `cert-invalid:${name}`,
      severity: 'medium',
      message: `${name}: ${contents.invalid.length} block(s) cannot be parsed: ${contents.invalid[0]}`,
      fix: 'remove or repair the broken PEM block',
    })
  const chain = store ? buildChain(contents.certificates, store) : undefined
  findings.push(...rateCertificate(target, leaf, chain, store, config, now))
  let keyFile: string | undefined
  let keyMatch: boolean | undefined
  if (target.key) {
    keyFile = target.key
    const key = keyFiles.get(target.key) ?? readKeyFile(target.key)
    keyFiles.set(target.key, key)
    keyMatch = compareKey(name, leaf, await key, findings)
  } else if (contents.keys.length > 0) {
    keyFile = name
    keyMatch = compareKey(name, leaf, { path: name, keys: contents.keys, encrypted: false }, findings)
  }
  return {
    ...finish(
      {
        target: name,
        kind: 'file',
        certificate: { ...leaf.facts, daysLeft: daysLeft(leaf.notAfter, now) },
        ...(chain ? { chain: chainReport(chain, now), trusted: chain.trusted } : {}),
        ...(keyFile ? { keyFile } : {}),
        ...(keyMatch !== undefined ? { keyMatch } : {}),
      },
      findings,
    ),
    leaf,
  }
}

async function checkEndpoint(
  target: Extract<CertificateTarget, { kind: 'endpoint' }>,
  store: TrustStore | undefined,
  config: Config,
  now: Date,
  signal?: AbortSignal,
): Promise<Rated> {
  const name = targetName(target)
  let peer
  try {
    peer = await fetchPeerChain(target, config.certificates.timeoutMs, signal)
  } catch (error) {
    const kind = error instanceof PeerChainError ? error.kind : 'handshake'
    const message = describeError(error)
    const fix =
      kind === 'refused'
        ? `start the TLS service on ${name}, or remove it from certificates.endpoints`
        : kind === 'timeout'
          ? `${name} accepts connections but completes no handshake: is it hung, or not a TLS port?`
          : kind === 'dns'
            ? 'fix the host name'
            : `check that ${name} serves TLS`
    return finish({ target: name, kind: 'endpoint', error: message }, [{ id: `tls-unreachable:${name}`, severity: 'high', message, fix }])
  }
  const certificates: Certificate[] = []
  for (const der of peer.chain) {
    try {
      certificates.push(await parseCertificate(der))
    } catch (error) {
      if (certificates.length === 0) {
        const message = `${name} sent a certificate that cannot be parsed: ${describeError(error)}`
        return finish({ target: name, kind: 'endpoint', error: message }, [
          { id: `cert-invalid:${name}`, severity: 'high', message, fix: 'check the certificate the server is configured with' },
        ])
      }
    }
  }
  const leaf = certificates[0]!
  const chain = store ? buildChain(certificates, store) : undefined
  const findings = rateCertificate(target, leaf, chain, store, config, now)
  // The name clients ask for: serverName when the endpoint is addressed otherwise (check_ssl_cert's --sni).
  const expected = target.serverName ?? target.host
  const match = matchHost(leaf.x509, expected)
  if (match === 'mismatch') {
    findings.push({
      id: `cert-host-mismatch:${name}`,
      severity: 'high',
      message: `the certificate of ${name} is not valid for ${expected}: it names ${leaf.facts.subjectAltNames.join(', ') || leaf.facts.subject}`,
      fix: `issue a certificate whose subject alternative names include ${isIP(expected) ? `IP:${expected}` : expected}${target.serverName ? `, or check that ${formatHostPort(target)} is the server of ${expected}` : ''}`,
    })
  } else if (match === 'common-name-only') {
    findings.push({
      id: `cert-host-cn-only:${name}`,
      severity: 'low',
      message: `the certificate of ${name} names ${expected} only in its subject CN, which browsers and current clients ignore`,
      fix: 'reissue it with the name as a subject alternative name (SAN)',
    })
  }
  return finish(
    {
      target: name,
      kind: 'endpoint',
      certificate: { ...leaf.facts, daysLeft: daysLeft(leaf.notAfter, now) },
      ...(chain ? { chain: chainReport(chain, now), trusted: chain.trusted } : {}),
      hostMatch: match !== 'mismatch',
      tls: { ...(peer.protocol ? { protocol: peer.protocol } : {}), ...(peer.cipher ? { cipher: peer.cipher } : {}), handshakeMs: peer.handshakeMs },
    },
    findings,
  )
}

/**
 * Checks certificate files and TLS endpoints. Files are read concurrently, endpoints connected
 * to concurrently (each bounded by certificates.timeoutSeconds and by `signal`); nothing here
 * throws for a bad target: a missing file, a refused or hung endpoint is a finding.
 */
export async function checkCertificates(
  config: Config,
  targets: CertificateTarget[],
  signal?: AbortSignal,
  options: CertificateOptions = {},
): Promise<CertificateCheckResult> {
  const now = options.now ?? new Date()
  const findings: Finding[] = []
  let store: TrustStore | undefined
  try {
    store = await loadTrustStore(config.certificates.caFile)
  } catch (error) {
    const caFile = config.certificates.caFile ?? 'the system CA bundle'
    findings.push({
      id: `cert-ca-file:${caFile}`,
      severity: 'high',
      message: `${describeError(error)}: chains were not checked`,
      fix: 'fix --ca-file (certificates.caFile)',
    })
  }
  const keyFiles = new Map<string, Promise<KeyFile>>()
  const rated = await mapLimited(targets, CONCURRENCY, (target) =>
    target.kind === 'file' ? checkFile(target, store, config, now, keyFiles) : checkEndpoint(target, store, config, now, signal),
  )

  // --key: each key is compared with every certificate file checked; one that fits none is a finding.
  for (const keyPath of options.keys ?? []) {
    const key = await readKeyFile(keyPath)
    const files = rated.filter((r): r is Rated & { leaf: Certificate } => 'leaf' in r && r.leaf !== undefined)
    const unusable = unusableKey(keyPath, key)
    if (unusable) {
      findings.push(unusable)
      continue
    }
    const matching = files.filter((r) => key.keys.some((k) => keyMatches(r.leaf.x509, k)))
    for (const r of matching) Object.assign(r.report, { keyFile: keyPath, keyMatch: true })
    if (matching.length === 0) {
      const checked = files.map((r) => r.report.target)
      findings.push({
        id: `cert-key-mismatch:${keyPath}`,
        severity: 'high',
        message: `the private key ${keyPath} belongs to none of the certificates checked${checked.length ? ` (${checked.join(', ')})` : ''}`,
        fix: 'install the key the certificate was issued for, or the certificate that goes with this key',
      })
      for (const r of files) if (r.report.keyMatch === undefined) Object.assign(r.report, { keyFile: keyPath, keyMatch: false })
    }
  }
  for (const r of rated) findings.push(...r.findings)
  return { certificates: rated.map((r) => r.report), findings: sortFindings(findings), trustStore: store?.source ?? 'unavailable' }
}

function detailLine(r: CertificateReport): string | undefined {
  // A target that could not be checked shows as its finding.
  if (!r.certificate) return undefined
  const c = r.certificate
  const parts = [
    describeCert(c),
    c.daysLeft < 0 ? `expired ${-c.daysLeft} days ago (${c.notAfter.slice(0, 10)})` : `${c.daysLeft} days left (until ${c.notAfter.slice(0, 10)})`,
    `${c.keyType}${c.keyBits ? ` ${c.keyBits}` : ''}`,
    c.signatureAlgorithm,
    `issuer ${c.issuerCommonName ? `CN=${c.issuerCommonName}` : c.issuer}`,
  ]
  if (r.trusted !== undefined) parts.push(r.trusted ? `chain trusted (${r.chain?.length ?? 1} links)` : 'chain NOT trusted')
  if (r.hostMatch !== undefined) parts.push(r.hostMatch ? 'host name ok' : 'host name MISMATCH')
  if (r.keyMatch !== undefined) parts.push(r.keyMatch ? 'key matches' : 'key does NOT match')
  if (r.tls) parts.push(`${r.tls.protocol ?? 'TLS'} in ${r.tls.handshakeMs} ms`)
  return `${r.target}: ${parts.join(', ')}`
}

/** A step's outcome from a check: status from the worst finding, one detail line per certificate. */
export function certificatesOutcome(result: CertificateCheckResult): StepOutcome {
  const checked = result.certificates.filter((r) => r.certificate)
  const soonest = [...checked].sort((a, b) => a.certificate!.daysLeft - b.certificate!.daysLeft)[0]
  const failedToCheck = result.certificates.length - checked.length
  const parts = [`${result.certificates.length} checked`]
  if (soonest) parts.push(`soonest expiry ${soonest.target} ${soonest.certificate!.daysLeft < 0 ? 'expired' : `in ${soonest.certificate!.daysLeft} days`}`)
  if (failedToCheck > 0) parts.push(`${failedToCheck} could not be checked`)
  parts.push(describeCounts(result.findings))
  return findingsOutcome(
    parts.join('; '),
    result.findings,
    { trustStore: result.trustStore, certificates: result.certificates },
    result.certificates.map(detailLine).filter((l): l is string => l !== undefined),
  )
}
