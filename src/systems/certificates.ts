import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import type * as Forge from 'node-forge'
import { describeError } from '../errors.js'
import { FileReadError, readRegularFile } from '../lib/regular-file.js'

/**
 * X.509 certificates: files (PEM or DER, certificates and private keys), their facts, and key
 * match. The trust store, chains, host match and the chain a TLS server presents are in
 * certificate-chains.ts.
 *
 * node-forge decodes PEM and parses the certificate's fields (names, SANs, validity, signature
 * algorithm, extensions). It is loaded only when a certificate is read. Its public key code knows
 * RSA only, so signatures, host names and key match go through node:crypto (OpenSSL), which
 * handles RSA, ECDSA and EdDSA alike.
 */

type ForgeModule = typeof Forge

let forgeLoading: Promise<ForgeModule> | undefined
function loadForge(): Promise<ForgeModule> {
  forgeLoading ??= import('node-forge').then((m) => (m as { default?: ForgeModule }).default ?? (m as unknown as ForgeModule))
  return forgeLoading
}

export interface CertificateFacts {
  /** "CN=example.com, O=Acme", attributes in the certificate's order. */
  subject: string
  commonName?: string
  issuer: string
  issuerCommonName?: string
  /** "DNS:example.com", "IP:127.0.0.1", "email:...", "URI:..." */
  subjectAltNames: string[]
  serialNumber: string
  notBefore: string
  notAfter: string
  /** RSA, EC, Ed25519, ... */
  keyType: string
  keyBits?: number
  curve?: string
  signatureAlgorithm: string
  isCA: boolean
  /** Issued by itself and its signature verifies with its own key. */
  selfSigned: boolean
  fingerprintSha256: string
}

export interface Certificate {
  facts: CertificateFacts
  x509: X509Certificate
  notBefore: Date
  notAfter: Date
}

/** Signature algorithms forge's OID table does not name. */
const SIGNATURE_NAMES: Record<string, string> = {
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp256k1: 256, secp384r1: 384, secp521r1: 521, 'P-256': 256, 'P-384': 384, 'P-521': 521 }

function keyFacts(x509: X509Certificate): Pick<CertificateFacts, 'keyType' | 'keyBits' | 'curve'> {
  const key = x509.publicKey
  const type = key.asymmetricKeyType ?? 'unknown'
  const details = key.asymmetricKeyDetails ?? {}
  const names: Record<string, string> = {
    rsa: 'RSA',
    'rsa-pss': 'RSA-PSS',
    ec: 'EC',
    ed25519: 'Ed25519',
    ed448: 'Ed448',
    dsa: 'DSA',
    x25519: 'X25519',
    x448: 'X448',
  }
  const keyType = names[type] ?? type
  if (details.modulusLength) return { keyType, keyBits: details.modulusLength }
  if (details.namedCurve) return { keyType, curve: details.namedCurve, ...(CURVE_BITS[details.namedCurve] ? { keyBits: CURVE_BITS[details.namedCurve] } : {}) }
  if (type === 'ed25519') return { keyType, keyBits: 256 }
  if (type === 'ed448') return { keyType, keyBits: 456 }
  return { keyType }
}

/** Issuer is subject and the signature verifies with its own key (key usage not required, unlike checkIssued). */
export function isSelfSigned(x509: X509Certificate): boolean {
  try {
    return x509.subject === x509.issuer && x509.verify(x509.publicKey)
  } catch {
    return false
  }
}

/** A distinguished name from forge's attributes: "CN=example.com, O=Acme". */
function formatName(forge: ForgeModule, attributes: Forge.pki.CertificateField[]): { text: string; commonName?: string } {
  let commonName: string | undefined
  const parts = attributes.map((a) => {
    const raw = String(a.value ?? '')
    let value = raw
    if ((a as { valueTagClass?: number }).valueTagClass === forge.asn1.Type.UTF8) {
      try {
        value = forge.util.decodeUtf8(raw)
      } catch {
        value = raw
      }
    }
    const name = a.shortName ?? a.name ?? a.type ?? '?'
    if (name === 'CN' && commonName === undefined) commonName = value
    return `${name}=${value}`
  })
  return { text: parts.join(', '), commonName }
}

