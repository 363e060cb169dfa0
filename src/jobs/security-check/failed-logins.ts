import { findingsOutcome, type Finding } from '../../report/findings.js'
import type { Step } from '../../report/runner.js'
import { readAuthLog } from '../../systems/auth-log.js'
import type { SecurityContext } from './context.js'

/**
 * Authentication failures in the auth log over a window, counted in all, by user and by source
 * address, against a threshold; a success from an address that failed that often is worse.
 * The guide greps "authentication failure", which counts an SSH password failure twice (PAM and
 * sshd) and misses scanners that try invalid users against key-only servers.
 */

export interface AuthEvent {
  at: number
  kind: 'failure' | 'accepted'
  user: string
  /** The remote address, or "local" (sudo, su, a console login). */
  source: string
  service: string
  count: number
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** rsyslog's high-precision format and journalctl -o short-iso: 2026-11-25T03:00:01.123456+00:00 host prog[pid]: msg */
const ISO_LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})?\s+\S+\s+(.*)$/
/** Traditional syslog: Nov 25 03:00:01 host prog[pid]: msg (local time, no year) */
const SYSLOG_LINE = /^([A-Z][a-z]{2})\s+(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\s+\S+\s+(.*)$/
const PROGRAM = /^([\w.@/-]+?)(?:\[(\d+)\])?:\s(.*)$/

function lineTime(line: string, now: Date): { at: number; rest: string } | undefined {
  const iso = ISO_LINE.exec(line)
  if (iso) {
    const zone = iso[2] ? (iso[2] === 'Z' ? 'Z' : iso[2].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : ''
    const at = Date.parse(`${iso[1]}${zone}`)
    return Number.isNaN(at) ? undefined : { at, rest: iso[3]! }
  }
  const sys = SYSLOG_LINE.exec(line)
  if (!sys) return undefined
  const month = MONTHS.indexOf(sys[1]!)
  if (month < 0) return undefined
  let date = new Date(now.getFullYear(), month, Number(sys[2]), Number(sys[3]), Number(sys[4]), Number(sys[5]))
  // No year in the line: a date ahead of now is last year's.
  if (date.getTime() > now.getTime() + 86_400_000) date = new Date(now.getFullYear() - 1, month, Number(sys[2]), Number(sys[3]), Number(sys[4]), Number(sys[5]))
  return { at: date.getTime(), rest: sys[6]! }
}

const FAILED = /^(?:message repeated (\d+) times: \[ )?Failed (?:password|publickey|keyboard-interactive\/pam|none|hostbased) for (invalid user )?(.*?) from (\S+) port \d+/
const INVALID_USER = /^Invalid user (.*?) from (\S+)(?: port \d+)?\s*$/
const ACCEPTED = /^Accepted \S+ for (.*?) from (\S+) port \d+/
const PAM_FAILURE = /pam_unix\(([^:)]+):auth\): authentication failure;(.*)$/

function pamField(fields: string, name: string): string {
  return new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(fields)?.[1] ?? ''
}

/**
 * Authentication events of auth log lines (syslog or journal format). An SSH failure counts once
 * (sshd's line; its PAM twin is skipped); an "Invalid user" line counts only when that sshd
 * process logged no failure of its own (key-only servers), so a password guess is not counted
 * twice either.
 */
export function parseAuthLines(lines: string[], now: Date): AuthEvent[] {
  const events: AuthEvent[] = []
  const invalid = new Map<string, AuthEvent>()
  const sshdFailed = new Set<string>()
  for (const line of lines) {
    const timed = lineTime(line, now)
    if (!timed) continue
    const program = PROGRAM.exec(timed.rest)
    if (!program) continue
    const [, name, pid, message] = program as unknown as [string, string, string | undefined, string]
    const service = name.split('/').at(-1)!
    if (service === 'sshd' || service.startsWith('sshd')) {
      const failed = FAILED.exec(message)
      if (failed) {
        events.push({ at: timed.at, kind: 'failure', user: failed[3] || '(none)', source: failed[4]!, service: 'sshd', count: Number(failed[1] ?? 1) })
        sshdFailed.add(`${pid}`)
        continue
      }
      const bad = INVALID_USER.exec(message)
      if (bad) {
        invalid.set(`${pid} ${invalid.size}`, { at: timed.at, kind: 'failure', user: bad[1] || '(none)', source: bad[2]!, service: 'sshd', count: 1 })
        continue
      }
      const accepted = ACCEPTED.exec(message)
      if (accepted) events.push({ at: timed.at, kind: 'accepted', user: accepted[1]!, source: accepted[2]!, service: 'sshd', count: 1 })
      continue
    }
    const pam = PAM_FAILURE.exec(message)
    if (pam && !pam[1]!.startsWith('sshd')) {
      const fields = pam[2]!
      const user = pamField(fields, 'user') || pamField(fields, 'ruser') || pamField(fields, 'logname') || '(unknown)'
      events.push({ at: timed.at, kind: 'failure', user, source: pamField(fields, 'rhost') || 'local', service: pam[1]!, count: 1 })
    }
  }
  for (const [key, event] of invalid) if (!sshdFailed.has(key.split(' ')[0]!)) events.push(event)
  return events.sort((a, b) => a.at - b.at)
}

export interface FailedLoginSummary {
  total: number
  byUser: Record<string, number>
  bySource: Record<string, number>
  /** Successful logins from an address with at least `threshold` failures before it. */
  acceptedAfterFailures: { user: string; source: string; at: string; failuresBefore: number }[]
}

export function summarize(events: AuthEvent[], from: number, threshold: number): FailedLoginSummary {
  const summary: FailedLoginSummary = { total: 0, byUser: {}, bySource: {}, acceptedAfterFailures: [] }
  const failuresSoFar = new Map<string, number>()
  for (const e of events) {
    if (e.at < from) continue
    if (e.kind === 'failure') {
      summary.total += e.count
      summary.byUser[e.user] = (summary.byUser[e.user] ?? 0) + e.count
      summary.bySource[e.source] = (summary.bySource[e.source] ?? 0) + e.count
      failuresSoFar.set(e.source, (failuresSoFar.get(e.source) ?? 0) + e.count)
    } else if ((failuresSoFar.get(e.source) ?? 0) >= threshold) {
      summary.acceptedAfterFailures.push({ user: e.user, source: e.source, at: new Date(e.at).toISOString(), failuresBefore: failuresSoFar.get(e.source)! })
    }
  }
  return summary
}

function top(counts: Record<string, number>, n = 20): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n))
}

