/**
 * What is wrong with a certificate, its chain, its key or its endpoint, as rated findings with
 * stable ids (`cert-expiry:/etc/ssl/certs/server.crt`, `tls-unreachable:api.example.com:443`).
 * Pure: what was read or fetched goes in, findings come out.
 */

import { isIP } from 'node:net'
import { formatHostPort } from '../../lib/host-port.js'
import type { Finding } from '../../report/outcome.js'
import type { ChainResult, FetchProblem, HostMatch } from '../../systems/certificate-chains.js'
import type { Certificate, CertificateFacts, FileProblem } from '../../systems/certificates.js'
import { targetName, type CertificateSettings, type CertificateTarget } from './targets.js'

const DAY_MS = 86_400_000

/** Whole days until `notAfter`; negative once it has passed. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10)
}

export function describeCert(facts: Pick<CertificateFacts, 'commonName' | 'subject'>): string {
  return facts.commonName ? `CN=${facts.commonName}` : facts.subject || '(empty subject)'
}

const WEAK_SIGNATURE = /sha1|md5|md2/i

function subjectOf(target: CertificateTarget): string {
  const name = targetName(target)
  return target.kind === 'file' ? `the certificate in ${name}` : `the certificate of ${name}`
}

/** Days left against the thresholds: expired or fewer than critical days is critical, fewer than warning days medium. */
export function expiryFinding(
  target: CertificateTarget,
  leaf: Pick<Certificate, 'facts' | 'notAfter'>,
  settings: CertificateSettings,
  now: Date,
): Finding | undefined {
  const name = targetName(target)
  const left = daysLeft(leaf.notAfter, now)
  const what = `${subjectOf(target)} (${describeCert(leaf.facts)})`
  const fix =
    target.kind === 'file'
      ? `renew it and install the new certificate at ${name} (then reload the services that use it)`
      : `renew the certificate ${name} serves and reload its server`
  const id = `cert-expiry:${name}`
  if (leaf.notAfter.getTime() <= now.getTime()) return { id, severity: 'critical', message: `${what} expired on ${day(leaf.notAfter)}`, fix }
  const when = `expires in ${left} days, on ${day(leaf.notAfter)}`
  if (left < settings.criticalDays) return { id, severity: 'critical', message: `${what} ${when}`, fix }
  if (left < settings.warningDays) return { id, severity: 'medium', message: `${what} ${when}`, fix }
  return undefined
}

/** The certificate itself: when it is valid, its key, its signature. */
export function leafFindings(target: CertificateTarget, leaf: Certificate, settings: CertificateSettings, now: Date): Finding[] {
  const name = targetName(target)
  const what = subjectOf(target)
  const findings: Finding[] = []
  const expiry = expiryFinding(target, leaf, settings, now)
  if (expiry) findings.push(expiry)
  if (leaf.notBefore.getTime() > now.getTime()) {
    findings.push({
      id: `cert-not-yet-valid:${name}`,
      severity: 'high',
      message: `${what} is not valid before ${leaf.notBefore.toISOString()}`,
      fix: 'check the clock of the machine that issued it (and of this one), or install the previous certificate until then',
    })
  }
  const { keyType, keyBits } = leaf.facts
  const weakKey = (keyType.startsWith('RSA') && (keyBits ?? 0) < 2048) || (keyType === 'EC' && (keyBits ?? 0) < 256) || keyType === 'DSA'
  if (weakKey)
    findings.push({
      id: `cert-weak-key:${name}`,
      severity: 'high',
      message: `${what} has a weak key: ${keyType} ${keyBits ?? ''}`.trim(),
      fix: 'issue a new certificate with an RSA 2048+ or ECDSA P-256+ key',
    })
  if (WEAK_SIGNATURE.test(leaf.facts.signatureAlgorithm) && !leaf.facts.selfSigned) {
    findings.push({
      id: `cert-weak-signature:${name}`,
      severity: 'medium',
      message: `${what} is signed with ${leaf.facts.signatureAlgorithm}`,
      fix: 'reissue it with a SHA-256 signature',
    })
  }
  return findings
}

