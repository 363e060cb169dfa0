import { finished, pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { Config } from '../config/load.js'
import { StepFailure, describeError } from '../errors.js'
import { Digests } from '../repositories/checksums.js'
import { dataKeys } from '../repositories/layout.js'
import { withoutSubject, type Repository } from '../repositories/repository.js'
import { decryptStream, identityRecipients, type AgeRunner } from '../systems/age.js'
import type { BackupCopy } from './catalog.js'
import type { BackupManifest } from './manifest.js'
import { verifyChecksum } from './verify.js'

/**
 * Reading one repository's copy of a backup (design-14 §5.2): GET → checksum of the stored bytes
 * → age decryption (when the manifest says it is encrypted) → checksum of the plain bytes. The
 * consumer (pg_restore, a staging file, a checksum) reads `stream`; `done` settles once it has
 * read it all, and rejects on a checksum that differs, a truncated object or a wrong identity.
 * Nothing is swapped, renamed or committed before `done` resolved.
 */

export interface CopyDigests {
  storedSha256: string
  /** Undefined when only the stored bytes were read (encrypted, no identity on this host). */
  plainSha256?: string
  bytes: number
}

export interface OpenedCopy {
  stream: Readable
  done: Promise<CopyDigests>
}

export interface CopyOptions {
  /** backup.encryption.identityFile: without it an encrypted copy is refused (or, `storedOnly`, read encrypted). */
  identityFile?: string | undefined
  runner?: AgeRunner | undefined
  signal: AbortSignal
  /** Read the stored bytes only (no decryption): what verify does on a host without the identity. */
  storedOnly?: boolean
}

/** One object of a backup: its key, its plain size and sha256, and its stored ones when encrypted. */
interface ObjectExpectation {
  key: string
  bytes: number
  sha256: string
  stored?: { bytes: number; sha256: string } | undefined
}

const CHOOSE_ANOTHER = 'choose another copy or backup (probe-ops backup list); probe-ops backup verify names what differs'

/** The objects a manifest names, with what each must hold. */
export function copyObjects(manifest: BackupManifest): ObjectExpectation[] {
  const keys = dataKeys(manifest.data, manifest.files)
  if (!manifest.files?.length) return [{ key: keys[0]!, bytes: manifest.bytes, sha256: manifest.sha256, stored: manifest.stored }]
  return manifest.files.map((file, index) => ({ key: keys[index]!, bytes: file.bytes, sha256: file.sha256, stored: file.stored }))
}

/** Refuses before any download when the identity cannot open what the manifest was encrypted to. */
export async function checkIdentity(repository: Repository, manifest: BackupManifest, identityFile: string | undefined): Promise<void> {
  const recipients = manifest.encryption?.recipients
  if (!recipients) return
  if (identityFile === undefined)
    throw new StepFailure(
      `${manifest.id} in ${repository.name} is encrypted (age) and this host has no identity to decrypt it`,
      'set backup.encryption.identityFile to the age identity file (age-keygen output) of one of its recipients',
    )
  const mine = await identityRecipients(identityFile)
  if (!mine.some((recipient) => recipients.includes(recipient)))
    throw new StepFailure(
      `no secret key in ${identityFile} matches the recipients of ${manifest.id} (${recipients.join(', ')})`,
      'set backup.encryption.identityFile to the identity of one of those recipients',
    )
}

/** The copy of a backup held in one object (a custom-format dump, a tar): see the module's comment. */
export async function openCopy(repository: Repository, manifest: BackupManifest, options: CopyOptions): Promise<OpenedCopy> {
  const objects = copyObjects(manifest)
  if (objects.length !== 1) throw new StepFailure(`${manifest.id} is a directory of ${objects.length} files, not one object`, 'read it file by file')
  if (!options.storedOnly) await checkIdentity(repository, manifest, options.identityFile)
  return openObject(repository, manifest, objects[0]!, options)
}

/** An error met reading a copy, as a failure that names the copy's repository (once). */
export function copyFailure(repository: Repository, error: unknown): StepFailure {
  const prefix = `${repository.name} (${repository.where}): `
  if (error instanceof StepFailure && error.message.startsWith(prefix)) return error
  return new StepFailure(`${prefix}${withoutSubject(repository, describeError(error))}`, CHOOSE_ANOTHER)
}

function mismatch(
  repository: Repository,
  manifest: BackupManifest,
  key: string,
  what: string,
  found: { bytes: number; sha256: string },
  expected: { bytes: number; sha256: string },
): StepFailure {
  const said =
    found.bytes !== expected.bytes
      ? `${found.bytes} bytes where the manifest says ${expected.bytes} (truncated or changed)`
      : `sha256 ${found.sha256.slice(0, 12)}… where the manifest says ${expected.sha256.slice(0, 12)}… (corrupted)`
  return new StepFailure(`${repository.name} (${repository.where}): ${key} of ${manifest.id}: the ${what} bytes hold ${said}`, CHOOSE_ANOTHER)
}

/** One object: GET, checksums, decryption; `done` compares both checksums with the manifest. */
async function openObject(repository: Repository, manifest: BackupManifest, object: ObjectExpectation, options: CopyOptions): Promise<OpenedCopy> {
  const encrypted = manifest.encryption !== undefined
  const decrypt = encrypted && !options.storedOnly
  const source = await repository.get(object.key, { signal: options.signal })
  const stored = new Digests()
  const plain = decrypt ? new Digests() : undefined
  const output = plain ?? stored
  // Whatever broke the reading (the connection, the decryption), the message names the copy.
  const fail = (error: unknown) => output.destroy(copyFailure(repository, error))
  pipeline(source, stored).catch(fail)
  if (decrypt) {
    const what = `${object.key} of ${manifest.id} in ${repository.name}`
    decryptStream(stored, { identityFile: options.identityFile!, runner: options.runner, signal: options.signal, what })
      .then((decrypted) => pipeline(decrypted, plain!))
      .catch(fail)
  }
  const storedExpected = encrypted ? (object.stored ?? { bytes: -1, sha256: '' }) : object
  const done = finished(output).then(
    (): CopyDigests => {
      const storedFound = stored.result()
      if (storedFound.bytes !== storedExpected.bytes || storedFound.sha256 !== storedExpected.sha256)
        throw mismatch(repository, manifest, object.key, 'stored', storedFound, storedExpected)
      if (!plain) return { storedSha256: storedFound.sha256, ...(encrypted ? {} : { plainSha256: storedFound.sha256 }), bytes: storedFound.bytes }
      const plainFound = plain.result()
      if (plainFound.bytes !== object.bytes || plainFound.sha256 !== object.sha256)
        throw mismatch(repository, manifest, object.key, 'decrypted', plainFound, object)
      return { storedSha256: storedFound.sha256, plainSha256: plainFound.sha256, bytes: plainFound.bytes }
    },
    (error: unknown) => {
      throw copyFailure(repository, error)
    },
  )
  // The consumer awaits it; one that gave up early must not crash the process with an unhandled rejection.
  done.catch(() => undefined)
  return { stream: output, done }
}

/** Reads every object of a copy through to its end and compares: what `backup verify` does with a copy. */
export async function checkCopy(copy: BackupCopy, options: CopyOptions): Promise<{ bytes: number; plainChecked: boolean }> {
  const { repository, manifest } = copy
  if (copy.path !== undefined && !manifest.encryption) return { ...(await verifyChecksum({ manifest, path: copy.path })), plainChecked: true }
  const storedOnly = manifest.encryption !== undefined && options.identityFile === undefined
  if (!storedOnly) await checkIdentity(repository, manifest, options.identityFile)
  let bytes = 0
  for (const object of copyObjects(manifest)) {
    const opened = await openObject(repository, manifest, object, { ...options, storedOnly })
    opened.stream.resume()
    bytes += (await opened.done).bytes
  }
  return { bytes, plainChecked: !storedOnly }
}

/** What a copy's reading needs from the configuration. */
export function copyOptions(config: Readonly<Config>, signal: AbortSignal): CopyOptions {
  const encryption = config.backup.encryption
  return { identityFile: encryption?.identityFile, runner: encryption?.program, signal }
}
