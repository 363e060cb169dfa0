import { createHash } from 'node:crypto'
import { lstat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { S3Client } from '@aws-sdk/client-s3'
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Logger } from '@smithy/types'
import { describeError } from '../errors.js'
import { SystemError, errorCode, type SystemErrorCode } from './errors.js'

/**
 * The S3 client of one repository (an S3-compatible object store): credentials from the
 * environment, an AWS profile or a shared-credentials file, never from probe-ops' configuration
 * nor argv; every request bounded; the SDK's own messages into a log callback, never the console
 * (cron mails what a command prints). The SDK is loaded on first use only: nothing of it loads
 * for commands that do not touch S3 (its CommonJS bundle costs ~60 ms through require, ~150 ms
 * through import()).
 */

export type ClientS3 = typeof import('@aws-sdk/client-s3')
export type LibStorage = typeof import('@aws-sdk/lib-storage')

const require = createRequire(import.meta.url)

export function loadClientS3(): ClientS3 {
  return require('@aws-sdk/client-s3') as ClientS3
}

export function loadLibStorage(): LibStorage {
  return require('@aws-sdk/lib-storage') as LibStorage
}

export interface S3Connection {
  bucket: string
  region: string
  endpoint?: string
  forcePathStyle: boolean
  credentialsFile?: string
  profile?: string
  instanceCredentials: boolean
  timeoutSeconds: number
}

/** Where the SDK's own lines go (request-timeout warnings, credential notes): a run's debug log. */
export type SdkLog = (level: 'debug' | 'info' | 'warn' | 'error', line: string) => void

export interface S3ClientOptions {
  log?: SdkLog
  /** Tries per request, backoff between them (default 3). */
  maxAttempts?: number
}

/** The SDK passes objects to its logger; one line each, never more than a few hundred characters. */
function sdkLogger(log: SdkLog | undefined): Logger {
  const line =
    (level: Parameters<SdkLog>[0]) =>
    (...content: unknown[]) => {
      log?.(
        level,
        content
          .map((part) => (typeof part === 'string' ? part : describeError(part)))
          .join(' ')
          .slice(0, 400),
      )
    }
  return { trace: line('debug'), debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') }
}

/** A credentials file must be probe-ops' to trust: a regular file, not a link, not world-readable. */
async function checkCredentialsFile(path: string, subject: S3Subject): Promise<void> {
  const options = { target: path, data: { setting: subject.setting, missing: 'credentials-file' } }
  const label = s3Label(subject)
  const found = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    const code = error.code === 'ENOENT' ? 'not-found' : 'permission'
    throw new SystemError('s3', code, `${label}: the credentials file ${path} cannot be read (${error.code ?? describeError(error)})`, options)
  })
  if (!found.isFile())
    throw new SystemError('s3', 'bad-setting', `${label}: the credentials file ${path} is not a regular file (a link or something else)`, options)
  if (found.mode & 0o007)
    throw new SystemError(
      's3',
      'bad-setting',
      `${label}: the credentials file ${path} is readable by others (mode ${(found.mode & 0o777).toString(8)})`,
      options,
    )
}

type ProviderLoaders = () => AwsCredentialIdentityProvider

/**
 * The credential sources of §3.2, in order, with no default chain (which would probe the
 * instance-metadata address, a second's wait where it is blackholed): the file, else the
 * profile, else the environment; metadata only when allowed. Nothing found is an 'auth' error.
 */
