import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { describeError } from '../errors.js'
import { FileReadError, readRegularFile } from '../lib/regular-file.js'
import { SystemError } from './errors.js'
import { filterThroughProgram, relayErrors, type FilterExit } from './program-filter.js'
import { findExecutable, lastLine } from './programs.js'
import { isSecretKey, recipientProblem } from './age-keys.js'

/**
 * age encryption (https://age-encryption.org/v1) of backups and WAL, as streams. Through the
 * `age` program when it is installed (about 1 GB/s) and through the age-encryption library
 * otherwise (about 90 MB/s, design-14 §1.3): both write the standard format, so `age -d` gets
 * anyone's data back without probe-ops. Recipients are public keys (X25519, `age1…`, the kind
 * Debian's age 1.1 and the library both know). The identity file is read only to decrypt, and
 * nothing of it is ever printed: errors name its path and line numbers, never its contents.
 */

/** Which implementation: `auto` is the program when installed, else the library. */
export type AgeRunner = 'auto' | 'program' | 'library'

/** Why a decryption failed, for a caller that tries the next copy (wal fetch) or stops. */
export type AgeFailure = 'wrong-identity' | 'damaged' | 'failed'

export interface EncryptOptions {
  recipients: readonly string[]
  runner?: AgeRunner
  signal?: AbortSignal
}

export interface DecryptOptions {
  identityFile: string
  runner?: AgeRunner
  signal?: AbortSignal
  /** What is decrypted (a key, a file name), for the error's message. */
  what?: string
}

/** Anything that looks like a secret key, wherever it appears (a message, a program's stderr). */
const SECRET_KEY_ANYWHERE = /AGE-SECRET-KEY-[0-9A-Z]+/gi

/** The text with every secret key in it replaced by a mark. */
export function hideSecretKeys(text: string): string {
  return text.replace(SECRET_KEY_ANYWHERE, 'AGE-SECRET-KEY-(hidden)')
}

function badSetting(message: string, target?: string): SystemError {
  return new SystemError('age', 'bad-setting', message, target === undefined ? {} : { target })
}

/**
 * The recipients, checked: each an age X25519 public key with a valid checksum. A bad one is one
 * line naming it (a public key is no secret); a secret key given as a recipient is named by its
 * position only. Throws a SystemError('age', 'bad-setting').
 */
export function checkRecipients(recipients: readonly string[]): string[] {
  if (recipients.length === 0) throw badSetting('no age recipient is given: encryption needs at least one public key (age1…)')
  return recipients.map((given, index) => {
    const recipient = given.trim()
    const problem = recipientProblem(recipient, `age recipient ${index + 1}`)
    if (problem !== undefined) throw badSetting(problem.message, problem.shown)
    return recipient
  })
}

/** Identity files hold a few keys and comments; anything larger is not one. */
const IDENTITY_FILE_MAX_BYTES = 64 * 1024

/**
 * The secret keys of an age identity file (age-keygen's format: comments, blank lines, one
 * `AGE-SECRET-KEY-1…` a line), read bounded. A line that is not a key is named by its number,
 * never shown. Throws a SystemError('age').
 */
export async function readIdentities(path: string): Promise<string[]> {
  let text: string
  try {
    text = (await readRegularFile(path, IDENTITY_FILE_MAX_BYTES, 'age identity file')).toString('utf8')
  } catch (error) {
    if (error instanceof FileReadError) {
      const code = error.code === 'missing' ? 'not-found' : error.code === 'unreadable' ? 'permission' : 'bad-setting'
      throw new SystemError('age', code, `age identity file ${error.message}`, { target: path, cause: error })
    }
    throw error
  }
  const identities: string[] = []
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    if (!isSecretKey(trimmed)) {
      throw badSetting(`line ${index + 1} of the age identity file ${path} is not an age secret key (AGE-SECRET-KEY-1…, as age-keygen writes)`, path)
    }
    identities.push(trimmed)
  }
  if (identities.length === 0) throw badSetting(`the age identity file ${path} holds no secret key (AGE-SECRET-KEY-1…)`, path)
  return identities
}

type AgeLibrary = typeof import('age-encryption')
let library: Promise<AgeLibrary> | undefined
/** Loaded only when used: it costs start-up time that a command not encrypting must not pay. */
function loadLibrary(): Promise<AgeLibrary> {
  library ??= import('age-encryption')
  return library
}

/** The public keys of an identity file's secret keys: which backups it can open. */
export async function identityRecipients(path: string): Promise<string[]> {
  const identities = await readIdentities(path)
  const { identityToRecipient } = await loadLibrary()
  return Promise.all(identities.map((identity) => identityToRecipient(identity)))
}

let agePath: Promise<string | undefined> | undefined

/** The `age` program to use, or undefined for the library. */
export async function ageProgram(runner: AgeRunner = 'auto'): Promise<string | undefined> {
  if (runner === 'library') return undefined
  agePath ??= findExecutable('age')
  const found = await agePath
  if (found === undefined && runner === 'program') {
    throw new SystemError('age', 'not-installed', 'the age program is not installed (Debian package age), and encryption is set to use it')
  }
  return found
}

function failureOf(message: string): AgeFailure {
  if (/no identity matched/i.test(message)) return 'wrong-identity'
  if (/header|payload|chunk|tag|EOF|truncat|authenticat|invalid|malformed|stream|unexpected/i.test(message)) return 'damaged'
  return 'failed'
}