export function failedLoginFindings(summary: FailedLoginSummary, threshold: number, windowHours: number): Finding[] {
  const findings: Finding[] = []
  const window = `the last ${windowHours} h`
  if (summary.total >= threshold) {
    findings.push({ id: 'failed-logins:total', severity: 'medium', message: `${summary.total} failed logins in ${window} (threshold ${threshold})`, fix: 'see the sources below; block repeat offenders (fail2ban), and allow SSH keys only (PasswordAuthentication no)' })
  }
  for (const [source, count] of Object.entries(summary.bySource)) {
    if (count < threshold) continue
    findings.push({ id: `failed-logins:source:${source}`, severity: 'medium', message: `${count} failed logins from ${source} in ${window}`, fix: source === 'local' ? 'a local user keeps failing sudo/su: find out who, and why' : `block ${source} (fail2ban, or the firewall) unless it is yours` })
  }
  for (const [user, count] of Object.entries(summary.byUser)) {
    if (count < threshold) continue
    findings.push({ id: `failed-logins:user:${user}`, severity: 'medium', message: `${count} failed logins for user ${user} in ${window}`, fix: user === 'root' ? 'forbid root logins over SSH (PermitRootLogin no)' : `check that ${user}'s password is strong, or lock password logins for it` })
  }
  for (const a of summary.acceptedAfterFailures) {
    findings.push({ id: `failed-logins:accepted-after-failures:${a.source}:${a.user}`, severity: 'high', message: `${a.user} logged in from ${a.source} at ${a.at} after ${a.failuresBefore} failed logins from there: a guessed password?`, fix: `confirm with ${a.user} that it was them; if not, lock the account, end its sessions and look at what it did` })
  }
  return findings
}

export const failedLoginsStep: Step<SecurityContext> = {
  id: 'failed-logins',
  title: 'Failed logins',
  async run({ config, now }, run) {
    const { authLog, windowMs, failedLoginThreshold: threshold } = config.security
    const log = await readAuthLog(authLog, windowMs, { timeoutMs: config.security.checkTimeoutMs, signal: run.signal })
    if (!log) return { status: 'skipped', summary: `no auth log: ${authLog === 'journald' ? 'no systemd journal here' : `${authLog} does not exist and there is no systemd journal`}` }
    const from = now.getTime() - windowMs
    const events = parseAuthLines(log.lines, now)
    const summary = summarize(events, from, threshold)
    const windowHours = Math.round((windowMs / 3_600_000) * 10) / 10
    const findings = failedLoginFindings(summary, threshold, windowHours)
    const firstAt = events[0]?.at
    const data = {
      source: log.source,
      windowHours,
      threshold,
      total: summary.total,
      byUser: top(summary.byUser),
      bySource: top(summary.bySource),
      acceptedAfterFailures: summary.acceptedAfterFailures,
      ...(log.truncated ? { truncated: true } : {}),
    }
    const details = [
      `${log.source}: ${summary.total} failed logins in the last ${windowHours} h from ${Object.keys(summary.bySource).length} sources`,
      ...Object.entries(top(summary.bySource, 5)).map(([s, n]) => `from ${s}: ${n}`),
      ...Object.entries(top(summary.byUser, 5)).map(([u, n]) => `user ${u}: ${n}`),
    ]
    if (log.truncated && firstAt !== undefined && firstAt > from) details.push(`only the last 64 MiB of ${log.source} were read (from ${new Date(firstAt).toISOString()})`)
    return findingsOutcome(`${summary.total} failed logins in ${windowHours} h (threshold ${threshold})`, findings, data, details)
  },
}
