/**
 * A job is data: its id, its steps (id, title, one line for --help), its lock, history and
 * default timeout. The command's help and the check of --only/--skip come from it, and so does
 * the key of each step's data schema. A step's code is imported only when the step runs.
 */

import type { z } from 'zod'
import type { Config } from '../config/load.js'
import type { JobMetrics } from '../report/job-metrics.js'
import type { StepDefinition } from '../report/outcome.js'
import { selectSteps } from '../report/selection.js'

export { selectSteps } from '../report/selection.js'

export interface StepSpec<Context> {
  /** Stable kebab-case: the value of --only/--skip and the key of the step's data schema. */
  readonly id: string
  /** The progress line and the report's title. */
  readonly title: string
  /** One line for --help. */
  readonly summary: string
  /** The implementation, imported only when the step runs: a run of one step loads no other step's code. */
  load(): Promise<StepDefinition<Context, unknown>>
}

/** Steps known only once the configuration is (one per service, one per endpoint). */
export interface DynamicSteps<Options, Context> {
  /** For --help: "one step per service, named after it: postgres, redis, ..." */
  readonly describe: string
  list(config: Readonly<Config>, options: Options): readonly StepSpec<Context>[]
}

export interface JobSpec<Options, Context> {
  /** kebab-case, unique: 'maintain-daily', 'restore-full'. Keys the data schemas. */
  readonly id: string
  /** What the report, log and metrics call it: 'maintain daily', 'restore full'. */
  readonly command: string
  readonly steps: readonly StepSpec<Context>[] | DynamicSteps<Options, Context>
  /** Every step at once (diagnose), or one after another (maintenance). */
  readonly order: 'sequential' | 'concurrent'
  /** Steps build on each other (a restore): after a failure the rest are skipped, not run. */
  readonly stopOnFailure?: boolean
  /**
   * In a sequential job, runs of consecutive steps that do not depend on each other and run at
   * the same time; when one of them fails, the others are stopped.
   */
  readonly together?: readonly (readonly string[])[]
  /** The lock of runs that change something; none for read-only jobs (or runs). */
  readonly lock?: string | ((options: Options) => string | undefined)
  /** Also keep the report as reports.dir/<history>-YYYY-MM-DD.json, one file per day. */
  readonly history?: string
  /** --timeout's default, in seconds. */
  readonly defaultTimeoutSeconds?: number | ((config: Readonly<Config>, options: Options) => number)
  /**
   * Gauges of its own, derived from its steps' data (certificate expiry, backup size), written
   * with the run's metrics; loaded only when a metrics file is.
   */
  readonly metrics?: () => Promise<JobMetrics>
  /** What repairs a run cut by a second signal, or a critical phase that outlived its bound. */
  readonly interruptedHint?: string
  /** Destructive jobs: what to confirm. The CLI asks on a terminal, or wants --yes. */
  confirm?(context: Context, options: Options): { what: string; word: string } | undefined
  /** Builds the run's context; throws UsageError for options that do not fit the configuration. */
  context(config: Readonly<Config>, options: Options, toolVersion: string): Context | Promise<Context>
  /** Releases what the context holds (clients, files) after the run. */
  close?(context: Context): Promise<void>
}

/** Any job's spec, whatever its options and context: what code that handles every job takes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- options and context are checked where a job is defined; here they only pass through
export type AnyJobSpec = JobSpec<any, any>

/** Keeps the literal ids in the spec's type (a const type parameter), for StepIds and DataSchemas. */
export function defineJob<const S extends AnyJobSpec>(spec: S): S {
  return spec
}

/** The step ids of a spec with a static step list, as a union of literals; string for dynamic steps. */
export type StepIds<S> = S extends { steps: readonly (infer T)[] } ? (T extends { id: infer I } ? I : never) : string

/**
 * A job folder's data.ts exports `dataSchemas`: one zod schema per step of each of its specs, keyed
 * by the spec's id, then by step id (a spec whose steps come from the configuration has the one
 * key '*'). data.ts imports nothing of its job (spec.ts imports the steps, which import data.ts's
 * types: a cycle otherwise), so it writes `satisfies JobDataSchemas`; the build and
 * test/unit/report-data.test.ts check its keys against the specs.
 */
export type JobDataSchemas = Record<string, Record<string, z.ZodTypeAny>>

/** The exact shape of a spec's data schemas, for a check outside data.ts (a test). */
export type DataSchemas<S extends { id: string }> = Record<S['id'], Record<StepIds<S>, z.ZodTypeAny>>

/** Whether a spec lists its steps itself, rather than from the configuration. */
export function hasStaticSteps<O, C>(spec: JobSpec<O, C>): spec is JobSpec<O, C> & { steps: readonly StepSpec<C>[] } {
  return Array.isArray(spec.steps)
}

/** The steps of a run: the spec's own, or those the configuration and options make. */
export function stepsOf<O, C>(spec: JobSpec<O, C>, config: Readonly<Config>, options: O): readonly StepSpec<C>[] {
  return hasStaticSteps(spec) ? spec.steps : (spec.steps as DynamicSteps<O, C>).list(config, options)
}

/** The step list of --help, ids padded: "  clean-logs   delete old log files ...". */
export function stepHelp<O, C>(spec: JobSpec<O, C>): string {
  if (!hasStaticSteps(spec)) return `  ${(spec.steps as DynamicSteps<O, C>).describe}`
  const width = Math.max(...spec.steps.map((s) => s.id.length))
  return spec.steps.map((s) => `  ${s.id.padEnd(width)}  ${s.summary}`).join('\n')
}

/**
 * --only/--skip checked against a spec with static steps, before anything else happens (the
 * configuration is not even loaded); a dynamic spec's ids are checked once its steps are known.
 */
export function checkStepChoice<O, C>(spec: JobSpec<O, C>, only: readonly string[], skip: readonly string[]): void {
  if (hasStaticSteps(spec))
    selectSteps(
      spec.steps.map((s) => s.id),
      only,
      skip,
      spec.command,
    )
}
