import { existsSync } from 'node:fs'
import { execa } from 'execa'

/**
 * Whether journalctl on this machine answers from a journal (asked as an operator would, without
 * --quiet), and if not, what probe-ops must say instead. Tests of the journal hold either way:
 * this machine may have no journalctl, or journalctl and no journal files.
 */
export async function journalAnswers(): Promise<{ answers: true } | { answers: false; why: string }> {
  const journalctl = ['/usr/bin/journalctl', '/bin/journalctl'].find((p) => existsSync(p))
  if (!journalctl) return { answers: false, why: 'journalctl is not installed here' }
  const result = await execa(journalctl, ['--since', '-1h', '--no-pager', '--output', 'short-iso', 'SYSLOG_FACILITY=4'], {
    reject: false,
    env: { LC_ALL: 'C' },
  })
  if (/No journal files were found/.test(String(result.stderr))) return { answers: false, why: 'journalctl found no journal on this host' }
  return { answers: true }
}
