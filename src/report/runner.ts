import { Interruption, StepFailure, TimeoutError, describeError } from '../errors.js'
import { redactStrings } from '../lib/redact.js'
import { SCHEMA_VERSION, describeInterrupted, overallStatus, type AlertRecord, type Interrupted, type Report, type StepResult } from './model.js'
import type { StepDefinition } from './outcome.js'
import { selectSteps as selectStepIds } from './selection.js'
import { failedResult } from './step-result.js'
import { noop, runStep, thrownHint, type HintFor } from './step-run.js'

export type { CriticalOptions, StepRun } from './outcome.js'

/**
 * A step as the runner sees it: the id and title its job lists it under (all that choosing steps
 * with --only/--skip and showing progress need), and its implementation, imported only when it
 * runs, so that a run of one step loads no other step's code (nor the systems it talks to).
 */
export interface JobStep<Context> {
  id: string
  title: string
  load(): Promise<StepDefinition<Context, unknown>>
}

export interface Job<Context> {
  command: string
  steps: JobStep<Context>[]
  /** Run every step at once (diagnose) or one after another (maintenance). */
  concurrent: boolean
  /** Steps build on each other (a restore): after a failure the rest are skipped, not run. */
  stopOnFailure?: boolean
  /**
   * In a one-after-another job, runs of consecutive steps that do not depend on each other and
   * run at the same time; when one of them fails, the others are stopped.
   */
  together?: readonly (readonly string[])[]
}

export interface RunOptions {
  version: string
  host: string
  dryRun?: boolean
  only?: readonly string[]
  skip?: readonly string[]
  /** The whole job's bound; steps still running then fail as timed out. */
  timeoutMs?: number
  /**
   * Aborted with an Interruption to stop the job (a signal), or with the TimeoutError of the step
   * a job runs inside: no step starts after it, and the running ones are cut as a timeout cuts them.
   */
  interrupt?: AbortSignal
  /** What to do about what a step threw (jobs/hints.ts hintOf); without it, the hint thrown with it. */
  hintFor?: HintFor
  onStepStart?(step: { id: string; title: string }): void
  onStepEnd?(result: StepResult): void
  /** A cut step waits for a phase that must not be cut (to say so on the terminal). */
  onCriticalWait?: (wait: { step: string; phase: string; cause: string; boundMs: number }) => void
}

/** A job under way. */
export interface RunningJob {
  /** The report, once every step has ended or been given up on (a critical phase is never given up on before its bound). */
  report: Promise<Report>
  /** Resolves once every step that started has really ended, also one the report gave up on. */
  ended: Promise<void>
  /** The report as it stands, for a forced exit: steps still running failed, the rest not run. */
  reportNow(said: { running: string; notRun: string; hint?: string }): Report
}

/** Checks --only/--skip against the job's step ids and says which steps run. */
export function selectSteps<C>(job: Job<C>, only: readonly string[] = [], skip: readonly string[] = []): Set<string> {
  return selectStepIds(
    job.steps.map((s) => s.id),
    only,
    skip,
    job.command,
  )
}

export async function runJob<C>(job: Job<C>, context: C, options: RunOptions): Promise<Report> {
  return startJob(job, context, options).report
}