/**
 * forge's certificateFromAsn1 refuses any public key but RSA. For the others (EC, EdDSA) it
 * parses a copy whose key is swapped for a placeholder: every other field is the certificate's
 * own; the key's facts come from node:crypto.
 */
function forgeCertificate(forge: ForgeModule, der: Buffer): Forge.pki.Certificate {
  const parse = () => forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')))
  try {
    return forge.pki.certificateFromAsn1(parse())
  } catch (error) {
    if (!/OID is not RSA/.test(describeError(error))) throw error
  }
  const asn = parse()
  const tbs = (asn.value as Forge.asn1.Asn1[])[0]!
  const fields = tbs.value as Forge.asn1.Asn1[]
  // TBSCertificate: [0] version (optional), serial, signature, issuer, validity, subject, key, ...
  const offset = fields[0]?.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0
  const BigInteger = forge.jsbn.BigInteger
  fields[offset + 5] = forge.pki.publicKeyToAsn1(forge.pki.setRsaPublicKey(new BigInteger('3'), new BigInteger('3')))
  return forge.pki.certificateFromAsn1(asn)
}

function altNames(cert: Forge.pki.Certificate): string[] {
  const ext = cert.getExtension('subjectAltName') as { altNames?: { type: number; value?: string; ip?: string }[] } | undefined
  const names: string[] = []
  for (const n of ext?.altNames ?? []) {
    if (n.type === 2) names.push(`DNS:${n.value}`)
    else if (n.type === 7) names.push(`IP:${n.ip ?? '?'}`)
    else if (n.type === 1) names.push(`email:${n.value}`)
    else if (n.type === 6) names.push(`URI:${n.value}`)
  }
  return names
}

/** Facts from node:crypto alone: for trust-store roots, and should forge fail on a certificate OpenSSL reads. */
export function factsFromNode(x509: X509Certificate): CertificateFacts {
  const name = (text: string) => text.split('\n').filter(Boolean).join(', ')
  const cn = (text: string) => /(?:^|\n)CN=([^\n]*)/.exec(text)?.[1]
  return {
    subject: name(x509.subject),
    commonName: cn(x509.subject),
    issuer: name(x509.issuer),
    issuerCommonName: cn(x509.issuer),
    subjectAltNames: (x509.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((s) => s.replace(/^IP Address:/, 'IP:')),
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore: new Date(Date.parse(x509.validFrom)).toISOString(),
    notAfter: new Date(Date.parse(x509.validTo)).toISOString(),
    ...keyFacts(x509),
    signatureAlgorithm: 'unknown',
    isCA: x509.ca,
    selfSigned: isSelfSigned(x509),
    fingerprintSha256: x509.fingerprint256,
  }
}

/** One DER certificate, read by forge (fields) and node:crypto (key, signatures). Throws when it is none. */
export async function parseCertificate(der: Buffer): Promise<Certificate> {
  const x509 = new X509Certificate(der)
  const forge = await loadForge()
  let facts: CertificateFacts
  try {
    const cert = forgeCertificate(forge, der)
    const subject = formatName(forge, cert.subject.attributes)
    const issuer = formatName(forge, cert.issuer.attributes)
    const basic = cert.getExtension('basicConstraints') as { cA?: boolean } | undefined
    const signatureOid = cert.signatureOid ?? ''
    facts = {
      subject: subject.text,
      commonName: subject.commonName,
      issuer: issuer.text,
      issuerCommonName: issuer.commonName,
      subjectAltNames: altNames(cert),
      serialNumber: cert.serialNumber,
      notBefore: cert.validity.notBefore.toISOString(),
      notAfter: cert.validity.notAfter.toISOString(),
      ...keyFacts(x509),
      signatureAlgorithm: SIGNATURE_NAMES[signatureOid] ?? (forge.pki.oids[signatureOid] as string | undefined) ?? signatureOid,
      isCA: basic?.cA ?? false,
      selfSigned: isSelfSigned(x509),
      fingerprintSha256: x509.fingerprint256,
    }
  } catch {
    facts = factsFromNode(x509)
  }
  return { facts, x509, notBefore: new Date(facts.notBefore), notAfter: new Date(facts.notAfter) }
}

/** not-a-file: a directory, FIFO or device, never opened for reading (a FIFO would block forever). */
export type FileProblem = 'missing' | 'unreadable' | 'not-a-file' | 'not-a-certificate'

export interface PemContents {
  path: string
  certificates: Certificate[]
  keys: KeyObject[]
  /** Private keys that are encrypted (a passphrase is needed to compare them). */
  encryptedKeys: number
  /** Blocks that claimed to be a certificate or key and could not be parsed. */
  invalid: string[]
  /** Set when the file could not be read at all, or holds neither certificate nor key. */
  error?: { kind: FileProblem; message: string }
}

/** A certificate, key or CA bundle is kilobytes (the system's whole CA bundle about 200 KiB). */
export const MAX_FILE_BYTES = 16 * 1024 * 1024

const KEY_TYPES: Record<string, 'pkcs8' | 'pkcs1' | 'sec1'> = { 'PRIVATE KEY': 'pkcs8', 'RSA PRIVATE KEY': 'pkcs1', 'EC PRIVATE KEY': 'sec1' }

function tryPrivateKeyDer(der: Buffer): KeyObject | undefined {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type })
    } catch {
      // next encoding
    }
  }
  return undefined
}

