/**
 * A job's spec run outside oclif: the job command runs it this way, and so do a job that
 * includes another's report (maintain weekly's performance report) and the tests.
 */

import type { Config } from '../config/load.js'
import type { Report } from '../report/model.js'
import { startJob, type Job, type RunOptions, type RunningJob } from '../report/runner.js'
import { hintOf } from './hints.js'
import { stepsOf, type JobSpec } from './spec.js'

/** A spec made ready to run: its context built, its steps known. */
export interface PreparedJob<Context> {
  job: Job<Context>
  context: Context
  /** Releases what the context holds; never throws. */
  readonly close: () => Promise<void>
}

export async function prepareJob<O, C>(spec: JobSpec<O, C>, config: Readonly<Config>, options: O, toolVersion: string): Promise<PreparedJob<C>> {
  const steps = stepsOf(spec, config, options)
  const context = await spec.context(config, options, toolVersion)
  return {
    job: {
      command: spec.command,
      steps: [...steps],
      concurrent: spec.order === 'concurrent',
      stopOnFailure: spec.stopOnFailure,
      together: spec.together,
    },
    context,
    close: async () => {
      await spec.close?.(context).catch(() => undefined)
    },
  }
}

/** The lock a run takes: none for a read-only job, nor for a dry run (which changes nothing). */
export function lockOf<O, C>(spec: JobSpec<O, C>, options: O, dryRun: boolean): string | undefined {
  if (dryRun) return undefined
  return typeof spec.lock === 'function' ? spec.lock(options) : spec.lock
}

/** The job's own bound when --timeout is not given, in ms. */
export function defaultTimeoutMs<O, C>(spec: JobSpec<O, C>, config: Readonly<Config>, options: O): number | undefined {
  const seconds = typeof spec.defaultTimeoutSeconds === 'function' ? spec.defaultTimeoutSeconds(config, options) : spec.defaultTimeoutSeconds
  return seconds === undefined ? undefined : seconds * 1000
}

export interface SpecRunOptions extends Omit<RunOptions, 'version' | 'host' | 'hintFor'> {
  toolVersion: string
  /** The report's host: config `host` unless given. */
  host?: string
}

/** Starts a prepared job with the hints of jobs/hints.ts. */
export function startPrepared<C>(prepared: PreparedJob<C>, options: RunOptions): RunningJob {
  return startJob(prepared.job, prepared.context, { ...options, hintFor: hintOf })
}

/**
 * Runs a spec to its report: context, steps, the spec's default timeout unless one is given,
 * and the context closed once the report is made (as the job command does: a step a timeout gave
 * up on is not waited for). No lock, no confirmation, no rendering: those are the
 * caller's (the job command's).
 */
export async function runSpec<O, C>(spec: JobSpec<O, C>, config: Readonly<Config>, options: O, run: SpecRunOptions): Promise<Report> {
  const prepared = await prepareJob(spec, config, options, run.toolVersion)
  try {
    const { toolVersion, host, ...rest } = run
    const timeoutMs = run.timeoutMs ?? defaultTimeoutMs(spec, config, options)
    const running = startPrepared(prepared, { ...rest, version: toolVersion, host: host ?? config.host, timeoutMs })
    return await running.report
  } finally {
    await prepared.close()
  }
}
