import type { KeyObject } from 'node:crypto'
import { describeError } from '../../errors.js'
import { describeCounts, sortFindings, statusOf, type Finding, type StepOutcome } from '../../report/outcome.js'
import { PeerChainError, buildChain, fetchPeerChain, loadTrustStore, matchHost, type ChainResult, type TrustStore } from '../../systems/certificate-chains.js'
import { keyMatches, parseCertificate, readPemOrDer, type Certificate } from '../../systems/certificates.js'
import type { CertificateReport, CertificatesData, ChainLinkReport } from './data.js'
import {
  caFileFinding,
  chainFindings,
  daysLeft,
  describeCert,
  hostFinding,
  keyMismatchFinding,
  leafFindings,
  unmatchedKeyFinding,
  unreachableFinding,
  unreadableFileFinding,
  unusableKeyFinding,
} from './ratings.js'
import { CONCURRENCY, targetName, type CertificateSettings, type CertificateTarget } from './targets.js'

/**
 * The certificate check that `cert check`, `security-check` and `maintain weekly` share: every
 * file and endpoint checked concurrently (each endpoint within its timeout), every problem a
 * rated finding (ratings.ts), and one record per certificate for the report.
 */

export interface CertificateCheckOptions {
  signal?: AbortSignal
  /** Private key files to match against the certificate files checked (`cert check --key`). */
  keys?: readonly string[]
  now?: Date
}

export interface CertificateCheckResult extends CertificatesData {
  /** Sorted, worst first. */
  findings: Finding[]
}

async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
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
  /** A certificate file's own certificate, for the --key comparison. */
  leaf?: Certificate
}

/** What a check needs besides its target. */
interface Checking {
  store: TrustStore | undefined
  settings: CertificateSettings
  now: Date
}