function credentialsOf(connection: S3Connection, subject: S3Subject): AwsCredentialIdentityProvider {
  const sources: { what: string; provider: ProviderLoaders }[] = []
  if (connection.credentialsFile !== undefined) {
    const filepath = connection.credentialsFile
    const { fromIni } = require('@aws-sdk/credential-provider-ini') as typeof import('@aws-sdk/credential-provider-ini')
    sources.push({
      what: `profile ${connection.profile ?? 'default'} of ${filepath}`,
      provider: () => fromIni({ filepath, configFilepath: filepath, profile: connection.profile ?? 'default', ignoreCache: true }),
    })
  } else if (connection.profile !== undefined) {
    const { fromIni } = require('@aws-sdk/credential-provider-ini') as typeof import('@aws-sdk/credential-provider-ini')
    const profile = connection.profile
    sources.push({ what: `AWS profile ${profile}`, provider: () => fromIni({ profile }) })
  } else {
    const { fromEnv } = require('@aws-sdk/credential-provider-env') as typeof import('@aws-sdk/credential-provider-env')
    sources.push({ what: 'the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)', provider: () => fromEnv() })
  }
  if (connection.instanceCredentials) {
    const imds = require('@smithy/credential-provider-imds') as typeof import('@smithy/credential-provider-imds')
    sources.push({ what: 'the container metadata', provider: () => imds.fromContainerMetadata({ timeout: 2000, maxRetries: 1 }) })
    sources.push({ what: 'the instance metadata', provider: () => imds.fromInstanceMetadata({ timeout: 2000, maxRetries: 1 }) })
  }
  let cached: Promise<AwsCredentialIdentity> | undefined
  const resolve = async (): Promise<AwsCredentialIdentity> => {
    if (connection.credentialsFile !== undefined) await checkCredentialsFile(connection.credentialsFile, subject)
    for (const source of sources) {
      try {
        return await source.provider()()
      } catch {
        // The provider's message may quote the file's content; only which source failed is said.
      }
    }
    throw new SystemError('s3', 'auth', `${s3Label(subject)}: no credentials in ${sources.map((s) => s.what).join(', nor in ')}`, {
      target: subject.where,
      data: { setting: subject.setting },
    })
  }
  return async () => {
    cached ??= resolve().catch((error: unknown) => {
      cached = undefined
      throw error
    })
    const identity = await cached
    // Temporary credentials are fetched again once they run out.
    if (identity.expiration && identity.expiration.getTime() - Date.now() < 60_000) cached = undefined
    return identity
  }
}

/** "s3://bucket/prefix/ at host:port": how a repository is named in messages, never with credentials. */
export function s3Where(connection: Pick<S3Connection, 'bucket' | 'endpoint'>, prefix: string): string {
  return `s3://${connection.bucket}/${prefix}${connection.endpoint === undefined ? '' : ` at ${new URL(connection.endpoint).host}`}`
}

/** S3 requires Content-MD5 on DeleteObjects; the SDK sends a CRC only, which older compatible servers refuse. */
function addDeleteObjectsMd5(client: S3Client): void {
  type Build = { request: { headers?: Record<string, string>; body?: unknown } }
  client.middlewareStack.add(
    ((next: (args: Build) => Promise<unknown>, context: { commandName?: string }) => async (args: Build) => {
      const { body, headers } = args.request
      if (context.commandName === 'DeleteObjectsCommand' && headers && (typeof body === 'string' || body instanceof Uint8Array))
        headers['content-md5'] = createHash('md5').update(body).digest('base64')
      return next(args)
    }) as never,
    { step: 'build', name: 'probeOpsDeleteObjectsMd5' },
  )
}

/** A client for one repository: built once per repository per process. */
export function createS3Client(connection: S3Connection, subject: S3Subject, options: S3ClientOptions = {}): S3Client {
  const { S3Client } = loadClientS3()
  const client = new S3Client({
    region: connection.region,
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
    forcePathStyle: connection.forcePathStyle,
    credentials: credentialsOf(connection, subject),
    // S3-compatible servers store the aws-chunked framing of a streamed body otherwise (13,044 bytes for 13,000).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: options.maxAttempts ?? 3,
    logger: sdkLogger(options.log),
    requestHandler: {
      connectionTimeout: Math.min(5_000, connection.timeoutSeconds * 1000),
      requestTimeout: connection.timeoutSeconds * 1000,
      // Without it a request past requestTimeout only logs a warning and waits on forever.
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: 8 },
      httpsAgent: { keepAlive: true, maxSockets: 8 },
    },
  })
  addDeleteObjectsMd5(client)
  return client
}

const NAMED_CODES: Record<string, SystemErrorCode> = {
  InvalidAccessKeyId: 'auth',
  SignatureDoesNotMatch: 'auth',
  ExpiredToken: 'auth',
  InvalidToken: 'auth',
  TokenRefreshRequired: 'auth',
  AccessDenied: 'permission',
  AllAccessDisabled: 'permission',
  NoSuchBucket: 'not-found',
  NoSuchKey: 'not-found',
  NotFound: 'not-found',
  TimeoutError: 'no-answer',
  RequestTimeout: 'no-answer',
  AbortError: 'cancelled',
}