function decryptionError(said: string, options: DecryptOptions, cause?: unknown): SystemError {
  const reason = failureOf(said)
  const what = options.what ?? 'the data'
  const message =
    reason === 'wrong-identity'
      ? `no secret key in ${options.identityFile} matches the recipients of ${what}`
      : reason === 'damaged'
        ? `${what} cannot be decrypted: it is damaged or not age data (${hideSecretKeys(said)})`
        : `${what} could not be decrypted: ${hideSecretKeys(said)}`
  return new SystemError('age', reason === 'wrong-identity' ? 'auth' : 'failed', message, {
    target: options.identityFile,
    data: { reason },
    ...(cause === undefined ? {} : { cause }),
  })
}

function programSaid(exit: FilterExit): string {
  if (exit.startFailure !== undefined) return `age could not run: ${exit.startFailure}`
  // age ends with a line pointing at its bug tracker: the error is the `age: error:` line. What it
  // quotes of the input (a header that is not age's) is data, not something to print.
  const error = exit.stderr.split('\n').find((line) => line.startsWith('age: error: '))
  const line = (error ?? lastLine(exit.stderr))?.replace(/^age: (error: )?/, '').replace(/"[^"]*"/g, '"…"')
  return line ?? (exit.signal ? `age ended by ${exit.signal}` : `age exited with ${exit.exitCode}`)
}

function cancelled(): SystemError {
  return new SystemError('age', 'cancelled', 'age was cancelled')
}

/**
 * The library's output as a Node stream whose errors are ours: the input's own error when the
 * input failed (a dump that broke), else `map` of the library's.
 */
function libraryOutput(web: WebReadableStream<Uint8Array>, inputFailure: () => unknown, map: (error: unknown) => Error): Readable {
  return relayErrors(Readable.fromWeb(web), (error) => {
    const failed = inputFailure()
    return failed instanceof Error ? failed : map(error)
  })
}

function webInput(input: Readable): { web: ReadableStream<Uint8Array>; failure: () => unknown } {
  let failure: unknown
  input.once('error', (error) => (failure = error))
  return { web: Readable.toWeb(input), failure: () => failure }
}

/** `input` encrypted to the recipients, in the age format. Throws SystemError('age') (bad recipients, no program). */
export async function encryptStream(input: Readable, options: EncryptOptions): Promise<Readable> {
  const recipients = checkRecipients(options.recipients)
  const program = await ageProgram(options.runner)
  const failure = (said: string, cause?: unknown) =>
    new SystemError('age', 'failed', `age could not encrypt: ${hideSecretKeys(said)}`, cause === undefined ? {} : { cause })
  if (program !== undefined) {
    return filterThroughProgram(program, ['--encrypt', ...recipients.flatMap((recipient) => ['-r', recipient])], input, {
      ...(options.signal ? { signal: options.signal } : {}),
      failure: (exit) => (exit.cancelled ? cancelled() : failure(programSaid(exit))),
    })
  }
  const { Encrypter } = await loadLibrary()
  const encrypter = new Encrypter()
  for (const recipient of recipients) encrypter.addRecipient(recipient)
  const { web, failure: inputFailure } = webInput(abortable(input, options.signal))
  const encrypted = await encrypter.encrypt(web)
  return libraryOutput(encrypted, inputFailure, (error) => (options.signal?.aborted ? cancelled() : failure(describeError(error), error)))
}

/**
 * `input` (age format) decrypted with the identity file's keys. The identity file is checked
 * first, on either path (a bounded read of a regular file). A wrong identity rejects at once;
 * damage further in fails the stream, after the plaintext before it has been read: write it
 * beside, never over, what it replaces. Errors are SystemError('age') with `data.reason`.
 */
export async function decryptStream(input: Readable, options: DecryptOptions): Promise<Readable> {
  const identities = await readIdentities(options.identityFile)
  const program = await ageProgram(options.runner)
  if (program !== undefined) {
    return filterThroughProgram(program, ['--decrypt', '-i', options.identityFile], input, {
      ...(options.signal ? { signal: options.signal } : {}),
      failure: (exit) => (exit.cancelled ? cancelled() : decryptionError(programSaid(exit), options)),
    })
  }
  const { Decrypter } = await loadLibrary()
  const decrypter = new Decrypter()
  for (const identity of identities) decrypter.addIdentity(identity)
  const { web, failure: inputFailure } = webInput(abortable(input, options.signal))
  let decrypted
  try {
    decrypted = await decrypter.decrypt(web)
  } catch (error) {
    const failed = inputFailure()
    if (failed instanceof Error) throw failed
    if (options.signal?.aborted) throw cancelled()
    throw decryptionError(describeError(error), options, error)
  }
  return libraryOutput(decrypted, inputFailure, (error) => (options.signal?.aborted ? cancelled() : decryptionError(describeError(error), options, error)))
}

/** The input, destroyed with a cancellation when the signal fires (the library has no signal of its own). */
function abortable(input: Readable, signal: AbortSignal | undefined): Readable {
  if (signal === undefined) return input
  const abort = () => input.destroy(cancelled())
  if (signal.aborted) abort()
  else signal.addEventListener('abort', abort, { once: true })
  input.once('close', () => signal.removeEventListener('abort', abort))
  return input
}
