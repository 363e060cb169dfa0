import type { LogLine } from '../logs/entries.js'
import { SystemError } from './errors.js'
import { findExecutable, ProgramError, runProgram, type ProgramResult } from './programs.js'

/**
 * The systemd journal through journalctl. journalctl exits 0 and prints nothing (with --quiet) when
 * it finds no journal files at all, or none it may open: that is a journal that could not be read,
 * never an empty one, so it is a failure here that says which.
 */

/**
 * What journalctl's answer says of the journal: undefined when it answered from one. It exits 0
 * both when it found no journal and when it may not read all of it, and says which only on stderr
 * (systemd gives these no code), so those two are known by its words; any other exit but 0 failed.
 */
export function journalProblem(result: Pick<ProgramResult, 'exitCode' | 'stderr'>): 'not-found' | 'permission' | 'failed' | undefined {
  if (/No journal files were found/i.test(result.stderr)) return 'not-found'
  if (/insufficient permissions|not seeing messages from other users/i.test(result.stderr)) return 'permission'
  return result.exitCode === 0 ? undefined : 'failed'
}

/** Entries of the last `sinceMs` matching `filters` (journalctl matches or --unit), as `short-iso` lines. */
export async function journalLines(
  filters: string[],
  options: { sinceMs: number; timeoutMs: number; lines?: number; signal?: AbortSignal },
): Promise<string[]> {
  const journalctl = await findExecutable('journalctl')
  if (!journalctl) throw new SystemError('journal', 'not-installed', 'journalctl is not installed here')
  const since = `@${Math.floor((Date.now() - options.sinceMs) / 1000)}`
  const args = ['--since', since, '--no-pager', '--output', 'short-iso', ...(options.lines ? ['--lines', String(options.lines)] : []), ...filters]
  let result
  try {
    result = await runProgram(journalctl, args, { timeoutMs: options.timeoutMs, signal: options.signal })
  } catch (error) {
    // Cancelled: the step's own abort, which says why itself.
    if (error instanceof ProgramError && error.kind !== 'cancelled')
      throw new SystemError('journal', error.kind === 'timeout' ? 'timeout' : 'failed', error.message, { cause: error, data: { ran: false } })
    throw error
  }
  const said = result.stderr.trim()
  const firstLine = said.split('\n')[0]
  switch (journalProblem(result)) {
    case 'not-found':
      throw new SystemError('journal', 'not-found', 'journalctl found no journal on this host')
    case 'permission':
      throw new SystemError('journal', 'permission', `journalctl may not read the whole journal: ${firstLine}`)
    case 'failed':
      throw new SystemError('journal', 'failed', `journalctl exited with ${result.exitCode}${said ? `: ${firstLine}` : ''}`, {
        data: { exitCode: result.exitCode },
      })
  }
  // "-- No entries --", "-- Boot 1a2b... --": journalctl's own remarks, not entries.
  return result.stdout.split('\n').filter((line) => line && !line.startsWith('-- '))
}

/** `2026-11-25T10:00:01+0000 host ident[pid]: message`: the message as the service wrote it, and its time. */
const JOURNAL_LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2}) \S+ [^\s:]+: (.*)$/

export function journalLine(line: string): LogLine {
  const match = JOURNAL_LINE.exec(line)
  if (!match) return { text: line }
  const zone = match[2] === 'Z' ? 'Z' : match[2]!.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2')
  const at = Date.parse(`${match[1]}${zone}`)
  return Number.isNaN(at) ? { text: match[3]! } : { text: match[3]!, at }
}
