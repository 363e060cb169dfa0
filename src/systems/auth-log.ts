import { createInterface } from 'node:readline'
import { describeError } from '../errors.js'
import { FileReadError, openRegularFile } from '../lib/regular-file.js'
import { SystemError, isSystemError } from './errors.js'
import { fileReadErrorCode } from './files.js'
import { journalLines } from './journal.js'

/** The authentication log: a syslog file (/var/log/auth.log, /var/log/secure) or the journal. */

/** security.authLog's default: Debian's and Ubuntu's file. */
export const DEFAULT_AUTH_LOG = '/var/log/auth.log'
/** Where Red Hat's family writes it; read when the default is asked for and absent. */
const RED_HAT_AUTH_LOG = '/var/log/secure'

export type AuthLog =
  | {
      read: true
      /** The file read, or "journald". */
      source: string
      lines: string[]
      /** Only the file's last `maxBytes` were read. */
      truncated: boolean
      /** Why this source and not the configured one ("/var/log/auth.log does not exist"). */
      note?: string
    }
  | {
      read: false
      /** What was not read and why, naming the source. */
      reason: string
      /** Why, as a SystemError: the journal's own when it was the journal that could not be read. */
      error: SystemError
    }

/** The last `maxBytes` of a file, as lines (a first partial line dropped). */
async function tailLines(path: string, maxBytes: number, signal?: AbortSignal): Promise<{ lines: string[]; truncated: boolean }> {
  // Never a FIFO or a device (/dev/zero would be one endless line); no further than the size it
  // had when opened, however fast it grows.
  const { handle, size } = await openRegularFile(path)
  if (size === 0) {
    await handle.close()
    return { lines: [], truncated: false }
  }
  const start = Math.max(0, size - maxBytes)
  const lines: string[] = []
  const input = handle.createReadStream({ start, end: size - 1, encoding: 'utf8', ...(signal ? { signal } : {}) })
  const reader = createInterface({ input, crlfDelay: Infinity })
  let first = true
  for await (const line of reader) {
    if (first && start > 0) {
      first = false
      continue
    }
    first = false
    if (line) lines.push(line)
  }
  return { lines, truncated: start > 0 }
}

/** The file's lines, undefined when it does not exist, a SystemError naming it when it cannot be read. */
async function readFile(path: string, maxBytes: number, signal?: AbortSignal): Promise<{ lines: string[]; truncated: boolean } | undefined> {
  try {
    return await tailLines(path, maxBytes, signal)
  } catch (error) {
    if (error instanceof FileReadError) {
      if (error.code === 'missing') return undefined
      if (error.code === 'unreadable' || error.code === 'not-a-file')
        throw new SystemError('auth-log', fileReadErrorCode(error.code), `the auth log ${error.message}`, { cause: error, target: path })
    }
    if (signal?.aborted) throw error
    throw new SystemError('auth-log', 'failed', `the auth log ${path} cannot be read: ${describeError(error)}`, { cause: error, target: path })
  }
}

/** Facilities auth (4) and authpriv (10): what rsyslog writes to auth.log. */
const AUTH_FACILITIES = ['SYSLOG_FACILITY=4', 'SYSLOG_FACILITY=10']

/**
 * The auth log lines of the last `sinceMs` or more, from the source the setting names, and which
 * that was. A configured file is read or reported unread, never replaced: journald is read only
 * when the setting says "journald", or when it is the default and no default file exists, and then
 * only if journalctl answered from a journal. Anything not read says why; it is never an empty log.
 */
export async function readAuthLog(setting: string, sinceMs: number, options: { timeoutMs: number; maxBytes?: number; signal?: AbortSignal }): Promise<AuthLog> {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024
  const journal = async (): Promise<{ lines: string[] } | { failure: SystemError }> => {
    try {
      return { lines: await journalLines(AUTH_FACILITIES, { sinceMs, timeoutMs: options.timeoutMs, signal: options.signal }) }
    } catch (error) {
      if (!isSystemError(error, 'journal')) throw error
      return { failure: error }
    }
  }
  const unread = (error: SystemError, reason = error.message): AuthLog => ({ read: false, reason, error })
  try {
    if (setting === 'journald') {
      const read = await journal()
      return 'lines' in read
        ? { read: true, source: 'journald', lines: read.lines, truncated: false }
        : unread(read.failure, `the journal could not be read: ${read.failure.message}`)
    }
    const candidates = setting === DEFAULT_AUTH_LOG ? [DEFAULT_AUTH_LOG, RED_HAT_AUTH_LOG] : [setting]
    for (const path of candidates) {
      const file = await readFile(path, maxBytes, options.signal)
      if (file) return { read: true, source: path, ...file, ...(path !== setting ? { note: `${setting} does not exist` } : {}) }
    }
    if (setting !== DEFAULT_AUTH_LOG)
      return unread(
        new SystemError('auth-log', 'not-found', `the auth log ${setting} does not exist`, {
          target: setting,
          data: { source: 'file', files: [DEFAULT_AUTH_LOG, RED_HAT_AUTH_LOG] },
        }),
      )
    const read = await journal()
    if ('lines' in read) return { read: true, source: 'journald', lines: read.lines, truncated: false, note: `${DEFAULT_AUTH_LOG} does not exist` }
    return unread(
      new SystemError('auth-log', 'not-found', `no auth log: ${DEFAULT_AUTH_LOG} does not exist and the journal could not be read (${read.failure.message})`, {
        cause: read.failure,
        target: DEFAULT_AUTH_LOG,
        data: { source: 'none', files: [DEFAULT_AUTH_LOG] },
      }),
    )
  } catch (error) {
    if (isSystemError(error, 'auth-log')) return unread(error)
    throw error
  }
}
