import { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { connect as tlsConnect, rootCertificates } from 'node:tls'
import { describeError, formatSeconds } from '../errors.js'
import { formatHostPort, type HostPort } from '../lib/host-port.js'
import { readRegularFile } from '../lib/regular-file.js'
import { MAX_FILE_BYTES, factsFromNode, isSelfSigned, readPemOrDer, type Certificate, type CertificateFacts, type FileProblem } from './certificates.js'
import { SystemError, errorCode, type SystemErrorCode } from './errors.js'

/**
 * Whether certificates are to be trusted where they are used: the trust store, the chain from a
 * leaf to a trust anchor, host name match, and the chain a TLS server presents.
 */

export interface TrustStore {
  /** Where the anchors came from: a file, or node's built-in Mozilla list. */
  source: string
  anchors: X509Certificate[]
}

/** The system's CA bundle on Debian/Ubuntu, RHEL/Fedora, SUSE, Alpine. */
export const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/ssl/cert.pem']

function anchorsFromPem(text: string): X509Certificate[] {
  const anchors: X509Certificate[] = []
  for (const pem of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      anchors.push(new X509Certificate(pem))
    } catch {
      // one bad entry does not spoil the bundle
    }
  }
  return anchors
}

/**
 * The certificates trusted as roots: `caFile` when given (PEM, or one DER certificate), else
 * the system bundle, else node's built-in list. Throws (one line) when caFile cannot be used.
 */
export function loadTrustStore(caFile?: string): Promise<TrustStore> {
  // Once per file and run: the files step, the endpoints step and security-check share it.
  const key = caFile ?? ''
  let loading = trustStores.get(key)
  if (!loading) {
    loading = readTrustStore(caFile)
    trustStores.set(key, loading)
    loading.catch(() => trustStores.delete(key))
  }
  return loading
}

const trustStores = new Map<string, Promise<TrustStore>>()

/** A CA file that is not there, may not be read, is no file, or holds no certificate. */
const FILE_PROBLEM_CODES: Record<FileProblem, SystemErrorCode> = {
  missing: 'not-found',
  unreadable: 'permission',
  'not-a-file': 'bad-setting',
  'not-a-certificate': 'bad-answer',
}

async function readTrustStore(caFile?: string): Promise<TrustStore> {
  if (caFile) {
    const contents = await readPemOrDer(caFile)
    if (contents.error)
      throw new SystemError('certificates', FILE_PROBLEM_CODES[contents.error.kind], `CA file ${contents.error.message.replace(`${caFile} `, '')}`, {
        target: caFile,
      })
    if (contents.certificates.length === 0) throw new SystemError('certificates', 'bad-answer', `CA file ${caFile} holds no certificate`, { target: caFile })
    return { source: caFile, anchors: contents.certificates.map((c) => c.x509) }
  }
  for (const path of SYSTEM_CA_BUNDLES) {
    const text = await readRegularFile(path, MAX_FILE_BYTES, 'CA bundle').then(
      (buffer) => buffer.toString('utf8'),
      () => undefined,
    )
    if (text === undefined) continue
    const anchors = anchorsFromPem(text)
    if (anchors.length > 0) return { source: path, anchors }
  }
  return { source: "node's built-in CA list", anchors: anchorsFromPem(rootCertificates.join('\n')) }
}

export interface ChainLink {
  facts: CertificateFacts
  notBefore: Date
  notAfter: Date
  source: 'presented' | 'trust-store'
  /** Position in the file or in what the server sent (0 = first). */
  position?: number
}

export interface ChainResult {
  /** From the leaf up: to the trust anchor when trusted, as far as it goes when not. */
  links: ChainLink[]
  trusted: boolean
  problem?: 'self-signed' | 'unknown-issuer' | 'bad-signature'
  /** The link whose issuer was found by name but whose signature does not verify with its key. */
  badSignatureAt?: number
  /** The presented certificates are not in issuing order (leaf, its issuer, that one's issuer, ...). */
  outOfOrder: boolean
  /** Positions of presented certificates that are not part of the chain. */
  unused: number[]
}

