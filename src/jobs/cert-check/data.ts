import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

const certificateFacts = z.strictObject({
  subject: z.string().describe('"CN=example.com, O=Acme", attributes in the certificate\'s order.'),
  commonName: z.string().optional(),
  issuer: z.string(),
  issuerCommonName: z.string().optional(),
  subjectAltNames: z.array(z.string()).describe('"DNS:example.com", "IP:127.0.0.1", "email:...", "URI:..."'),
  serialNumber: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  keyType: z.string().describe('RSA, EC, Ed25519, ...'),
  keyBits: z.number().optional(),
  curve: z.string().optional(),
  signatureAlgorithm: z.string(),
  isCA: z.boolean(),
  selfSigned: z.boolean().describe('Issued by itself, and its signature verifies with its own key.'),
  fingerprintSha256: z.string(),
  daysLeft: z.number().describe('Whole days until notAfter; negative once expired.'),
})

const chainLink = z.strictObject({
  subject: z.string(),
  issuer: z.string(),
  notAfter: z.string(),
  daysLeft: z.number(),
  source: z.enum(['presented', 'trust-store']).describe('Sent by the server or in the file, or found in the trust store.'),
})

export const certificateReport = z.strictObject({
  target: z.string().describe('The file path; host:port for an endpoint, serverName@host:port when it must serve another name.'),
  kind: z.enum(['file', 'endpoint']),
  status: z.enum(['ok', 'warning', 'failed']).describe("This certificate's worst finding, rated as a step's status."),
  error: z.string().optional().describe('Why nothing could be checked (a missing file, a refused connection).'),
  certificate: certificateFacts.optional(),
  chain: z.array(chainLink).optional(),
  trusted: z.boolean().optional().describe('Chains to a certificate of the trust store; absent when the store could not be read.'),
  hostMatch: z.boolean().optional(),
  keyFile: z.string().optional(),
  keyMatch: z.boolean().optional(),
  tls: z.strictObject({ protocol: z.string().optional(), cipher: z.string().optional(), handshakeMs: z.number() }).optional(),
  findings: z.array(z.string()).describe("The ids of this certificate's findings."),
})
export type CertificateReport = z.infer<typeof certificateReport>
export type ChainLinkReport = z.infer<typeof chainLink>

/** The data of every step that checks certificates: cert check's files and endpoints, security-check's and maintain weekly's certificates. */
export const certificatesData = z.strictObject({
  trustStore: z.string().describe('Where the trusted roots came from, or "unavailable".'),
  certificates: z.array(certificateReport),
})
export type CertificatesData = z.infer<typeof certificatesData>

export const dataSchemas = {
  'cert-check': { files: certificatesData, endpoints: certificatesData },
} satisfies JobDataSchemas
