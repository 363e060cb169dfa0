import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { SystemError } from './errors.js'
import { findExecutable, runProgram } from './programs.js'

/** Pending package updates, from apt (Debian, Ubuntu). */

export interface Upgradable {
  name: string
  /** The suites the new version comes from: bookworm-security, jammy-updates, ... */
  suites: string[]
  version: string
  from?: string
  security: boolean
}

/** `apt list --upgradable` output: `openssl/bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]`. */
export function parseAptUpgradable(text: string): Upgradable[] {
  const packages: Upgradable[] = []
  for (const line of text.split('\n')) {
    const match = /^([^\s/]+)\/(\S+)\s+(\S+)\s+\S+(?:\s+\[upgradable from: ([^\]]+)\])?/.exec(line.trim())
    if (!match) continue
    const suites = match[2]!.split(',')
    packages.push({ name: match[1]!, suites, version: match[3]!, ...(match[4] ? { from: match[4] } : {}), security: suites.some((s) => /-security$/.test(s)) })
  }
  return packages
}

export interface AptUpdates {
  packages: Upgradable[]
  /** Days since the package lists were last fetched (apt-get update). */
  listsAgeDays?: number
}

async function listsAgeDays(dir = '/var/lib/apt/lists'): Promise<number | undefined> {
  const names = await readdir(dir).catch(() => [] as string[])
  let newest = 0
  for (const name of names.filter((n) => n.endsWith('Release'))) {
    const info = await stat(join(dir, name)).catch(() => undefined)
    if (info && info.mtimeMs > newest) newest = info.mtimeMs
  }
  return newest > 0 ? Math.floor((Date.now() - newest) / 86_400_000) : undefined
}

/** Upgradable packages by apt's current lists; undefined when this system has no apt. */
export async function aptUpdates(timeoutMs: number, signal?: AbortSignal): Promise<AptUpdates | undefined> {
  const apt = await findExecutable('apt')
  if (!apt) return undefined
  const result = await runProgram(apt, ['list', '--upgradable'], { timeoutMs, signal })
  if (result.exitCode !== 0) {
    // The first line apt said, but its warning that its output may change (apt says it on every run).
    const said = result.stderr.split('\n').find((l) => l && !/WARNING: apt does not have a stable CLI/.test(l)) ?? ''
    throw new SystemError('packages', 'failed', `apt list --upgradable exited with ${result.exitCode}: ${said}`.trim(), {
      target: 'apt',
      data: { exitCode: result.exitCode },
    })
  }
  const age = await listsAgeDays()
  return { packages: parseAptUpgradable(result.stdout), ...(age !== undefined ? { listsAgeDays: age } : {}) }
}
