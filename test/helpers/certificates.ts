import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer as createNetServer, type Socket } from 'node:net'
import { createSecureContext, createServer, type Server } from 'node:tls'
import { join } from 'node:path'
import forge from 'node-forge'

/**
 * Certificates made at test time with node-forge (no private key is ever committed): a root CA,
 * an intermediate and leaves with any validity window, SANs and issuer; and TLS servers on
 * 127.0.0.1 that present them.
 */

export interface Issued {
  cert: forge.pki.Certificate
  key: forge.pki.rsa.PrivateKey
  pem: string
  keyPem: string
}

const DAY = 86_400_000

/** RSA keys come from node:crypto (native, fast) and are converted for forge. */
export function rsaKey(bits = 2048): { key: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  const key = forge.pki.privateKeyFromPem(privateKey)
  return { key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), keyPem: privateKey }
}

export interface IssueOptions {
  commonName: string
  /** DNS names and IP addresses: "localhost", "127.0.0.1". */
  sans?: string[]
  /** Days from now: negative for the past. */
  notBeforeDays?: number
  notAfterDays?: number
  ca?: boolean
  /** The issuer; none makes it self-signed. */
  issuer?: Issued
  /** Sign with this key instead of the issuer's (a forged or mis-issued link). */
  signWith?: forge.pki.rsa.PrivateKey
  /** Use this key pair instead of a fresh one. */
  keyPair?: ReturnType<typeof rsaKey>
  bits?: number
  /** Write the authority key identifier (default true). */
  authorityKeyId?: boolean
  md?: 'sha256' | 'sha1'
}

export function issue(options: IssueOptions): Issued {
  const pair = options.keyPair ?? rsaKey(options.bits ?? 2048)
  const cert = forge.pki.createCertificate()
  cert.publicKey = pair.publicKey
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`
  const now = Date.now()
  cert.validity.notBefore = new Date(now + (options.notBeforeDays ?? -1) * DAY)
  cert.validity.notAfter = new Date(now + (options.notAfterDays ?? 365) * DAY)
  const subject = [
    { shortName: 'CN', value: options.commonName },
    { shortName: 'O', value: 'probe-ops tests' },
  ]
  cert.setSubject(subject)
  cert.setIssuer(options.issuer ? options.issuer.cert.subject.attributes : subject)
  const extensions: object[] = [{ name: 'subjectKeyIdentifier' }]
  if (options.ca) {
    extensions.push({ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true })
  } else {
    extensions.push(
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
    )
  }
  if (options.sans?.length) {
    extensions.push({ name: 'subjectAltName', altNames: options.sans.map((n) => (/^[\d.]+$|:/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) })
  }
  if (options.issuer && options.authorityKeyId !== false) {
    extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: options.issuer.cert.generateSubjectKeyIdentifier().getBytes() })
  }
  cert.setExtensions(extensions)
  const md = options.md === 'sha1' ? forge.md.sha1.create() : forge.md.sha256.create()
  cert.sign(options.signWith ?? options.issuer?.key ?? pair.key, md)
  return { cert, key: pair.key, pem: forge.pki.certificateToPem(cert), keyPem: pair.keyPem }
}

export function derOf(issued: Issued): Buffer {
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(issued.cert)).getBytes(), 'binary')
}

/** A root CA, an intermediate it issued, and a factory of leaves under the intermediate. */
export function pki(): { root: Issued; intermediate: Issued; leaf(options: Omit<IssueOptions, 'issuer'> & { issuer?: Issued }): Issued } {
  const root = issue({ commonName: 'probe-ops Test Root CA', ca: true, notAfterDays: 3650 })
  const intermediate = issue({ commonName: 'probe-ops Test Intermediate CA', ca: true, issuer: root, notAfterDays: 1825 })
  return { root, intermediate, leaf: (options) => issue({ issuer: intermediate, ...options }) }
}

export function writeFile(dir: string, name: string, ...parts: string[]): string {
  const path = join(dir, name)
  writeFileSync(path, parts.join(''))
  return path
}

export interface TlsServer {
  host: string
  port: number
  /** host:port */
  address: string
  handshakes: number
  close(): Promise<void>
}

/**
 * A TLS server on 127.0.0.1 presenting `chain` (leaf first); optionally waiting before each
 * handshake, and presenting another chain to clients that ask for one of `byServerName` (SNI),
 * as a server with several virtual hosts does.
 */
export async function startTlsServer(
  keyPem: string,
  chain: Issued[],
  options: { delayMs?: number; byServerName?: Record<string, { keyPem: string; chain: Issued[] }> } = {},
): Promise<TlsServer> {
  const sockets = new Set<Socket>()
  let handshakes = 0
  const contexts = new Map(
    Object.entries(options.byServerName ?? {}).map(([name, other]) => [
      name,
      createSecureContext({ key: other.keyPem, cert: other.chain.map((c) => c.pem).join('') }),
    ]),
  )
  const SNICallback = (name: string, done: (error: Error | null, context?: ReturnType<typeof createSecureContext>) => void) => done(null, contexts.get(name))
  const tls: Server = createServer({ key: keyPem, cert: chain.map((c) => c.pem).join(''), SNICallback }, (socket) => {
    handshakes++
    socket.on('error', () => undefined)
    socket.end()
  })
  tls.on('tlsClientError', () => undefined)
  // A plain listener hands each connection to the TLS server, after `delayMs`: a slow server, not a hung one.
  const listener = createNetServer((raw) => {
    sockets.add(raw)
    raw.on('error', () => undefined)
    raw.on('close', () => sockets.delete(raw))
    if (options.delayMs) setTimeout(() => tls.emit('connection', raw), options.delayMs)
    else tls.emit('connection', raw)
  })
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const port = (listener.address() as { port: number }).port
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    get handshakes() {
      return handshakes
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        listener.close(() => resolve())
      }),
  }
}
