import { readFileSync, statSync } from 'node:fs'
import { lchown, lstat, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** An OS user a program runs as; `name` and `home` when it came from the account database. */
export interface OsUser {
  uid: number
  gid: number
  name?: string
  home?: string
}

/** An account of /etc/passwd. */
export interface OsAccount extends OsUser {
  name: string
  home: string
}

/** The account `name` in passwd-format text, or undefined. */
export function findAccount(passwd: string, name: string): OsAccount | undefined {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':')
    if (fields[0] !== name || fields.length < 7) continue
    const uid = Number(fields[2])
    const gid = Number(fields[3])
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || fields[2] === '' || fields[3] === '') return undefined
    return { name, uid, gid, home: fields[5] || '/' }
  }
  return undefined
}

/**
 * The account `name` from /etc/passwd, or undefined. Read directly rather than through NSS
 * (getent): the accounts probe-ops runs services as (postgres) are local ones.
 */
export function lookupUser(name: string, passwdFile = '/etc/passwd'): OsAccount | undefined {
  try {
    return findAccount(readFileSync(passwdFile, 'utf8'), name)
  } catch {
    return undefined
  }
}

/** The OS user PostgreSQL's files belong to: the owner of its data directory, or the `postgres` account. */
export function postgresOsUser(dataDir?: string): OsUser | undefined {
  if (dataDir) {
    try {
      const info = statSync(dataDir)
      return { uid: info.uid, gid: info.gid }
    } catch {
      // not visible from here; fall back to the account
    }
  }
  return lookupUser('postgres')
}

/** Spawn options that run a program as that user when we are root (initdb and postgres refuse root). */
export function asUser(user: OsUser | undefined): { uid?: number; gid?: number } {
  if (!user || process.getuid?.() !== 0 || user.uid === 0) return {}
  return { uid: user.uid, gid: user.gid }
}

/**
 * The first existing directory on the way to `dir` (or dir itself) that `user` may not enter, or
 * undefined when it can reach it: a service run as another user needs search permission on every
 * ancestor. Supplementary groups are not looked at, so this may name a directory a group would open.
 */
export function firstUntraversable(dir: string, user: OsUser): string | undefined {
  const chain: string[] = []
  for (let path = dir; ; path = dirname(path)) {
    chain.unshift(path)
    if (dirname(path) === path) break
  }
  for (const path of chain) {
    let info
    try {
      info = statSync(path)
    } catch {
      return undefined
    }
    if (user.uid === 0) continue
    const searchBit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001
    if ((info.mode & searchBit) === 0) return path
  }
  return undefined
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