function untrustedFinding(target: CertificateTarget, chain: ChainResult, trustStore: string): Finding {
  const name = targetName(target)
  const last = chain.links.at(-1)!.facts
  const message =
    chain.problem === 'self-signed'
      ? `${subjectOf(target)} is self-signed and not in the trust store (${trustStore})`
      : chain.problem === 'bad-signature'
        ? `the chain of ${name} is broken: the signature on ${describeCert(chain.links[chain.badSignatureAt ?? 0]!.facts)} does not verify with its issuer's key`
        : `the chain of ${name} does not lead to a trusted root: no issuer found for ${describeCert(last)} (issuer ${last.issuer}) in ${target.kind === 'file' ? 'the file' : 'what the server sends'} or the trust store (${trustStore})`
  const fix =
    chain.problem === 'self-signed'
      ? 'use a certificate from a CA, or pass the certificate itself as --ca-file (certificates.caFile) if it is meant to be trusted this way'
      : chain.problem === 'bad-signature'
        ? 'an intermediate of the wrong CA (same name, other key) is installed: put the intermediate that really issued the certificate after it'
        : target.kind === 'file'
          ? 'append the intermediate certificate(s) to the file (a "fullchain"), or check it against the right CA with --ca-file'
          : 'configure the server to send the intermediate certificate(s) after its own (a "fullchain" file)'
  return { id: `cert-untrusted:${name}`, severity: 'high', message, fix }
}

/** One link above the leaf: its validity, and a weak signature. */
function linkFindings(name: string, link: ChainResult['links'][number], index: number, settings: CertificateSettings, now: Date): Finding[] {
  const findings: Finding[] = []
  const role = link.source === 'trust-store' ? 'trusted root' : link.facts.selfSigned ? 'root' : 'intermediate'
  const which = `the ${role} ${describeCert(link.facts)} in the chain of ${name}`
  if (link.notAfter.getTime() <= now.getTime()) {
    findings.push({
      id: `cert-chain-expired:${name}:${index}`,
      severity: 'critical',
      message: `${which} expired on ${day(link.notAfter)}`,
      fix:
        link.source === 'trust-store'
          ? 'update the CA bundle (ca-certificates) and the chain the certificate is served with'
          : 'replace that certificate in the chain with the current one from the CA',
    })
  } else if (link.notBefore.getTime() > now.getTime()) {
    findings.push({
      id: `cert-chain-not-yet-valid:${name}:${index}`,
      severity: 'high',
      message: `${which} is not valid before ${link.notBefore.toISOString()}`,
      fix: "check the clock, or use the CA's current intermediate",
    })
  } else if (daysLeft(link.notAfter, now) < settings.warningDays && link.source === 'presented') {
    findings.push({
      id: `cert-chain-expiry:${name}:${index}`,
      severity: 'medium',
      message: `${which} expires in ${daysLeft(link.notAfter, now)} days`,
      fix: "get the CA's new intermediate and serve it instead",
    })
  }
  if (WEAK_SIGNATURE.test(link.facts.signatureAlgorithm) && !link.facts.selfSigned) {
    findings.push({
      id: `cert-weak-signature:${name}:${index}`,
      severity: 'medium',
      message: `${describeCert(link.facts)} in the chain of ${name} is signed with ${link.facts.signatureAlgorithm}`,
      fix: "use the CA's SHA-256 intermediate",
    })
  }
  return findings
}