function issuedBy(child: X509Certificate, parent: X509Certificate): 'yes' | 'name-only' | 'no' {
  try {
    if (!child.checkIssued(parent)) return 'no'
    return child.verify(parent.publicKey) ? 'yes' : 'name-only'
  } catch {
    return 'no'
  }
}

/**
 * Builds the chain from the leaf (presented[0]) through the presented certificates to a trust
 * anchor, checking each link's signature. A trust anchor is preferred over a presented
 * certificate at every step (OpenSSL's trusted-first), so a stale cross-signed intermediate does
 * not lead to an expired root.
 */
export function buildChain(presented: Certificate[], store: Pick<TrustStore, 'anchors'>): ChainResult {
  const leaf = presented[0]
  if (!leaf) throw new Error('buildChain: no certificate')
  const links: ChainLink[] = [{ facts: leaf.facts, notBefore: leaf.notBefore, notAfter: leaf.notAfter, source: 'presented', position: 0 }]
  const used = new Set<number>([0])
  let current = leaf.x509
  const result = (trusted: boolean, problem?: ChainResult['problem'], badSignatureAt?: number): ChainResult => {
    const positions = links.filter((l) => l.source === 'presented').map((l) => l.position!)
    return {
      links,
      trusted,
      ...(problem ? { problem } : {}),
      ...(badSignatureAt !== undefined ? { badSignatureAt } : {}),
      outOfOrder: positions.some((p, i) => p !== i),
      unused: presented.map((_, i) => i).filter((i) => !used.has(i)),
    }
  }
  for (let depth = 0; depth < 10; depth++) {
    if (store.anchors.some((a) => a.fingerprint256 === current.fingerprint256)) return result(true)
    let nameOnly = false
    for (const anchor of store.anchors) {
      const verdict = issuedBy(current, anchor)
      if (verdict === 'yes') {
        const facts = factsFromNode(anchor)
        links.push({ facts, notBefore: new Date(facts.notBefore), notAfter: new Date(facts.notAfter), source: 'trust-store' })
        return result(true)
      }
      if (verdict === 'name-only') nameOnly = true
    }
    if (isSelfSigned(current)) return result(false, 'self-signed')
    let next: number | undefined
    presented.forEach((candidate, i) => {
      if (next !== undefined || used.has(i)) return
      const verdict = issuedBy(current, candidate.x509)
      if (verdict === 'yes') next = i
      else if (verdict === 'name-only') nameOnly = true
    })
    if (next === undefined) {
      // A self-issued certificate whose own signature fails is also a bad signature.
      if (nameOnly || current.subject === current.issuer) return result(false, 'bad-signature', links.length - 1)
      return result(false, 'unknown-issuer')
    }
    const parent = presented[next]!
    used.add(next)
    links.push({ facts: parent.facts, notBefore: parent.notBefore, notAfter: parent.notAfter, source: 'presented', position: next })
    current = parent.x509
  }
  return result(false, 'unknown-issuer')
}

export type HostMatch = 'san' | 'common-name-only' | 'mismatch'

/** Whether the certificate is for this host name or address (RFC 6125 wildcards; SANs, as browsers require). */
export function matchHost(x509: X509Certificate, host: string): HostMatch {
  if (isIP(host)) return x509.checkIP(host) ? 'san' : 'mismatch'
  if (x509.checkHost(host, { subject: 'never' })) return 'san'
  return x509.checkHost(host, { subject: 'always' }) ? 'common-name-only' : 'mismatch'
}

export type FetchProblem = 'refused' | 'timeout' | 'dns' | 'reset' | 'handshake' | 'aborted'

/** Each way a TLS server's chain could not be fetched, in the words of SystemErrorCode. */
const FETCH_PROBLEM_CODES: Record<FetchProblem, SystemErrorCode> = {
  refused: 'refused',
  timeout: 'no-answer',
  dns: 'dns',
  reset: 'unreachable',
  handshake: 'bad-answer',
  aborted: 'cancelled',
}

