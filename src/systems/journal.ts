import { StepFailure } from '../errors.js'
import type { LogLine } from '../logs/entries.js'
import { findExecutable, ProgramError, runProgram } from './programs.js'

/**
 * The systemd journal through journalctl. journalctl exits 0 and prints nothing (with --quiet) when
 * it finds no journal files at all, or none it may open: that is a journal that could not be read,
 * never an empty one, so it is a failure here that says which.
 */

const HINT = 'run as root, or as a member of the systemd-journal or adm group'

/** Entries of the last `sinceMs` matching `filters` (journalctl matches or --unit), as `short-iso` lines. */
export async function journalLines(
  filters: string[],
  options: { sinceMs: number; timeoutMs: number; lines?: number; signal?: AbortSignal },
): Promise<string[]> {
  const journalctl = await findExecutable('journalctl')
  if (!journalctl) throw new StepFailure('journalctl is not installed here', 'this host does not run systemd: read a log file instead')
  const since = `@${Math.floor((Date.now() - options.sinceMs) / 1000)}`
  const args = ['--since', since, '--no-pager', '--output', 'short-iso', ...(options.lines ? ['--lines', String(options.lines)] : []), ...filters]
  let result
  try {
    result = await runProgram(journalctl, args, { timeoutMs: options.timeoutMs, signal: options.signal })
  } catch (error) {
    if (error instanceof ProgramError && error.kind !== 'cancelled')
      throw new StepFailure(error.message, 'the journal is slow or broken: check `journalctl --verify`')
    throw error
  }
  const said = result.stderr.trim()
  if (/No journal files were found/i.test(said))
    throw new StepFailure('journalctl found no journal on this host', 'journald keeps no journal here (Storage=none, or no systemd): read a log file instead')
  if (/insufficient permissions|not seeing messages from other users/i.test(said))
    throw new StepFailure(`journalctl may not read the whole journal: ${said.split('\n')[0]}`, HINT)
  if (result.exitCode !== 0) throw new StepFailure(`journalctl exited with ${result.exitCode}${said ? `: ${said.split('\n')[0]}` : ''}`, HINT)
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