/** The chain against the trust store (`trustStore` names it): trust, each link's validity, a file's order and strays. */
export function chainFindings(target: CertificateTarget, chain: ChainResult, trustStore: string, settings: CertificateSettings, now: Date): Finding[] {
  const name = targetName(target)
  const findings: Finding[] = []
  if (!chain.trusted) findings.push(untrustedFinding(target, chain, trustStore))
  chain.links.forEach((link, index) => {
    if (index > 0) findings.push(...linkFindings(name, link, index, settings, now))
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
  return findings
}

/** A certificate file that could not be read as one. */
export function unreadableFileFinding(path: string, problem: FileProblem, message: string): Finding {
  const fix =
    problem === 'missing'
      ? 'fix the path (certificates.files, or the FILE argument), or install the certificate there'
      : problem === 'not-a-certificate' || problem === 'not-a-file'
        ? 'point at the PEM or DER certificate itself (not a directory, a key, a CSR or another file)'
        : 'run as a user that may read it, or fix its permissions'
  return { id: problem === 'not-a-certificate' ? `cert-invalid:${path}` : `cert-unreadable:${path}`, severity: 'high', message, fix }
}

/** A key file that cannot be compared with a certificate: unreadable (high), or encrypted (info). */
export function unusableKeyFinding(name: string, key: { path: string; encrypted: boolean; error?: string }): Finding | undefined {
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

/** The key a certificate file names does not belong to it. */
export function keyMismatchFinding(name: string, keyPath: string): Finding {
  return {
    id: `cert-key-mismatch:${name}`,
    severity: 'high',
    message: `the private key ${keyPath} does not belong to the certificate in ${name}`,
    fix: 'install the key the certificate was issued for (or the certificate that goes with this key); the server will not start or will fail handshakes',
  }
}

/** A --key that fits none of the certificate files checked. */
export function unmatchedKeyFinding(keyPath: string, checked: readonly string[]): Finding {
  return {
    id: `cert-key-mismatch:${keyPath}`,
    severity: 'high',
    message: `the private key ${keyPath} belongs to none of the certificates checked${checked.length ? ` (${checked.join(', ')})` : ''}`,
    fix: 'install the key the certificate was issued for, or the certificate that goes with this key',
  }
}

/** An endpoint that completed no handshake. */
export function unreachableFinding(name: string, problem: FetchProblem, message: string): Finding {
  const fix =
    problem === 'refused'
      ? `start the TLS service on ${name}, or remove it from certificates.endpoints`
      : problem === 'timeout'
        ? `${name} accepts connections but completes no handshake: is it hung, or not a TLS port?`
        : problem === 'dns'
          ? 'fix the host name'
          : `check that ${name} serves TLS`
  return { id: `tls-unreachable:${name}`, severity: 'high', message, fix }
}

/** The name clients ask an endpoint for against what its certificate names. */
export function hostFinding(target: Extract<CertificateTarget, { kind: 'endpoint' }>, facts: CertificateFacts, match: HostMatch): Finding | undefined {
  const name = targetName(target)
  // The name clients ask for: serverName when the endpoint is addressed otherwise (check_ssl_cert's --sni).
  const expected = target.serverName ?? target.host
  if (match === 'mismatch')
    return {
      id: `cert-host-mismatch:${name}`,
      severity: 'high',
      message: `the certificate of ${name} is not valid for ${expected}: it names ${facts.subjectAltNames.join(', ') || facts.subject}`,
      fix: `issue a certificate whose subject alternative names include ${isIP(expected) ? `IP:${expected}` : expected}${target.serverName ? `, or check that ${formatHostPort(target)} is the server of ${expected}` : ''}`,
    }
  if (match === 'common-name-only')
    return {
      id: `cert-host-cn-only:${name}`,
      severity: 'low',
      message: `the certificate of ${name} names ${expected} only in its subject CN, which browsers and current clients ignore`,
      fix: 'reissue it with the name as a subject alternative name (SAN)',
    }
  return undefined
}

/** The trust store could not be read: no chain is checked. */
export function caFileFinding(caFile: string | undefined, reason: string): Finding {
  return {
    id: `cert-ca-file:${caFile ?? 'the system CA bundle'}`,
    severity: 'high',
    message: `${reason}: chains were not checked`,
    fix: 'fix --ca-file (certificates.caFile)',
  }
}
