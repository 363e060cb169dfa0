#!/usr/bin/env node
import module from 'node:module'
import os from 'node:os'
import { compileCacheDir } from './compile-cache.js'

// Start-up is most of a short run's time (cron jobs, diagnose): Node 22.8+ can keep compiled code
// between runs. Node 20 has no such cache.
if (module.enableCompileCache && typeof process.geteuid === 'function') {
  const cacheDir = compileCacheDir({ uid: process.geteuid(), home: os.userInfo().homedir, xdgCacheHome: process.env.XDG_CACHE_HOME })
  if (cacheDir) module.enableCompileCache(cacheDir)
}

const { execute } = await import('@oclif/core')
await execute({ dir: import.meta.url })
