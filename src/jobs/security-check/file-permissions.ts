import { lstat, open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../../config/load.js'
import { effectiveRepositories } from '../../config/repositories.js'
import { describeCounts, type Finding, type StepDefinition } from '../../report/outcome.js'
import type { SecurityContext } from './context.js'
import type { FilePermissionsData } from './data.js'

/**
 * World-writable files and directories where the platform keeps its configuration and code
 * (security.permissionPaths: the guide's /etc/network-probe and /opt/network-probe), and files
 * other users can read that they must not: configuration that may hold passwords
 * (security.privatePaths), the backup directory, probe-ops' own configuration and password files.
 */

/** Entries looked at under one directory, at most: a bound on a mistaken `/`. */
const MAX_ENTRIES = 50_000
const SECRET_NAME = /(password|passwd|secret|token|credential|\.env$|^\.env|pgpass|\.key$|id_(rsa|ecdsa|ed25519)$|\.(p12|pfx|jks)$)/i

interface Entry {
  path: string
  mode: number
  directory: boolean
  size: number
}

async function walk(root: string, signal: AbortSignal): Promise<{ entries: Entry[]; missing: boolean; truncated: boolean }> {
  const top = await stat(root).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)))
  if (!top) return { entries: [], missing: true, truncated: false }
  if (!top.isDirectory() && !top.isFile()) return { entries: [], missing: false, truncated: false }
  const entries: Entry[] = [{ path: root, mode: top.mode, directory: top.isDirectory(), size: top.size }]
  if (!top.isDirectory()) return { entries, missing: false, truncated: false }
  const queue = [root]
  let truncated = false
  while (queue.length > 0 && !signal.aborted) {
    const dir = queue.shift()!
    const names = await readdir(dir).catch(() => [] as string[])
    for (const name of names) {
      if (entries.length >= MAX_ENTRIES) {
        truncated = true
        break
      }
      const path = join(dir, name)
      // Symlinks are never followed: their own mode means nothing, their target is checked where it lives.
      const info = await lstat(path).catch(() => undefined)
      if (!info || info.isSymbolicLink()) continue
      if (!info.isDirectory() && !info.isFile()) continue
      entries.push({ path, mode: info.mode, directory: info.isDirectory(), size: info.size })
      if (info.isDirectory()) queue.push(path)
    }
  }
  return { entries, missing: false, truncated }
}

async function holdsPrivateKey(entry: Entry): Promise<boolean> {
  if (entry.directory || entry.size > 1024 * 1024) return false
  const handle = await open(entry.path, 'r').catch(() => undefined)
  if (!handle) return false
  try {
    const buffer = Buffer.alloc(Math.min(entry.size, 64 * 1024))
    await handle.read(buffer, 0, buffer.length, 0)
    return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(buffer.toString('latin1'))
  } finally {
    await handle.close()
  }
}

