import { UsageError } from '../errors.js'
import { formatLimit } from '../lib/format.js'
import { FileReadError, readRegularFileSync } from '../lib/regular-file.js'
import type { PostgresConfig } from './model.js'
import { Secret, type BasicCredentials } from './secret.js'

/**
 * Passwords, wherever the configuration takes them from (a password file, a URL's userinfo, the
 * environment), made Secrets and kept apart from the URL, which can then be shown and logged.
 */

/** A password or token file: a few bytes; generous for long tokens. */
const MAX_SECRET_BYTES = 64 * 1024

export function readSecretFile(path: string, key: string): Secret {
  try {
    const value = readRegularFileSync(path, MAX_SECRET_BYTES, 'password file')
      .toString('utf8')
      .replace(/\r?\n$/, '')
    return new Secret(value, `${key} ${path}`)
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    throw new UsageError(
      `${key}: ${error.message}`,
      `point ${key} at the file that holds the password (a regular file of at most ${formatLimit(MAX_SECRET_BYTES)}), or remove ${key} and set the password in the environment`,
    )
  }
}

export function parseDatabaseUrl(url: string): Partial<PostgresConfig> {
  try {
    const parsed = new URL(url)
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new Error('not a postgres URL')
    return {
      host: parsed.hostname || undefined,
      port: parsed.port ? Number(parsed.port) : undefined,
      user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      database: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : undefined,
      password: parsed.password ? new Secret(decodeURIComponent(parsed.password), 'DATABASE_URL') : undefined,
    }
  } catch {
    throw new UsageError('DATABASE_URL is not a valid postgres:// URL', 'use postgres://user@host:port/database, or unset it and use PGHOST/PGPORT/...')
  }
}

/** Splits the user and the password out of a redis URL so that the URL itself can be shown. */
export function splitRedisUrl(url: string, origin: string): { url: string; username?: string; password?: Secret } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`${origin} is not a valid URL: use redis://[[user]:password@]host:port[/db]`)
  }
  if (!/^rediss?:$/.test(parsed.protocol)) throw new UsageError(`${origin} must start with redis:// or rediss://`)
  const password = parsed.password ? new Secret(decodeURIComponent(parsed.password), origin) : undefined
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined
  parsed.password = ''
  parsed.username = ''
  return { url: parsed.toString().replace(/\/$/, ''), ...(username ? { username } : {}), password }
}

/**
 * The credentials of an HTTP URL setting, apart from the URL: from user + passwordFile, else
 * from the URL's userinfo (`http://user:password@host`). The URL keeps no userinfo, so that it
 * can be shown and logged; the password is a Secret, sent only as a basic auth header.
 */
export function splitHttpCredentials(
  url: string,
  settings: { key: string; origin: string; user?: string; passwordFile?: string },
): { url: string; credentials?: BasicCredentials } {
  const { key, origin, user, passwordFile } = settings
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    // The schema has checked the file's URLs; an environment variable's is checked where it is used.
  }
  const userinfo =
    parsed && (parsed.username || parsed.password) ? { user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) } : undefined
  // Removed as text, not rebuilt by URL: the rest stays as the operator wrote it.
  const bare = userinfo ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1') : url
  if (passwordFile) {
    const name = user ?? userinfo?.user
    if (!name) throw new UsageError(`${key}.passwordFile needs a user: set ${key}.user`, `or remove ${key}.passwordFile`)
    return { url: bare, credentials: { user: name, password: readSecretFile(passwordFile, `${key}.passwordFile`), passwordFile } }
  }
  if (userinfo) return { url: bare, credentials: { user: user ?? userinfo.user, password: new Secret(userinfo.password, origin), inUrl: true } }
  if (user) return { url: bare, credentials: { user, password: new Secret('', `${key}.user without a password`) } }
  return { url: bare }
}