export function startJob<C>(job: Job<C>, context: C, options: RunOptions): RunningJob {
  const selected = selectSteps(job, options.only, options.skip)
  const hintFor = options.hintFor ?? thrownHint
  const started = Date.now()
  const deadline = options.timeoutMs === undefined ? Infinity : started + options.timeoutMs
  const alerts: AlertRecord[] = []
  const results = new Map<string, StepResult>()
  const workings = new Map<string, StepDefinition<C, unknown>>()
  const runningSince = new Map<string, number>()
  const stepRuns: Promise<unknown>[] = []
  let interrupted: Interrupted | undefined
  const interruptedNow = (by: Interrupted['by']): void => {
    interrupted ??= { by, at: new Date().toISOString() }
  }
  const onInterrupt = (): void => interruptedNow(interruptionOf(options.interrupt!.reason))
  options.interrupt?.addEventListener('abort', onInterrupt, { once: true })
  if (options.interrupt?.aborted) onInterrupt()

  let failedEarlier: string | undefined
  // Set when a step was not run because the job was interrupted: what finished before is undone.
  let notRunInterrupted = false
  // Set once the job's bound has cut a step: no later step starts then. The job's timer and
  // Date.now() disagree by a millisecond now and then, so `deadline - Date.now()` alone can
  // still leave a later step 1 ms to run in.
  let outOfTime = false
  const end = (step: JobStep<C>, result: StepResult): void => {
    // Redacted here, once, so that no rendering of the report (text, --json, the report file, the
    // maintenance log, metrics, progress) shows a password that a URL in a message or in data holds.
    const redacted = redactStrings(result)
    results.set(step.id, redacted)
    if (redacted.status === 'failed') failedEarlier ??= step.id
    options.onStepEnd?.(redacted)
  }
  const execute = async (step: JobStep<C>, stop?: AbortSignal): Promise<void> => {
    const base = { id: step.id, title: step.title }
    const skip = (summary: string) => end(step, { ...base, status: 'skipped', durationMs: 0, summary })
    if (failedEarlier !== undefined && job.stopOnFailure) return skip(`not run: ${failedEarlier} failed`)
    if (!selected.has(step.id)) return skip(options.only?.length ? 'not chosen by --only' : 'chosen by --skip')
    if (options.interrupt?.aborted) {
      notRunInterrupted = true
      return skip(`not run: ${describeError(options.interrupt.reason)}`)
    }
    options.onStepStart?.(base)
    runningSince.set(step.id, Date.now())
    let work: StepDefinition<C, unknown>
    try {
      work = await step.load()
    } catch (error) {
      runningSince.delete(step.id)
      return end(step, failedResult(base, error, 0, hintFor(error)))
    }
    workings.set(step.id, work)
    const ownBound = typeof work.timeoutMs === 'function' ? work.timeoutMs(context) : work.timeoutMs
    const jobBound = options.timeoutMs !== undefined && (ownBound ?? Infinity) >= deadline - Date.now()
    const result = await runStep(base, work, context, {
      dryRun: options.dryRun ?? false,
      boundMs: outOfTime ? 0 : Math.min(ownBound ?? Infinity, deadline - Date.now()),
      jobTimeoutMs: jobBound ? options.timeoutMs : undefined,
      onBoundReached: () => {
        if (!jobBound) return
        outOfTime = true
        interruptedNow('timeout')
      },
      alerts,
      stop,
      interrupt: options.interrupt,
      onCriticalWait: options.onCriticalWait,
      hintFor,
      track: (run) => stepRuns.push(run.then(noop, noop)),
    })
    runningSince.delete(step.id)
    end(step, result)
  }

  const build = (steps: StepResult[]): Report => {
    const finished = Date.now()
    return {
      schemaVersion: SCHEMA_VERSION,
      command: job.command,
      version: options.version,
      host: options.host,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      status: interrupted ? 'failed' : overallStatus(steps),
      dryRun: options.dryRun ?? false,
      steps,
      alerts: redactStrings(alerts),
      ...(interrupted ? { interrupted } : {}),
    }
  }

  const run = async (): Promise<Report> => {
    if (job.concurrent) await Promise.all(job.steps.map((step) => execute(step)))
    else await runInOrder(job, execute, (id) => results.get(id)?.status === 'failed')
    options.interrupt?.removeEventListener('abort', onInterrupt)
    if (job.stopOnFailure) {
      const undo = (because: string) => undoFinished(job, context, results, workings, because)
      if (failedEarlier !== undefined) await undo(`${failedEarlier} failed`)
      else if (notRunInterrupted && interrupted) await undo(`the run was ${describeInterrupted(interrupted)}`)
    }
    return build(job.steps.map((s) => results.get(s.id)!))
  }

  const report = run()
  return {
    report,
    ended: report
      .then(noop, noop)
      .then(() => Promise.all(stepRuns))
      .then(noop),
    reportNow: (said) => build(job.steps.map((step) => results.get(step.id) ?? unfinished(step, runningSince.get(step.id), said))),
  }
}

/** One step after another; a `together` group's members at once, stopped when one of them fails. */
async function runInOrder<C>(job: Job<C>, execute: (step: JobStep<C>, stop?: AbortSignal) => Promise<void>, hasFailed: (id: string) => boolean): Promise<void> {
  for (let i = 0; i < job.steps.length;) {
    const group = job.together?.find((ids) => ids[0] === job.steps[i]!.id)
    if (!group) {
      await execute(job.steps[i++]!)
      continue
    }
    const members = job.steps.slice(i, i + group.length)
    if (members.map((s) => s.id).join() !== group.join()) throw new Error(`steps ${group.join(', ')} of ${job.command} are not consecutive`)
    const stop = new AbortController()
    await Promise.all(
      members.map(async (step) => {
        await execute(step, stop.signal)
        if (hasFailed(step.id)) stop.abort(new StepFailure(`stopped: ${step.id} failed`))
      }),
    )
    i += group.length
  }
}

/** A step the report gives up on at a forced exit: failed if it was running, not run otherwise. */
function unfinished<C>(step: JobStep<C>, since: number | undefined, said: { running: string; notRun: string; hint?: string }): StepResult {
  const base = { id: step.id, title: step.title }
  if (since === undefined) return { ...base, status: 'skipped', durationMs: 0, summary: said.notRun }
  const error = { message: said.running, ...(said.hint ? { hint: said.hint } : {}) }
  return { ...base, status: 'failed', durationMs: Date.now() - since, summary: said.running, error }
}

function interruptionOf(reason: unknown): Interrupted['by'] {
  if (reason instanceof Interruption) return reason.signal
  // A job run inside a step (maintain weekly's performance report) is cut with the step's bound.
  return reason instanceof TimeoutError ? 'timeout' : 'SIGTERM'
}

/** Latest first, the finished steps' undo; the step's result says what was taken back. */
async function undoFinished<C>(
  job: Job<C>,
  context: C,
  results: Map<string, StepResult>,
  workings: Map<string, StepDefinition<C, unknown>>,
  because: string,
): Promise<void> {
  for (const step of [...job.steps].reverse()) {
    const result = results.get(step.id)
    const work = workings.get(step.id)
    if (!work?.undo || !result || (result.status !== 'ok' && result.status !== 'warning')) continue
    let done: string | undefined
    try {
      done = await work.undo(context)
    } catch (error) {
      done = `could not be undone: ${describeError(error)}`
    }
    if (!done) continue
    result.summary = `${result.summary}; undone as ${because}: ${done}`
    result.undone = done
  }
}