/** What is wrong with a certificate and its chain, whatever it came from. */
function rate(target: CertificateTarget, leaf: Certificate, chain: ChainResult | undefined, { store, settings, now }: Checking): Finding[] {
  const findings = leafFindings(target, leaf, settings, now)
  if (store && chain) findings.push(...chainFindings(target, chain, store.source, settings, now))
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

/** The record of a certificate that was read: its facts, and its chain when one was built. */
function certificateFields(leaf: Certificate, chain: ChainResult | undefined, now: Date): Pick<CertificateReport, 'certificate' | 'chain' | 'trusted'> {
  return {
    certificate: { ...leaf.facts, daysLeft: daysLeft(leaf.notAfter, now) },
    ...(chain ? { chain: chainReport(chain, now), trusted: chain.trusted } : {}),
  }
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

/** Compares a certificate with a key file: undefined when the key could not be compared. */
function compareKey(name: string, leaf: Certificate, key: KeyFile, findings: Finding[]): boolean | undefined {
  const unusable = unusableKeyFinding(name, key)
  if (unusable) {
    findings.push(unusable)
    return undefined
  }
  const matches = key.keys.some((k) => keyMatches(leaf.x509, k))
  if (!matches) findings.push(keyMismatchFinding(name, key.path))
  return matches
}

async function checkFile(target: Extract<CertificateTarget, { kind: 'file' }>, checking: Checking, keyFiles: Map<string, Promise<KeyFile>>): Promise<Rated> {
  const name = target.path
  const contents = await readPemOrDer(target.path)
  if (contents.error) {
    return finish({ target: name, kind: 'file', error: contents.error.message }, [unreadableFileFinding(name, contents.error.kind, contents.error.message)])
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
  const chain = checking.store ? buildChain(contents.certificates, checking.store) : undefined
  findings.push(...rate(target, leaf, chain, checking))
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
  const report = {
    target: name,
    kind: 'file' as const,
    ...certificateFields(leaf, chain, checking.now),
    ...(keyFile ? { keyFile } : {}),
    ...(keyMatch !== undefined ? { keyMatch } : {}),
  }
  return { ...finish(report, findings), leaf }
}

async function checkEndpoint(target: Extract<CertificateTarget, { kind: 'endpoint' }>, checking: Checking, signal?: AbortSignal): Promise<Rated> {
  const name = targetName(target)
  let peer
  try {
    peer = await fetchPeerChain(target, checking.settings.timeoutMs, signal)
  } catch (error) {
    const message = describeError(error)
    return finish({ target: name, kind: 'endpoint', error: message }, [
      unreachableFinding(name, error instanceof PeerChainError ? error.kind : 'handshake', message),
    ])
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
  const chain = checking.store ? buildChain(certificates, checking.store) : undefined
  const findings = rate(target, leaf, chain, checking)
  const match = matchHost(leaf.x509, target.serverName ?? target.host)
  const host = hostFinding(target, leaf.facts, match)
  if (host) findings.push(host)
  const report = {
    target: name,
    kind: 'endpoint' as const,
    ...certificateFields(leaf, chain, checking.now),
    hostMatch: match !== 'mismatch',
    tls: { ...(peer.protocol ? { protocol: peer.protocol } : {}), ...(peer.cipher ? { cipher: peer.cipher } : {}), handshakeMs: peer.handshakeMs },
  }
  return finish(report, findings)
}

/** --key: each key is compared with every certificate file checked; one that fits none is a finding. */
async function matchKeys(keys: readonly string[], rated: Rated[]): Promise<Finding[]> {
  const findings: Finding[] = []
  const files = rated.filter((r): r is Rated & { leaf: Certificate } => r.leaf !== undefined)
  for (const keyPath of keys) {
    const key = await readKeyFile(keyPath)
    const unusable = unusableKeyFinding(keyPath, key)
    if (unusable) {
      findings.push(unusable)
      continue
    }
    const matching = files.filter((r) => key.keys.some((k) => keyMatches(r.leaf.x509, k)))
    for (const r of matching) Object.assign(r.report, { keyFile: keyPath, keyMatch: true })
    if (matching.length === 0) {
      findings.push(
        unmatchedKeyFinding(
          keyPath,
          files.map((r) => r.report.target),
        ),
      )
      for (const r of files) if (r.report.keyMatch === undefined) Object.assign(r.report, { keyFile: keyPath, keyMatch: false })
    }
  }
  return findings
}

/**
 * Checks certificate files and TLS endpoints. Files are read concurrently, endpoints connected
 * to concurrently (each bounded by the settings' timeout and by `signal`); nothing here
 * throws for a bad target: a missing file, a refused or hung endpoint is a finding.
 */
export async function checkCertificates(
  settings: CertificateSettings,
  targets: readonly CertificateTarget[],
  options: CertificateCheckOptions = {},
): Promise<CertificateCheckResult> {
  const now = options.now ?? new Date()
  const findings: Finding[] = []
  let store: TrustStore | undefined
  try {
    store = await loadTrustStore(settings.caFile)
  } catch (error) {
    findings.push(caFileFinding(settings.caFile, describeError(error)))
  }
  const checking: Checking = { store, settings, now }
  const keyFiles = new Map<string, Promise<KeyFile>>()
  const rated = await mapLimited(targets, CONCURRENCY, (target) =>
    target.kind === 'file' ? checkFile(target, checking, keyFiles) : checkEndpoint(target, checking, options.signal),
  )
  findings.push(...(await matchKeys(options.keys ?? [], rated)))
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

/** A step's outcome from a check: its findings, the soonest expiry, one detail line per certificate. */
export function certificatesOutcome(result: CertificateCheckResult): StepOutcome<CertificatesData> {
  const checked = result.certificates.filter((r) => r.certificate)
  const soonest = [...checked].sort((a, b) => a.certificate!.daysLeft - b.certificate!.daysLeft)[0]
  const failedToCheck = result.certificates.length - checked.length
  const parts = [`${result.certificates.length} checked`]
  if (soonest) parts.push(`soonest expiry ${soonest.target} ${soonest.certificate!.daysLeft < 0 ? 'expired' : `in ${soonest.certificate!.daysLeft} days`}`)
  if (failedToCheck > 0) parts.push(`${failedToCheck} could not be checked`)
  parts.push(describeCounts(result.findings))
  return {
    summary: parts.join('; '),
    findings: result.findings,
    details: result.certificates.map(detailLine).filter((l): l is string => l !== undefined),
    data: { trustStore: result.trustStore, certificates: result.certificates },
  }
}
