/**
 * The one place where secrets inside URLs are hidden before anything is shown: the password of
 * `scheme://user:password@host`, and the value of query parameters whose name says secret
 * (`?token=`, `&password=`, `api_key=`, ...). The report (every rendering of it: text, --json,
 * the report file, the maintenance log, metrics), `config show` and every error line go through
 * it. Passwords probe-ops holds itself are Secrets (config/secret.ts) and never reach a string;
 * this is for URLs a setting holds whole, and for libraries that echo a URL in their errors.
 */

export const REDACTED = '[redacted]'

/** Names of query parameters whose values are secrets, alone or as the end of a longer name (x-api-key, db_password). */
const SECRET_PARAMETER = /(?:^|[_.-])(?:password|passwd|pwd|pass|secret|token|key|apikey|auth|authorization|credentials?|signature|sig|session|sessionid)$/i
const SECRET_PARAMETER_PREFIX = /^(?:access|refresh|id|auth|api|client|private)[_-]?(?:token|key|secret)$/i

/** A URL with a scheme, up to the first character that cannot be part of it in running text. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi

function isSecretParameter(name: string): boolean {
  let decoded = name
  try {
    decoded = decodeURIComponent(name)
  } catch {
    // a malformed escape: judge the name as written
  }
  return SECRET_PARAMETER.test(decoded) || SECRET_PARAMETER_PREFIX.test(decoded)
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=')
      if (equals <= 0 || equals === pair.length - 1) return pair
      return isSecretParameter(pair.slice(0, equals)) ? `${pair.slice(0, equals + 1)}${REDACTED}` : pair
    })
    .join('&')
}

/** Where the authority (userinfo@host:port) of what follows "scheme://" ends. */
function authorityLength(rest: string): number {
  const end = (text: string) => {
    const found = text.search(/[/?#\\]/)
    return found === -1 ? text.length : found
  }
  const first = end(rest)
  const authority = rest.slice(0, first)
  // As the WHATWG parser does: the authority ends at the first / ? # or \. But a password with an
  // unescaped / (no valid URL, yet written in one) shows as a colon followed by no port number,
  // then an @ further on: all of that is taken as userinfo.
  if (authority.includes('@') || authority.startsWith('[') || !/:(?!\d*$)/.test(authority)) return first
  const query = rest.search(/[?#]/)
  const lastAt = (query === -1 ? rest : rest.slice(0, query)).lastIndexOf('@')
  return lastAt === -1 ? first : lastAt + end(rest.slice(lastAt))
}

/**
 * The URL with its password and secret query values replaced by "[redacted]", the rest as
 * written (no normalisation, so the operator recognises it). Text that is not a URL is returned
 * as it is.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)
  if (!scheme) return url
  const rest = url.slice(scheme[0].length)
  // Userinfo ends at the authority's last @.
  const authorityEnd = authorityLength(rest)
  const authority = rest.slice(0, authorityEnd)
  let tail = rest.slice(authorityEnd)
  let shownAuthority = authority
  const at = authority.lastIndexOf('@')
  if (at !== -1) {
    const userinfo = authority.slice(0, at)
    const colon = userinfo.indexOf(':')
    if (colon !== -1 && colon < userinfo.length - 1) shownAuthority = `${userinfo.slice(0, colon + 1)}${REDACTED}${authority.slice(at)}`
  }
  const question = tail.indexOf('?')
  if (question !== -1) {
    const hash = tail.indexOf('#', question)
    const query = hash === -1 ? tail.slice(question + 1) : tail.slice(question + 1, hash)
    tail = `${tail.slice(0, question + 1)}${redactQuery(query)}${hash === -1 ? '' : tail.slice(hash)}`
  }
  return `${scheme[0]}${shownAuthority}${tail}`
}

/** Every URL in a line of text redacted (an error message that echoes the URL it failed on). */
export function redactText(text: string): string {
  if (!text.includes('://')) return text
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url))
}

/** A copy of a plain JSON-like value (a report, a step's data) with every string redacted. */
export function redactStrings<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T
  if (Array.isArray(value)) return (value as unknown[]).map((item) => redactStrings(item)) as T
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactStrings(item)])) as T
  }
  return value
}
