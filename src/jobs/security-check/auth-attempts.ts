/**
 * Login attempts in auth log lines (syslog files and journalctl's short-iso output), each counted
 * once. One failed attempt leaves several lines, each a witness of it: sshd's `Failed password`,
 * its `Invalid user`, pam_unix's `authentication failure` and, when the connection ends,
 * `PAM 2 more authentication failures`; su's `FAILED SU`; sudo's `3 incorrect password attempts`;
 * login's `FAILED LOGIN (1)`. The lines of one process (sshd per connection, su, sudo, login per
 * run) form a session, and a session failed as many times as its most complete witness says: the
 * largest count any one kind of line gives, never their sum.
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

/** rsyslog folds repeats: `message repeated 4 times: [ Failed password for root from ...]`. */
const REPEATED = /^message repeated (\d+) times: \[ ?(.*?)\]?$/
/** sysklogd's older fold: the previous message of that program, N more times. */
const LAST_REPEATED = /^last message repeated (\d+) times?$/

const SSH_FAILED = /^Failed (?:password|publickey|keyboard-interactive\/pam|none|hostbased|gssapi-with-mic) for (?:invalid user )?(.*?) from (\S+) port \d+/
const SSH_INVALID_USER = /^Invalid user (.*?) from (\S+)(?: port \d+)?\s*$/
const SSH_PAM_ERROR = /^error: PAM: Authentication failure for (?:illegal user )?(.*?) from (\S+)\s*$/
const SSH_ACCEPTED = /^Accepted \S+ for (.*?) from (\S+) port \d+/
const PAM_FAILURE = /^pam_unix\([^:)]+:auth\): authentication failure;(.*)$/
/** pam_unix, when the PAM handle ends: the failures after the first it logged. */
const PAM_MORE = /^(?:PAM|pam_unix\([^)]*\):) (\d+) more authentication failures?;(.*)$/
const SU_FAILED = /^FAILED SU \(to (\S+)\) (\S+) on /
const SUDO_ATTEMPTS = /^\s*(\S+) : (\d+) incorrect password attempts? ;/
/** shadow's login: `FAILED LOGIN (1) on '/dev/tty1' FOR 'alice', ...`; util-linux: `FAILED LOGIN 1 FROM host FOR alice, ...` */
const LOGIN_FAILED = /^FAILED LOGIN (?:\(\d+\)|\d+) (?:on '[^']*'|FROM (\S+)) FOR '?([^',]+)'?,/

/** Which line witnessed failures; the order is whose user and source name a session first. */
const WITNESSES = ['ssh-failed', 'ssh-invalid-user', 'ssh-pam-error', 'login', 'su', 'sudo', 'pam'] as const
type WitnessKind = (typeof WITNESSES)[number]

interface Witness {
  kind: WitnessKind
  count: number
  user?: string
  source?: string
  /** Who ran the program (su's and sudo's caller), which keys a session without a pid. */
  caller?: string
}

function pamField(fields: string, name: string): string {
  return new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(fields)?.[1] ?? ''
}

function pamWitness(kind: WitnessKind, count: number, fields: string): Witness {
  const user = pamField(fields, 'user')
  const caller = pamField(fields, 'logname') || pamField(fields, 'ruser')
  return { kind, count, user: user || caller || undefined, source: pamField(fields, 'rhost') || undefined, caller: caller || user || undefined }
}

function witnessOf(ssh: boolean, message: string): Witness | { accepted: { user: string; source: string } } | undefined {
  if (ssh) {
    const failed = SSH_FAILED.exec(message)
    if (failed) return { kind: 'ssh-failed', count: 1, user: failed[1] || '(none)', source: failed[2] }
    const invalid = SSH_INVALID_USER.exec(message)
    if (invalid) return { kind: 'ssh-invalid-user', count: 1, user: invalid[1] || '(none)', source: invalid[2] }
    const pamError = SSH_PAM_ERROR.exec(message)
    if (pamError) return { kind: 'ssh-pam-error', count: 1, user: pamError[1], source: pamError[2] }
    const accepted = SSH_ACCEPTED.exec(message)
    if (accepted) return { accepted: { user: accepted[1]!, source: accepted[2]! } }
  }
  const pam = PAM_FAILURE.exec(message)
  if (pam) return pamWitness('pam', 1, pam[1]!)
  const more = PAM_MORE.exec(message)
  if (more) return pamWitness('pam', Number(more[1]), more[2]!)
  const su = SU_FAILED.exec(message)
  if (su) return { kind: 'su', count: 1, user: su[1], caller: su[2] }
  const sudo = SUDO_ATTEMPTS.exec(message)
  if (sudo) return { kind: 'sudo', count: Number(sudo[2]), user: sudo[1], caller: sudo[1] }
  const login = LOGIN_FAILED.exec(message)
  if (login) return { kind: 'login', count: 1, user: login[2], source: login[1] }
  return undefined
}

interface Session {
  key: string
  service: string
  lastAt: number
  counts: Map<WitnessKind, number>
  witnesses: Witness[]
}

/**
 * A pid comes back after a while: lines of one pid this far apart are different sessions.
 * Longer than any one run waits for a password (sudo's passwd_timeout is 5 minutes, sshd's
 * LoginGraceTime 2).
 */
const SESSION_GAP_MS = 10 * 60_000

function sessionEvent(session: Session): AuthEvent {
  const count = Math.max(...session.counts.values())
  const named = (field: 'user' | 'source') =>
    [...session.witnesses].sort((a, b) => WITNESSES.indexOf(a.kind) - WITNESSES.indexOf(b.kind)).find((w) => w[field])?.[field]
  return { at: session.lastAt, kind: 'failure', user: named('user') ?? '(unknown)', source: named('source') ?? 'local', service: session.service, count }
}

/** Authentication events of auth log lines, each failed attempt counted once; oldest first. */
export function parseAuthLines(lines: readonly string[], now: Date): AuthEvent[] {
  const events: AuthEvent[] = []
  const open = new Map<string, Session>()
  /** Each program's last witness, for sysklogd's "last message repeated N times". */
  const lastWitness = new Map<string, { session: Session; witness: Witness }>()
  const close = (session: Session) => {
    open.delete(session.key)
    events.push(sessionEvent(session))
  }
  for (const line of lines) {
    const timed = lineTime(line, now)
    if (!timed) continue
    const program = PROGRAM.exec(timed.rest)
    if (!program) continue
    const [, name, pid, body] = program as unknown as [string, string, string | undefined, string]
    // OpenSSH 9.8 logs through sshd-session; a path may precede the name.
    const service = name
      .split('/')
      .at(-1)!
      .replace(/^sshd-session$/, 'sshd')
    const processKey = `${service}[${pid ?? ''}]`
    const lastRepeat = LAST_REPEATED.exec(body)
    if (lastRepeat) {
      const last = lastWitness.get(processKey)
      if (last) {
        last.session.counts.set(last.witness.kind, (last.session.counts.get(last.witness.kind) ?? 0) + Number(lastRepeat[1]) * last.witness.count)
        last.session.lastAt = timed.at
      }
      continue
    }
    const repeated = REPEATED.exec(body)
    const times = repeated ? Number(repeated[1]) : 1
    const message = repeated ? repeated[2]! : body
    const witness = witnessOf(service === 'sshd', message)
    if (!witness) continue
    if ('accepted' in witness) {
      events.push({ at: timed.at, kind: 'accepted', user: witness.accepted.user, source: witness.accepted.source, service, count: 1 })
      continue
    }
    witness.count *= times
    // Without a pid (sudo writes none to syslog) the caller keys the session.
    const key = pid ? processKey : `${service}:${witness.caller ?? witness.user ?? ''}`
    let session = open.get(key)
    if (session && timed.at - session.lastAt > SESSION_GAP_MS) {
      close(session)
      session = undefined
    }
    if (!session) {
      session = { key, service, lastAt: timed.at, counts: new Map(), witnesses: [] }
      open.set(key, session)
    }
    session.counts.set(witness.kind, (session.counts.get(witness.kind) ?? 0) + witness.count)
    session.witnesses.push(witness)
    session.lastAt = Math.max(session.lastAt, timed.at)
    lastWitness.set(processKey, { session, witness })
  }
  for (const session of [...open.values()]) close(session)
  return events.sort((a, b) => a.at - b.at)
}
