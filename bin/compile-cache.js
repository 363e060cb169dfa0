import { lstatSync, mkdirSync } from 'node:fs'
import path from 'node:path'

/** A directory only this user can change: not a symlink, owned by `uid`, not group/other-writable. */
function privateDirectory(dir, uid) {
  const stat = lstatSync(dir, { throwIfNoEntry: false })
  return stat !== undefined && stat.isDirectory() && stat.uid === uid && (stat.mode & 0o022) === 0
}

/**
 * Where Node may keep probe-ops' compiled code, or undefined. Cached code runs as whoever runs
 * probe-ops (root, mostly), so every level must be this user's own: for root the passwd entry's
 * home (sudo may keep a user's HOME, and XDG_CACHE_HOME with it), never a symlink, never writable
 * by others. Levels are made one at a time: a recursive mkdir under a path like /proc never returns.
 */
export function compileCacheDir({ uid, home, xdgCacheHome }) {
  try {
    const cacheHome = uid !== 0 && xdgCacheHome && path.isAbsolute(xdgCacheHome) ? xdgCacheHome : path.join(home, '.cache')
    if (!privateDirectory(path.dirname(cacheHome), uid)) return undefined
    const levels = [cacheHome, path.join(cacheHome, 'probe-ops'), path.join(cacheHome, 'probe-ops', 'compile-cache')]
    for (const level of levels) {
      try {
        mkdirSync(level, { mode: 0o700 })
      } catch (error) {
        if (error.code !== 'EEXIST') throw error
      }
      if (!privateDirectory(level, uid)) return undefined
    }
    return levels.at(-1)
  } catch {
    return undefined
  }
}