/**
 * Certificates and private keys of a PEM file (any number of blocks) or a DER file (one
 * certificate or key). Never throws: what went wrong is in `error` and `invalid`.
 */
export async function readPemOrDer(path: string): Promise<PemContents> {
  const contents: PemContents = { path, certificates: [], keys: [], encryptedKeys: 0, invalid: [] }
  let buffer: Buffer
  try {
    buffer = await readRegularFile(path, MAX_FILE_BYTES, 'certificate or key file')
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    const kind: FileProblem =
      error.code === 'too-large' ? 'not-a-certificate' : error.code === 'missing' ? 'missing' : error.code === 'not-a-file' ? 'not-a-file' : 'unreadable'
    return { ...contents, error: { kind, message: error.message } }
  }
  const text = buffer.toString('latin1')
  if (text.includes('-----BEGIN ')) {
    const forge = await loadForge()
    let blocks: Forge.pem.ObjectPEM[] = []
    try {
      blocks = forge.pem.decode(text)
    } catch (error) {
      contents.invalid.push(`PEM: ${describeError(error)}`)
    }
    for (const [index, block] of blocks.entries()) {
      const der = Buffer.from(block.body, 'binary')
      const label = `block ${index + 1} (${block.type})`
      if (/CERTIFICATE$/.test(block.type) && !/REQUEST/.test(block.type)) {
        try {
          contents.certificates.push(await parseCertificate(der))
        } catch (error) {
          contents.invalid.push(`${label}: ${describeError(error)}`)
        }
      } else if (
        block.type === 'ENCRYPTED PRIVATE KEY' ||
        (/PRIVATE KEY$/.test(block.type) && (block.procType as { type?: string } | undefined)?.type === 'ENCRYPTED')
      ) {
        contents.encryptedKeys++
      } else if (KEY_TYPES[block.type]) {
        try {
          contents.keys.push(createPrivateKey({ key: der, format: 'der', type: KEY_TYPES[block.type]! }))
        } catch (error) {
          contents.invalid.push(`${label}: ${describeError(error)}`)
        }
      }
    }
  } else if (buffer.length > 0 && buffer[0] === 0x30) {
    try {
      contents.certificates.push(await parseCertificate(buffer))
    } catch {
      const key = tryPrivateKeyDer(buffer)
      if (key) contents.keys.push(key)
    }
  }
  if (contents.certificates.length === 0 && contents.keys.length === 0 && contents.encryptedKeys === 0) {
    const why =
      contents.invalid.length > 0
        ? `its certificate cannot be parsed: ${contents.invalid[0]}`
        : buffer.length === 0
          ? 'it is empty'
          : 'it is neither PEM nor a DER certificate'
    contents.error = { kind: 'not-a-certificate', message: `${path} holds no certificate: ${why}` }
  }
  return contents
}

/** Whether the private key is the certificate's. */
export function keyMatches(x509: X509Certificate, key: KeyObject): boolean {
  try {
    return x509.checkPrivateKey(key)
  } catch {
    return false
  }
}