const ERRNO_CODES: Record<string, SystemErrorCode> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  ECONNRESET: 'unreachable',
  EPIPE: 'unreachable',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ETIMEDOUT: 'no-answer',
}

/** The HTTP status of an S3 service error, if it is one. */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
}

function codeOf(error: unknown, signal?: AbortSignal): SystemErrorCode {
  if (signal?.aborted) return 'cancelled'
  const name = error instanceof Error ? error.name : ''
  const named = NAMED_CODES[name]
  if (named) return named
  const errno = errorCode(error)
  if (errno !== undefined && ERRNO_CODES[errno]) return ERRNO_CODES[errno]
  const status = httpStatusOf(error)
  if (status === 401 || status === 403) return 'permission'
  if (status === 404) return 'not-found'
  return 'bad-answer'
}

/** What an S3 error is about: the repository, its connection, and its entry in the configuration (for hints). */
export interface S3Subject {
  name: string
  /** s3Where's "s3://bucket/prefix/ at host:port". */
  where: string
  connection: Pick<S3Connection, 'bucket' | 'endpoint' | 'timeoutSeconds'>
  /** "backup.repositories[1]": the hint names the setting to fix. */
  setting: string
}

/** "offsite (s3://bucket/prefix/ at host:port)": how every S3 error line starts. */
export function s3Label(subject: Pick<S3Subject, 'name' | 'where'>): string {
  return `${subject.name} (${subject.where})`
}

function endpointHost(connection: Pick<S3Connection, 'endpoint'>): string {
  return connection.endpoint === undefined ? 'AWS' : new URL(connection.endpoint).host
}

/** The server's own word for it (InvalidAccessKeyId), with its status: no SDK prose. */
function serverWord(error: unknown): string {
  const name = error instanceof Error && error.name !== 'Error' ? error.name : 'an error'
  const status = httpStatusOf(error)
  return status === undefined ? name : `${name}, HTTP ${status}`
}

/** The one line of each code (design-14 §3.2): what happened to which repository, never the SDK's text. */
function plainLine(code: SystemErrorCode, error: unknown, what: string, subject: S3Subject): string {
  const label = s3Label(subject)
  const host = endpointHost(subject.connection)
  switch (code) {
    case 'no-answer':
      return `${label} did not answer within ${subject.connection.timeoutSeconds} s`
    case 'cancelled':
      return `${label}: ${what} was cancelled`
    case 'refused':
      return `${label}: nothing accepts connections at ${host} (connection refused)`
    case 'dns':
      return `${label}: the host name ${host.replace(/:\d+$/, '')} does not resolve`
    case 'unreachable':
      return `${label}: the connection to ${host} broke during ${what} (${errorCode(error) ?? 'reset'})`
    case 'auth':
      return `${label} refused the credentials (${serverWord(error)})`
    case 'permission':
      return `${label} denied ${what} (${serverWord(error)})`
    case 'not-found':
      if (error instanceof Error && error.name === 'NoSuchBucket') return `${subject.name}: bucket ${subject.connection.bucket} does not exist at ${host}`
      return `${label}: ${what}: not there (${serverWord(error)})`
    default:
      // The server's first line, short: a gateway's 5xx page is HTML.
      return `${label} failed ${what} (${serverWord(error)}): ${describeError(error).slice(0, 200)}`
  }
}

/**
 * An SDK error as a SystemError('s3', …) of one line naming the repository: "offsite
 * (s3://bucket/prefix/ at host) did not answer within 1 s", "offsite: bucket x does not exist at
 * host". data.setting and data.missing ('bucket') let the hint name the setting to fix. No
 * credential is ever in it: the SDK's messages carry none, and the credential providers' are not quoted.
 */
export function s3Error(error: unknown, what: string, subject: S3Subject, signal?: AbortSignal): SystemError {
  if (error instanceof SystemError) return error
  const code = codeOf(error, signal)
  const status = httpStatusOf(error)
  const bucketMissing = error instanceof Error && error.name === 'NoSuchBucket'
  return new SystemError('s3', code, plainLine(code, error, what, subject), {
    cause: error,
    target: subject.where,
    data: { setting: subject.setting, ...(status === undefined ? {} : { httpStatus: status }), ...(bucketMissing ? { missing: 'bucket' } : {}) },
  })
}
