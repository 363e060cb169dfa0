#!/usr/bin/env node
import module from 'node:module'
import os from 'node:os'
import v8 from 'node:v8'
import { compileCacheDir } from './compile-cache.js'
import { MINIMUM_NODE, nodeTooOld } from './node-version.js'

// `wal push|fetch` are PostgreSQL's archive_command and restore_command, run once per WAL segment:
// they skip oclif (design-14 §4.6). Their failures must be exit codes PostgreSQL reads right:
// 1 for a push (counted, retried), 128 for a fetch (recovery stops, never ends early on a hole).
const args = process.argv.slice(2)
const walCommand = args[0] === 'wal' && (args[1] === 'push' || args[1] === 'fetch') && !args.some((a) => a === '--help' || a === '-h') ? args[1] : undefined
const failureExit = walCommand === 'fetch' ? 128 : walCommand === 'push' ? 1 : 2

if (nodeTooOld(process.versions.node)) {
  process.stderr.write(
    `probe-ops: Node.js ${process.version} is too old: probe-ops needs Node.js ${MINIMUM_NODE} or newer\n  install Node 22 (or 24), or run: npm install -g node@22\n`,
  )
  process.exit(failureExit)
}

// Start-up is most of a short run's time (cron jobs, diagnose): Node 22.8+ can keep compiled code
// between runs.
if (module.enableCompileCache && typeof process.geteuid === 'function') {
  const cacheDir = compileCacheDir({ uid: process.geteuid(), home: os.userInfo().homedir, xdgCacheHome: process.env.XDG_CACHE_HOME })
  if (cacheDir) module.enableCompileCache(cacheDir)
}

// undici parses HTTP with llhttp, compiled to WebAssembly. At V8's default tiering budget its 33 KB
// parser function is recompiled by the optimizing compiler after the second request: about 0.15 s
// of CPU on another thread and 17 MB more memory at the peak, for a run that makes a handful of
// requests (issue 13 §7). At 1e9 (77 times the default) that waits for 50 to 200 requests. Set
// before any WebAssembly is compiled, so that every module gets it.
v8.setFlagsFromString('--wasm-tiering-budget=1000000000')

if (walCommand) {
  try {
    const { walMain } = await import('../dist/wal/main.js')
    // Exit at once: an S3 client keeps its connections open for a next request that never comes.
    process.exit(await walMain(args.slice(1)))
  } catch (error) {
    process.stderr.write(`probe-ops: wal ${walCommand}: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = failureExit
  }
} else {
  await runOclif()
}

// oclif compares the Node version with its own engines through semver (47 files loaded on every
// run); the check above is the one that matters. Switched off only while oclif loads, so that no
// child process inherits the setting.
async function runOclif() {
  const engineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING
  process.env.OCLIF_DISABLE_ENGINE_WARNING = 'true'
  const { execute } = await import('@oclif/core')
  if (engineWarning === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
  else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineWarning
  // Also for what oclif prints itself (help, --version): a full disk on stdout is one line, not a stack.
  const { guardStandardOutput } = await import('../dist/cli/output.js')
  guardStandardOutput()
  await execute({ dir: import.meta.url })
}
