import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { stringify } from 'yaml'
import type { Report } from '../../src/report/model.js'
import { metricsFileName } from '../../src/report/metrics.js'
import { expectValidDocument, expectValidReport } from './report-schema.js'
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
  const result = await startCli(args, env, cwd).result
  expectValidOutput(args, result)
  return result
}

/** Commands whose --json prints another kind of document than a report (a configuration, the sandbox's state). */
const NOT_JOBS = new Set(['config', 'sandbox'])

/**
 * Under --json, stdout is one document of docs/report.schema.json on every exit the contract
 * names: the report of a job that ran (0, 1), or the error document when none could (2, 3).
 * Every run of the tests is held to it, so no test can forget to.
 */
function expectValidOutput(args: readonly string[], result: CliResult): void {
  const end = args.indexOf('--')
  if (!(end === -1 ? args : args.slice(0, end)).includes('--json') || ![0, 1, 2, 3].includes(result.exitCode)) return
  let document: { status?: unknown }
  try {
    document = JSON.parse(result.stdout) as { status?: unknown }
  } catch {
    throw new Error(
      `probe-ops ${args.join(' ')} exited ${result.exitCode} with --json, and stdout is not one JSON document:\n${result.stdout}\n${result.stderr}`,
    )
  }
  if (document.status === 'error' || !NOT_JOBS.has(args[0] ?? '')) expectValidDocument(document)
}

/** A run of the CLI under way, for a test that signals it at a chosen moment. */
export interface RunningCli {
  /** Sends a signal to probe-ops alone, as `kill -s SIGNAL PID` does. */
  kill(signal: NodeJS.Signals): void
  /**
   * Sends a signal to probe-ops' whole process group, as a terminal's Ctrl-C does to its foreground
   * job: only for a run started with `ownGroup` (a group of its own, like a shell's job).
   */
  killGroup(signal: NodeJS.Signals): void
  /** Resolves once the run has said `pattern` on stderr; rejects when it ends without. */
  said(pattern: RegExp): Promise<void>
  /** Resolves once the run holds at the pause point that creates `file` (PROBE_OPS_PAUSE); rejects when it ends first. */
  pausedAt(file: string): Promise<void>
  result: Promise<CliResult>
}

export function startCli(args: string[], env: Record<string, string> = {}, cwd?: string, options: { ownGroup?: boolean } = {}): RunningCli {
  if (!existsSync(join(ROOT, 'dist/commands'))) throw new Error('dist/ is missing: run `npm run build` before the tests')
  const clean: Record<string, string | undefined> = { ...process.env }
  for (const name of [
    'PGHOST',
    'PGPORT',
    'PGUSER',
    'PGPASSWORD',
    'PGDATABASE',
    'DATABASE_URL',
    'REDIS_URL',
    'DOCKER_HOST',
    'ALERTMANAGER_URL',
    'PROBE_OPS_CONFIG',
  ])
    delete clean[name]
  const started = performance.now()
  const child = execa(process.execPath, [BIN, ...args], {
    env: { ...clean, ...env },
    extendEnv: false,
    reject: false,
    cwd: cwd ?? tempDir('po-cwd'),
    timeout: 120_000,
    stdin: 'ignore',
    detached: options.ownGroup ?? false,
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  let ended = false
  const result = child.then((r) => {
    ended = true
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), durationMs: performance.now() - started }
  })
  const until = async (what: string, holds: () => boolean): Promise<void> => {
    while (!holds()) {
      if (ended) throw new Error(`the run ended (exit ${(await result).exitCode}) before ${what}:\n${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    kill: (signal) => child.kill(signal),
    killGroup: (signal) => {
      if (!options.ownGroup) throw new Error('killGroup: the run was not started in a group of its own (ownGroup)')
      process.kill(-child.pid!, signal)
    },
    said: (pattern) => until(`saying ${pattern}`, () => pattern.test(stderr)),
    pausedAt: (file) => until(`pausing at ${file}`, () => existsSync(file)),
    result,
  }
}

/** The report a run printed, held to docs/report.schema.json (each step's data too). */
export function parseReport(result: CliResult): Report {
  let report: Report
  try {
    report = JSON.parse(result.stdout) as Report
  } catch {
    throw new Error(`stdout is not a JSON report (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`)
  }
  expectValidReport(report)
  return report
}

/** A report written with --report-file (or kept as history), held to docs/report.schema.json. */
export function readReportFile(path: string): Report {
  const report = JSON.parse(readFileSync(path, 'utf8')) as Report
  expectValidReport(report)
  return report
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
export function runRecords(
  configDir: string,
  command: string,
): { log: { level: string; message: string; step?: string; status?: string; findings?: Record<string, number> }[]; metrics: string } {
  const logPath = join(configDir, 'maintenance.log')
  const metricsPath = join(configDir, 'metrics', metricsFileName(command))
  return {
    log: existsSync(logPath)
      ? readFileSync(logPath, 'utf8')
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line))
      : [],
    metrics: existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8') : '',
  }
}
