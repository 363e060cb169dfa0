import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { stringify } from 'yaml'
import type { Report } from '../../src/report/model.js'
import { metricsFileName } from '../../src/report/metrics.js'
import { tempDir } from './temp.js'

const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin/run.js')

export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
  durationMs: number
}

/**
 * Runs the built CLI as a user would. The environment is cleaned of the connection variables
 * so that only what a test passes reaches probe-ops.
 */
export async function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  if (!existsSync(join(ROOT, 'dist/commands'))) throw new Error('dist/ is missing: run `npm run build` before the tests')
  const clean: Record<string, string | undefined> = { ...process.env }
  for (const name of ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'DATABASE_URL', 'REDIS_URL', 'DOCKER_HOST', 'ALERTMANAGER_URL', 'PROBE_OPS_CONFIG']) delete clean[name]
  const started = performance.now()
  const result = await execa(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, extendEnv: false, reject: false, cwd: cwd ?? tempDir('po-cwd'), timeout: 120_000, stdin: 'ignore' })
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, durationMs: performance.now() - started }
}

export function parseReport(result: CliResult): Report {
  try {
    return JSON.parse(result.stdout) as Report
  } catch {
    throw new Error(`stdout is not a JSON report (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`)
  }
}

/** Writes a configuration file (with a private log, lock and metrics dir) and returns its path. */
export function writeConfig(settings: Record<string, unknown>): { path: string; dir: string } {
  const dir = tempDir('po-cfg')
  const full = {
    log: { file: join(dir, 'maintenance.log') },
    lock: { dir: join(dir, 'lock') },
    metrics: { textfileDir: join(dir, 'metrics') },
    ...settings,
  }
  const path = join(dir, 'probe-ops.yaml')
  writeFileSync(path, stringify(full))
  return { path, dir }
}

/** What runs left in the maintenance log and the metrics file of a writeConfig() configuration. */
export function runRecords(configDir: string, command: string): { log: { level: string; message: string; step?: string; status?: string }[]; metrics: string } {
  const logPath = join(configDir, 'maintenance.log')
  const metricsPath = join(configDir, 'metrics', metricsFileName(command))
  return {
    log: existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line)) : [],
    metrics: existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8') : '',
  }
}
