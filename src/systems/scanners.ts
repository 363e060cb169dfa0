import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SystemError } from './errors.js'
import { findExecutable, runProgram } from './programs.js'

/**
 * The scanners of the guide's vulnerability-scan.sh: lynis (system audit), trivy (image
 * vulnerabilities) and nmap (open ports, against loopback only). Run when installed, never
 * installed by probe-ops; their output parsed into plain records.
 */

export type Scanner = 'lynis' | 'trivy' | 'nmap'

export async function installedScanners(): Promise<Partial<Record<Scanner, string>>> {
  const found: Partial<Record<Scanner, string>> = {}
  for (const name of ['lynis', 'trivy', 'nmap'] as const) {
    const path = await findExecutable(name)
    if (path) found[name] = path
  }
  return found
}

export interface LynisReport {
  hardeningIndex?: number
  warnings: { test: string; text: string }[]
  suggestions: { test: string; text: string }[]
}

/** lynis-report.dat: `warning[]=AUTH-9286|text|details|solution|`, `hardening_index=65`. */
export function parseLynisReport(text: string): LynisReport {
  const report: LynisReport = { warnings: [], suggestions: [] }
  for (const line of text.split('\n')) {
    const index = /^hardening_index=(\d+)/.exec(line)
    if (index) report.hardeningIndex = Number(index[1])
    const item = /^(warning|suggestion)\[\]=([^|]*)\|([^|]*)/.exec(line)
    if (item) (item[1] === 'warning' ? report.warnings : report.suggestions).push({ test: item[2]!.trim(), text: item[3]!.trim() })
  }
  return report
}

export async function runLynis(lynis: string, timeoutMs: number, signal?: AbortSignal): Promise<LynisReport> {
  const dir = await mkdtemp(join(tmpdir(), 'probe-ops-lynis-'))
  try {
    const reportFile = join(dir, 'report.dat')
    const result = await runProgram(
      lynis,
      ['audit', 'system', '--quick', '--quiet', '--no-colors', '--report-file', reportFile, '--logfile', join(dir, 'lynis.log')],
      { timeoutMs, signal },
    )
    const text = await readFile(reportFile, 'utf8').catch(() => undefined)
    if (text === undefined)
      throw new SystemError('scanners', 'failed', `lynis wrote no report (exit ${result.exitCode}): ${result.stderr.split('\n')[0] ?? ''}`.trim(), {
        target: 'lynis',
        data: { exitCode: result.exitCode },
      })
    return parseLynisReport(text)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export interface ImageVulnerability {
  id: string
  packageName: string
  installed?: string
  fixed?: string
  severity: string
  title?: string
}

/** `trivy image --format json`: Results[].Vulnerabilities[]. */
export function parseTrivyJson(text: string): ImageVulnerability[] {
  const doc = JSON.parse(text) as { Results?: { Vulnerabilities?: Record<string, string>[] | null }[] | null }
  const found: ImageVulnerability[] = []
  for (const result of doc.Results ?? []) {
    for (const v of result.Vulnerabilities ?? []) {
      found.push({
        id: v.VulnerabilityID ?? '?',
        packageName: v.PkgName ?? '?',
        ...(v.InstalledVersion ? { installed: v.InstalledVersion } : {}),
        ...(v.FixedVersion ? { fixed: v.FixedVersion } : {}),
        severity: (v.Severity ?? 'UNKNOWN').toUpperCase(),
        ...(v.Title ? { title: v.Title } : {}),
      })
    }
  }
  return found
}

export async function runTrivy(trivy: string, image: string, timeoutMs: number, signal?: AbortSignal): Promise<ImageVulnerability[]> {
  const result = await runProgram(
    trivy,
    ['image', '--quiet', '--format', 'json', '--severity', 'HIGH,CRITICAL', '--timeout', `${Math.max(1, Math.floor(timeoutMs / 1000))}s`, image],
    { timeoutMs, signal },
  )
  if (result.exitCode !== 0)
    throw new SystemError('scanners', 'failed', `trivy could not scan ${image}: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`}`, {
      target: 'trivy',
      data: { exitCode: result.exitCode },
    })
  return parseTrivyJson(result.stdout)
}

export interface OpenPort {
  protocol: string
  port: number
  service?: string
}

/** nmap's XML (-oX -): the open ports of the scanned host. */
export function parseNmapXml(text: string): OpenPort[] {
  const ports: OpenPort[] = []
  for (const match of text.matchAll(/<port protocol="(\w+)" portid="(\d+)">([\s\S]*?)<\/port>/g)) {
    if (!/<state state="open"/.test(match[3]!)) continue
    const service = /<service name="([^"]+)"/.exec(match[3]!)?.[1]
    ports.push({ protocol: match[1]!, port: Number(match[2]), ...(service ? { service } : {}) })
  }
  return ports
}

/** A TCP connect scan of 127.0.0.1 only: never another host. */
export async function runNmapLoopback(nmap: string, timeoutMs: number, signal?: AbortSignal): Promise<OpenPort[]> {
  const result = await runProgram(nmap, ['-sT', '-Pn', '-n', '--open', '-oX', '-', '127.0.0.1'], { timeoutMs, signal })
  if (result.exitCode !== 0)
    throw new SystemError('scanners', 'failed', `nmap exited with ${result.exitCode}: ${result.stderr.split('\n')[0] ?? ''}`.trim(), {
      target: 'nmap',
      data: { exitCode: result.exitCode },
    })
  return parseNmapXml(result.stdout)
}
