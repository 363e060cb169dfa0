import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Config } from '../../src/config/load.js'
import { runSpec } from '../../src/jobs/run.js'
import type { JobSpec } from '../../src/jobs/spec.js'
import { deepFreeze } from '../../src/lib/freeze.js'
import type { Report } from '../../src/report/model.js'
import { expectValidReport } from './report-schema.js'

const VERSION = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version

export interface InProcessRun {
  only?: string[]
  skip?: string[]
  dryRun?: boolean
  timeoutMs?: number
}

/**
 * Runs a job's spec in the test's own process, without the built CLI, against whatever the
 * configuration points at (the bed's services): job logic is tested as the CLI runs it, with the
 * configuration frozen as the CLI freezes it, and the report held to docs/report.schema.json.
 * No lock, no confirmation, no rendering: those are the CLI's, tested through runCli.
 */
export async function runJobInProcess<O, C>(spec: JobSpec<O, C>, config: Config, options: O, run: InProcessRun = {}): Promise<Report> {
  const report = await runSpec(spec, deepFreeze(config), options, { toolVersion: VERSION, ...run })
  // As --json prints it: what JSON does not carry (undefined, class instances) is not in the contract either.
  const printed = JSON.parse(JSON.stringify(report)) as Report
  expectValidReport(printed)
  return printed
}
