import { readFileSync, statSync } from 'node:fs'

/** The OS user PostgreSQL's files belong to: the owner of its data directory, or `postgres`. */
export interface OsUser {
  uid: number
  gid: number
}

export function postgresOsUser(dataDir?: string): OsUser | undefined {
  if (dataDir) {
    try {
      const info = statSync(dataDir)
      return { uid: info.uid, gid: info.gid }
    } catch {
      // not visible from here; fall back to the account
    }
  }
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'))
    if (!line) return undefined
    const [, , uid, gid] = line.split(':')
    return { uid: Number(uid), gid: Number(gid) }
  } catch {
    return undefined
  }
}

/** Spawn options that run a program as that user when we are root (initdb and postgres refuse root). */
export function asUser(user: OsUser | undefined): { uid?: number; gid?: number } {
  if (!user || process.getuid?.() !== 0 || user.uid === 0) return {}
  return { uid: user.uid, gid: user.gid }
}
