import { readFileSync, statSync } from 'node:fs'
import { lchown, lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

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

/**
 * Gives a directory probe-ops made, and all below it, to `user`, as root, without ever following
 * a link (a data directory's pg_tblspc entries are links, and an archive unpacked into it may hold
 * others, pointing anywhere): a link itself changes owner (lchown), never what it points to, and
 * is never descended through. The directory itself goes last: until then it is root's (mode 0700
 * as probe-ops makes it), and nobody else can put anything below it while root walks there.
 */
export async function giveTree(path: string, user: OsUser): Promise<void> {
  if (!(await lstat(path)).isDirectory()) throw new Error(`${path} is no longer the directory probe-ops made`)
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const child = join(directory, entry.name)
      if (entry.isDirectory()) await walk(child)
      await lchown(child, user.uid, user.gid)
    }
  }
  await walk(path)
  await lchown(path, user.uid, user.gid)
}