const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`

/**
 * Files of secrets the configuration names: password files (postgres, redis, the HTTP APIs and
 * services' health URLs), the age identity that decrypts every backup, S3 credentials.
 */
function secretFiles(config: Readonly<Config>): string[] {
  const files: (string | undefined)[] = [config.postgres.passwordFile, config.redis.passwordFile]
  for (const api of [config.alertmanager, config.prometheus, config.loki, ...config.services]) files.push(api.credentials?.passwordFile)
  files.push(config.backup.encryption?.identityFile)
  for (const repository of effectiveRepositories(config.backup)) if (repository.type === 's3') files.push(repository.credentialsFile)
  return [...new Set(files.filter((f): f is string => typeof f === 'string' && f !== ''))]
}

/** Where backups are kept on this host: backup.dir and every local repository. */
function backupPlaces(config: Readonly<Config>): string[] {
  const places = [config.backup.dir, ...effectiveRepositories(config.backup).flatMap((r) => (r.type === 'local' ? [r.path] : []))]
  return [...new Set(places.filter((p): p is string => typeof p === 'string'))]
}

type Kind = 'config' | 'secret' | 'backup' | 'probe-ops config' | 'password file'

export const filePermissions: StepDefinition<SecurityContext, FilePermissionsData> = {
  // A walk of large directories takes its time, whatever the checks' own bound.
  timeoutMs: ({ config }) => Math.max(config.security.checkTimeoutMs, 30_000),
  async run({ config }, run) {
    const findings: Finding[] = []
    const missing: string[] = []
    const truncated: string[] = []
    let checked = 0

    const worldWritable = (e: Entry, where: string) => {
      if ((e.mode & 0o002) === 0) return
      // A sticky world-writable directory (like /tmp) lets no one remove others' files.
      if (e.directory && (e.mode & 0o1000) !== 0) return
      findings.push({
        id: `world-writable:${e.path}`,
        severity: 'high',
        message: `${e.path} is ${e.directory ? 'a world-writable directory' : 'world-writable'} (mode ${octal(e.mode)}) in ${where}`,
        fix: `chmod o-w ${e.path}`,
      })
    }

    for (const root of config.security.permissionPaths) {
      const found = await walk(root, run.signal)
      if (found.missing) missing.push(root)
      if (found.truncated) truncated.push(root)
      checked += found.entries.length
      for (const e of found.entries) worldWritable(e, root)
    }

    const privateRoots: { path: string; kind: Kind }[] = [
      ...config.security.privatePaths.map((path) => ({ path, kind: 'config' as const })),
      ...backupPlaces(config).map((path) => ({ path, kind: 'backup' as const })),
      ...(config.source ? [{ path: config.source, kind: 'probe-ops config' as const }] : []),
      ...secretFiles(config).map((path) => ({ path, kind: 'password file' as const })),
    ]
    const seen = new Set<string>()
    for (const root of privateRoots) {
      const found = await walk(root.path, run.signal)
      if (found.missing) {
        missing.push(root.path)
        continue
      }
      if (found.truncated) truncated.push(root.path)
      checked += found.entries.length
      for (const e of found.entries) {
        if (seen.has(e.path)) continue
        seen.add(e.path)
        if (!config.security.permissionPaths.some((p) => e.path === p || e.path.startsWith(`${p}/`))) worldWritable(e, root.path)
        if (e.directory) {
          if (root.kind === 'backup' && e.path === root.path && (e.mode & 0o005) !== 0) {
            findings.push({
              id: `readable-by-others:${e.path}`,
              severity: 'medium',
              message: `the backup directory ${e.path} can be listed or entered by other users (mode ${octal(e.mode)})`,
              fix: `chmod 700 ${e.path}`,
            })
          }
          continue
        }
        if ((e.mode & 0o004) === 0) continue
        const kind: Kind = root.kind === 'config' && (SECRET_NAME.test(e.path.split('/').at(-1)!) || (await holdsPrivateKey(e))) ? 'secret' : root.kind
        const high = kind === 'secret' || kind === 'backup' || kind === 'password file'
        const what =
          kind === 'config'
            ? 'configuration file'
            : kind === 'secret'
              ? 'secret (password, key or token)'
              : kind === 'backup'
                ? 'backup'
                : kind === 'password file'
                  ? 'a secret the configuration names'
                  : kind
        findings.push({
          id: `readable-by-others:${e.path}`,
          severity: high ? 'high' : 'medium',
          message: `${e.path} (${what}) is readable by other users (mode ${octal(e.mode)})`,
          fix: `chmod o-rwx ${e.path}${kind === 'backup' ? ' (a database dump holds every secret of the platform)' : ''}`,
        })
      }
    }
    const details = [`${checked} files and directories looked at`]
    if (missing.length) details.push(`not present: ${[...new Set(missing)].join(', ')}`)
    if (truncated.length) details.push(`stopped after ${MAX_ENTRIES} entries in: ${truncated.join(', ')}`)
    return {
      summary: `${checked} checked; ${describeCounts(findings)}`,
      findings,
      details,
      data: { permissionPaths: [...config.security.permissionPaths], privatePaths: privateRoots, checked, missing: [...new Set(missing)], truncated },
    }
  },
}
