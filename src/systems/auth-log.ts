import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { StepFailure } from '../errors.js'
import { FileReadError, openRegularFile } from '../lib/regular-file.js'
import { findExecutable, runProgram } from './programs.js'

/** The authentication log: a syslog file (/var/log/auth.log, /var/log/secure) or the journal. */

export interface AuthLog {
  /** The file read, or "journald". */
  source: string
  lines: string[]
  /** Only the file's last `maxBytes` were read. */
  truncated: boolean
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

const JOURNAL_DIRS = ['/var/log/journal', '/run/log/journal']

async function readJournal(sinceMs: number, timeoutMs: number, signal?: AbortSignal): Promise<AuthLog | undefined> {
  const journalctl = await findExecutable('journalctl')
  if (!journalctl || !JOURNAL_DIRS.some((d) => existsSync(d))) return undefined
  const since = `@${Math.floor((Date.now() - sinceMs) / 1000)}`
  // Facilities auth (4) and authpriv (10): what rsyslog writes to auth.log.
  const result = await runProgram(journalctl, ['--since', since, '--no-pager', '--quiet', '--output', 'short-iso', 'SYSLOG_FACILITY=4', 'SYSLOG_FACILITY=10'], { timeoutMs, signal })
  // journalctl exits 0 when it finds no journal at all; that is no source, not an empty one.
  if (/No journal files were found/.test(result.stderr)) return undefined
  if (result.exitCode !== 0) throw new StepFailure(`journalctl exited with ${result.exitCode}: ${result.stderr.split('\n')[0] ?? ''}`.trim(), 'run as root or as a member of systemd-journal or adm')
  return { source: 'journald', lines: result.stdout.split('\n').filter((l) => l && !l.startsWith('-- ')), truncated: false }
}

/**
 * The auth log lines of the last `sinceMs` or more: from the configured file, or from the
 * journal when the setting is "journald" or the file does not exist. Undefined when there is
 * neither (a reason for a skipped step, not an error).
 */
export async function readAuthLog(setting: string, sinceMs: number, options: { timeoutMs: number; maxBytes?: number; signal?: AbortSignal }): Promise<AuthLog | undefined> {
  if (setting !== 'journald') {
    try {
      const { lines, truncated } = await tailLines(setting, options.maxBytes ?? 64 * 1024 * 1024, options.signal)
      return { source: setting, lines, truncated }
    } catch (error) {
      if (!(error instanceof FileReadError)) throw error
      if (error.code === 'unreadable') throw new StepFailure(`the auth log ${error.message}`, 'run as root or as a member of the adm group')
      if (error.code === 'not-a-file') throw new StepFailure(`the auth log ${error.message}`, 'set security.authLog to the file (or to "journald")')
    }
  }
  return readJournal(sinceMs, options.timeoutMs, options.signal)
}