/** A chain not fetched: a SystemError of certificates whose `kind` says how (cert check rates by it). */
export class PeerChainError extends SystemError {
  constructor(
    readonly kind: FetchProblem,
    message: string,
    options: { cause?: unknown; target?: string } = {},
  ) {
    super('certificates', FETCH_PROBLEM_CODES[kind], message, options)
    this.name = 'PeerChainError'
  }
}

export interface PeerChain {
  /** DER certificates as the server sent them, arranged leaf first by issuer. */
  chain: Buffer[]
  protocol?: string
  cipher?: string
  /** Connect and handshake, in milliseconds. */
  handshakeMs: number
}

/** OpenSSL's codes for a peer that answered, but not in TLS (an HTTP server, SSH, ...). */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_UNKNOWN_PROTOCOL'])

/** What a socket or TLS error says happened to the handshake, by its errno or OpenSSL code. */
export function fetchProblemOf(code: string | undefined): FetchProblem | 'not-tls' {
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns'
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset'
  return code !== undefined && NOT_TLS.has(code) ? 'not-tls' : 'handshake'
}

function classify(error: unknown, endpoint: string): PeerChainError {
  const message = describeError(error)
  const options = { cause: error, target: endpoint }
  switch (fetchProblemOf(errorCode(error))) {
    case 'refused':
      return new PeerChainError('refused', `${endpoint} refused the connection`, options)
    case 'dns':
      return new PeerChainError('dns', `${endpoint}: the host name does not resolve`, options)
    case 'reset':
      return new PeerChainError('reset', `${endpoint} reset the connection during the TLS handshake`, options)
    case 'not-tls':
      return new PeerChainError('handshake', `${endpoint} does not speak TLS (${message})`, options)
    default:
      return new PeerChainError('handshake', `${endpoint}: TLS handshake failed: ${message}`, options)
  }
}

/**
 * Connects, completes a TLS handshake (SNI set to the server name, else the host name) and returns the certificates the
 * server presented, without judging them: trust is decided by buildChain against our own store.
 * The whole exchange is bounded by `timeoutMs` and by `signal`; a server that accepts and never
 * answers costs the timeout, then its socket is destroyed.
 */
export function fetchPeerChain(endpoint: HostPort & { serverName?: string }, timeoutMs: number, signal?: AbortSignal): Promise<PeerChain> {
  const where = formatHostPort(endpoint)
  // The name asked for: serverName when given (an address behind a load balancer), else the host
  // name. RFC 6066: never an address.
  const servername = endpoint.serverName ?? (isIP(endpoint.host) ? undefined : endpoint.host)
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let settled = false
    const socket = tlsConnect({
      host: endpoint.host,
      port: endpoint.port,
      ...(servername ? { servername } : {}),
      rejectUnauthorized: false,
      // An empty store: the peer chain then holds only what the server sent, nothing added locally.
      ca: [],
    })
    const finish = (error: PeerChainError | undefined, value?: PeerChain) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (error) reject(error)
      else resolve(value!)
    }
    const timer = setTimeout(() => finish(new PeerChainError('timeout', `${where} completed no TLS handshake within ${formatSeconds(timeoutMs)}`)), timeoutMs)
    const onAbort = () => finish(new PeerChainError('aborted', `the check of ${where} was cancelled`))
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('secureConnect', () => {
      const chain: Buffer[] = []
      const seen = new Set<string>()
      let peer = socket.getPeerCertificate(true) as (ReturnType<typeof socket.getPeerCertificate> & { issuerCertificate?: unknown }) | undefined
      while (peer?.raw && !seen.has(peer.fingerprint256)) {
        seen.add(peer.fingerprint256)
        chain.push(peer.raw)
        peer = peer.issuerCertificate as typeof peer
      }
      if (chain.length === 0) return finish(new PeerChainError('handshake', `${where} presented no certificate`))
      finish(undefined, {
        chain,
        protocol: socket.getProtocol() ?? undefined,
        cipher: socket.getCipher()?.name,
        handshakeMs: Math.round(performance.now() - started),
      })
    })
    socket.once('error', (error) => finish(classify(error, where)))
    socket.once('close', () => finish(new PeerChainError('reset', `${where} closed the connection during the TLS handshake`)))
  })
}
