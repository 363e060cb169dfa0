import { round1 } from '../../lib/format.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { readAuthLog } from '../../systems/auth-log.js'
import { hintOf } from '../hints.js'
import { parseAuthLines, type AuthEvent } from './auth-attempts.js'
import type { SecurityContext } from './context.js'
import type { FailedLoginsData } from './data.js'

/**
 * Authentication failures in the auth log over a window, counted in all, by user and by source
 * address, against a threshold; a success from an address that failed that often is worse.
 * The guide greps "authentication failure", which counts an SSH password failure twice (PAM and
 * sshd) and misses scanners that try invalid users against key-only servers; each attempt is
 * counted once here (auth-attempts.ts).
 */

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
  return Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, n),
  )
}

export function failedLoginFindings(summary: FailedLoginSummary, threshold: number, windowHours: number): Finding[] {
  const findings: Finding[] = []
  const window = `the last ${windowHours} h`
  if (summary.total >= threshold) {
    findings.push({
      id: 'failed-logins:total',
      severity: 'medium',
      message: `${summary.total} failed logins in ${window} (threshold ${threshold})`,
      fix: 'see the sources below; block repeat offenders (fail2ban), and allow SSH keys only (PasswordAuthentication no)',
    })
  }
  for (const [source, count] of Object.entries(summary.bySource)) {
    if (count < threshold) continue
    findings.push({
      id: `failed-logins:source:${source}`,
      severity: 'medium',
      message: `${count} failed logins from ${source} in ${window}`,
      fix: source === 'local' ? 'a local user keeps failing sudo/su: find out who, and why' : `block ${source} (fail2ban, or the firewall) unless it is yours`,
    })
  }
  for (const [user, count] of Object.entries(summary.byUser)) {
    if (count < threshold) continue
    findings.push({
      id: `failed-logins:user:${user}`,
      severity: 'medium',
      message: `${count} failed logins for user ${user} in ${window}`,
      fix: user === 'root' ? 'forbid root logins over SSH (PermitRootLogin no)' : `check that ${user}'s password is strong, or lock password logins for it`,
    })
  }
  for (const a of summary.acceptedAfterFailures) {
    findings.push({
      id: `failed-logins:accepted-after-failures:${a.source}:${a.user}`,
      severity: 'high',
      message: `${a.user} logged in from ${a.source} at ${a.at} after ${a.failuresBefore} failed logins from there: a guessed password?`,
      fix: `confirm with ${a.user} that it was them; if not, lock the account, end its sessions and look at what it did`,
    })
  }
  return findings
}

export const failedLogins: StepDefinition<SecurityContext, FailedLoginsData> = {
  // journalctl and a 64 MiB tail take a while on a busy host, whatever the checks' own bound.
  timeoutMs: ({ config }) => Math.max(config.security.checkTimeoutMs, 30_000),
  async run({ config, now }, run) {
    const { authLog, windowMs, failedLoginThreshold: threshold } = config.security
    const log = await readAuthLog(authLog, windowMs, { timeoutMs: config.security.checkTimeoutMs, signal: run.signal })
    if (!log.read) {
      // Nothing read is no count at all, never "0 failed logins".
      const unread: Finding = { id: 'failed-logins:not-read', severity: 'medium', message: `${log.reason}: failed logins not counted`, fix: hintOf(log.error) }
      return { summary: `not counted: ${log.reason}`, findings: [unread], data: { source: null, read: false, reason: log.reason } }
    }
    const from = now.getTime() - windowMs
    const events = parseAuthLines(log.lines, now)
    const summary = summarize(events, from, threshold)
    const windowHours = round1(windowMs / 3_600_000)
    const findings = failedLoginFindings(summary, threshold, windowHours)
    const firstAt = events[0]?.at
    const data: FailedLoginsData = {
      source: log.source,
      read: true,
      ...(log.note ? { note: log.note } : {}),
      windowHours,
      threshold,
      total: summary.total,
      byUser: top(summary.byUser),
      bySource: top(summary.bySource),
      acceptedAfterFailures: summary.acceptedAfterFailures,
      ...(log.truncated ? { truncated: true } : {}),
    }
    const details = [
      ...(log.note ? [`${log.note}: read ${log.source}`] : []),
      `${log.source}: ${summary.total} failed logins in the last ${windowHours} h from ${Object.keys(summary.bySource).length} sources`,
      ...Object.entries(top(summary.bySource, 5)).map(([s, n]) => `from ${s}: ${n}`),
      ...Object.entries(top(summary.byUser, 5)).map(([u, n]) => `user ${u}: ${n}`),
    ]
    if (log.truncated && firstAt !== undefined && firstAt > from)
      details.push(`only the last 64 MiB of ${log.source} were read (from ${new Date(firstAt).toISOString()})`)
    return { summary: `${summary.total} failed logins in ${windowHours} h in ${log.source} (threshold ${threshold})`, findings, details, data }
  },
}
