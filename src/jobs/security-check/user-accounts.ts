import { FileReadError, readRegularFile } from '../../lib/regular-file.js'
import { StepFailure } from '../../errors.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import type { SecurityContext } from './context.js'
import type { UserAccountsData } from './data.js'

/**
 * Login accounts (uid >= 1000, as the guide's awk), any uid 0 account besides root, and accounts
 * without a password (an empty field in /etc/shadow, or in /etc/passwd itself).
 */

export interface Account {
  name: string
  password: string
  uid: number
  gid: number
  home: string
  shell: string
}

export function parsePasswd(text: string): Account[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((f) => f.length >= 7)
    .map(([name, password, uid, gid, , home, shell]) => ({ name: name!, password: password!, uid: Number(uid), gid: Number(gid), home: home!, shell: shell! }))
}

/** user name → the password field of /etc/shadow */
export function parseShadow(text: string): Map<string, string> {
  const entries = new Map<string, string>()
  for (const line of text.split('\n')) {
    const fields = line.split(':')
    if (fields.length >= 2 && fields[0]) entries.set(fields[0], fields[1]!)
  }
  return entries
}

const NO_LOGIN = /(nologin|\/false|\/sync|\/shutdown|\/halt)$/

export function canLogIn(account: Account): boolean {
  return account.shell !== '' && !NO_LOGIN.test(account.shell)
}

export function accountFindings(accounts: readonly Account[], shadow: ReadonlyMap<string, string> | undefined): Finding[] {
  const findings: Finding[] = []
  for (const a of accounts) {
    if (a.uid === 0 && a.name !== 'root') {
      findings.push({
        id: `uid0-account:${a.name}`,
        severity: 'critical',
        message: `${a.name} has uid 0: it is root under another name`,
        fix: `unless it is deliberate, delete it (userdel ${a.name}) and find out who made it`,
      })
    }
    if (a.uid >= 1000 && a.uid !== 65534 && canLogIn(a)) {
      findings.push({ id: `login-account:${a.name}`, severity: 'info', message: `login account ${a.name} (uid ${a.uid}, ${a.shell})` })
    }
    const password = a.password === 'x' ? shadow?.get(a.name) : a.password
    if (password === '') {
      const login = canLogIn(a)
      findings.push({
        id: `empty-password:${a.name}`,
        severity: login ? 'critical' : 'high',
        message: `${a.name} has no password${login ? ` and a login shell (${a.shell}): anyone can log in as it` : ''}`,
        fix: `passwd -l ${a.name} (lock it), or set a password: passwd ${a.name}`,
      })
    }
  }
  return findings
}

/** passwd and shadow of a host with local accounts only: kilobytes; a million accounts fit. */
const MAX_ACCOUNTS_FILE_BYTES = 64 * 1024 * 1024

export const userAccounts: StepDefinition<SecurityContext, UserAccountsData> = {
  timeoutMs: ({ config }) => config.security.checkTimeoutMs,
  async run({ config }) {
    const { passwdFile, shadowFile } = config.security
    let accounts: Account[]
    try {
      accounts = parsePasswd((await readRegularFile(passwdFile, MAX_ACCOUNTS_FILE_BYTES, 'passwd file')).toString('utf8'))
    } catch (error) {
      if (!(error instanceof FileReadError)) throw error
      throw new StepFailure(error.message, 'set security.passwdFile to the passwd file')
    }
    const shadowText = await readRegularFile(shadowFile, MAX_ACCOUNTS_FILE_BYTES, 'shadow file').then(
      (buffer) => buffer.toString('utf8'),
      () => undefined,
    )
    const shadow = shadowText === undefined ? undefined : parseShadow(shadowText)
    const findings = accountFindings(accounts, shadow)
    const logins = accounts.filter((a) => a.uid >= 1000 && a.uid !== 65534 && canLogIn(a)).map((a) => a.name)
    const details = shadow ? [] : [`${shadowFile} is not readable: empty passwords not checked (run as root)`]
    return {
      summary: `${accounts.length} accounts, ${logins.length} login accounts${shadow ? '' : '; shadow not readable'}`,
      findings,
      details,
      data: { passwdFile, shadowChecked: shadow !== undefined, loginAccounts: logins, uid0: accounts.filter((a) => a.uid === 0).map((a) => a.name) },
    }
  },
}
