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
async function checkCredentialsFile(path: string): Promise<void> {
  const found = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    throw new SystemError(
      's3',
      error.code === 'ENOENT' ? 'not-found' : 'permission',
      `the credentials file ${path} cannot be read: ${error.code ?? describeError(error)}`,
      {
        target: path,
      },
    )
  })
  if (!found.isFile())
    throw new SystemError('s3', 'bad-setting', `the credentials file ${path} is not a regular file (a link or something else)`, { target: path })
  if (found.mode & 0o007)
    throw new SystemError('s3', 'bad-setting', `the credentials file ${path} is readable by others (mode ${(found.mode & 0o777).toString(8)})`, {
      target: path,
    })
}

type ProviderLoaders = () => AwsCredentialIdentityProvider

/**
 * The credential sources of §3.2, in order, with no default chain (which would probe the
 * instance-metadata address, a second's wait where it is blackholed): the file, else the
 * profile, else the environment; metadata only when allowed. Nothing found is an 'auth' error.
 */
function credentialsOf(connection: S3Connection, where: string): AwsCredentialIdentityProvider {
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
    if (connection.credentialsFile !== undefined) await checkCredentialsFile(connection.credentialsFile)
    for (const source of sources) {
      try {
        return await source.provider()()
      } catch {
        // The provider's message may quote the file's content; only which source failed is said.
      }
    }
    throw new SystemError('s3', 'auth', `no credentials for ${where} in ${sources.map((s) => s.what).join(', nor in ')}`, { target: where })
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

/** "s3://bucket/prefix/ (host:port)": how a repository is named in messages, never with credentials. */
export function s3Where(connection: Pick<S3Connection, 'bucket' | 'endpoint'>, prefix: string): string {
  return `s3://${connection.bucket}/${prefix}${connection.endpoint === undefined ? '' : ` (${new URL(connection.endpoint).host})`}`
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
export function createS3Client(connection: S3Connection, where: string, options: S3ClientOptions = {}): S3Client {
  const { S3Client } = loadClientS3()
  const client = new S3Client({
    region: connection.region,
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
    forcePathStyle: connection.forcePathStyle,
    credentials: credentialsOf(connection, where),
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

/**
 * An SDK error as a SystemError('s3', …): "s3://bucket/prefix/ (host): PUT base-….tar.zst:
 * InvalidAccessKeyId (HTTP 403): <the server's first line>". No credential is ever in it: the SDK's
 * messages carry none, and the credential providers' messages are not quoted.
 */
export function s3Error(error: unknown, what: string, where: string, signal?: AbortSignal): SystemError {
  if (error instanceof SystemError) return error
  const code = codeOf(error, signal)
  const status = httpStatusOf(error)
  const name = error instanceof Error ? error.name : 'Error'
  const detail = code === 'cancelled' ? 'cancelled' : `${name === 'Error' ? '' : `${name}${status ? ` (HTTP ${status})` : ''}: `}${describeError(error)}`
  return new SystemError('s3', code, `${where}: ${what}: ${detail}`, {
    cause: error,
    target: where,
    ...(status === undefined ? {} : { data: { httpStatus: status } }),
  })
}
