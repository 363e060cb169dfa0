#!/usr/bin/env node
import { mkdirSync, statSync } from 'node:fs'
import module from 'node:module'
import os from 'node:os'
import path from 'node:path'

/**
 * Start-up is most of a short run's time (cron jobs, diagnose), and Node 22.1+ can keep compiled
 * code between runs. The cache lives in the user's own cache directory, never a shared /tmp where
 * another user could plant entries for a command that runs as root. Directories are made one level
 * at a time: a recursive mkdir under a path like /proc never returns. Node 20 has no such cache.
 */
function compileCacheDir() {
  if (!module.enableCompileCache || typeof process.getuid !== 'function') return undefined
  const xdg = process.env.XDG_CACHE_HOME
  const cacheHome = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache')
  const dir = path.join(cacheHome, 'probe-ops')
  try {
    for (const level of [cacheHome, dir]) {
      try {
        mkdirSync(level, { mode: 0o700 })
      } catch (error) {
        if (error.code !== 'EEXIST') throw error
      }
    }
    const stat = statSync(dir)
    return stat.isDirectory() && stat.uid === process.getuid() ? path.join(dir, 'compile-cache') : undefined
  } catch {
    return undefined
  }
}

const cacheDir = compileCacheDir()
if (cacheDir) module.enableCompileCache(cacheDir)

const { execute } = await import('@oclif/core')
await execute({ dir: import.meta.url })
