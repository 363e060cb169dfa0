import { HintedError, StepFailure, TimeoutError, UsageError, describeError, formatSeconds } from '../errors.js'
import { redactStrings } from '../lib/redact.js'
import { sleep } from '../lib/time.js'
import { SCHEMA_VERSION, overallStatus, type AlertRecord, type Report, type StepResult, type StepStatus } from './model.js'

/** What a step returns when it did not throw. A thrown error makes the step failed. */
export interface StepOutcome {
  status?: Exclude<StepStatus, 'failed'> | 'failed'
  summary: string
  data?: Record<string, unknown>
  /** For a warning or failed outcome: what is wrong and what to do next. */
  error?: { message: string; hint?: string }
}

/** What the runner hands every step besides the job's own context. */
export interface StepRun {
  signal: AbortSignal
  dryRun: boolean
  recordAlert(alert: AlertRecord): void
}

export interface Step<Context> {
  id: string
  title: string
  /** This step's own bound; the job's --timeout caps it. */
  timeoutMs?: number
  /**
   * How long, once timed out, the step may take to clean up (drop what it half made) before the
   * job goes on and the process may exit. Steps that only read need none.
   */
  cleanupMs?: number
  run(context: Context, run: StepRun): Promise<StepOutcome>
  /**
   * Takes back what a finished step made when a later step (or one running alongside) fails in
   * a job whose steps build on each other; says what it did, or nothing when there was nothing.
   */
  undo?(context: Context): Promise<string | undefined>
}

/** What a step does, apart from the id and title its job lists it under. */
export type StepWork<Context> = Pick<Step<Context>, 'run' | 'timeoutMs'>

/**
 * A step whose module is imported only when it runs. The job lists ids and titles, which is all
 * that choosing steps (--only/--skip) and showing progress need, so a run of one step loads no
 * other step's code (nor the systems it talks to).
 */
export function loadedWhenRun<Context>(id: string, title: string, load: () => Promise<StepWork<Context>>, timeoutMs?: number): Step<Context> {
  return { id, title, timeoutMs, run: async (context, run) => (await load()).run(context, run) }
}

export interface Job<Context> {
  command: string
  steps: Step<Context>[]
  /** Run every step at once (diagnose) or one after another (maintenance). */
  concurrent: boolean
  /** Steps build on each other (a restore): after a failure the rest are skipped, not run. */
  stopOnFailure?: boolean
  /**
   * In a one-after-another job, runs of consecutive steps that do not depend on each other and
   * run at the same time; when one of them fails, the others are stopped.
   */
  together?: string[][]
}

export interface RunOptions {
  version: string
  host: string
  dryRun?: boolean
  only?: string[]
  skip?: string[]
  /** The whole job's bound; steps still running then fail as timed out. */
  timeoutMs?: number
  onStepStart?(step: { id: string; title: string }): void
  onStepEnd?(result: StepResult): void
}

/** Checks --only/--skip against the job's step ids and says which steps run. */
export function selectSteps<C>(job: Job<C>, only: string[] = [], skip: string[] = []): Set<string> {
  const ids = job.steps.map((s) => s.id)
  const unknown = [...only, ...skip].filter((id) => !ids.includes(id))
  if (unknown.length > 0) {
    throw new UsageError(`unknown step "${unknown[0]}" for ${job.command}`, `steps are: ${ids.join(', ')}`)
  }
  return new Set(ids.filter((id) => (only.length === 0 || only.includes(id)) && !skip.includes(id)))
}

export async function runJob<C>(job: Job<C>, context: C, options: RunOptions): Promise<Report> {
  const selected = selectSteps(job, options.only, options.skip)
  const started = Date.now()
  const deadline = options.timeoutMs === undefined ? Infinity : started + options.timeoutMs
  const alerts: AlertRecord[] = []
  const results = new Map<string, StepResult>()

  let failedEarlier: string | undefined
  // Set once the job's bound has cut a step: no later step starts then. The job's timer and
  // Date.now() disagree by a millisecond now and then, so `deadline - Date.now()` alone can
  // still leave a later step 1 ms to run in.
  let outOfTime = false
  const execute = async (step: Step<C>, stop?: AbortSignal): Promise<void> => {
    if (failedEarlier !== undefined && job.stopOnFailure) {
      results.set(step.id, { id: step.id, title: step.title, status: 'skipped', durationMs: 0, summary: `not run: ${failedEarlier} failed` })
      options.onStepEnd?.(results.get(step.id)!)
      return
    }
    if (!selected.has(step.id)) {
      const why = options.only?.length ? 'not chosen by --only' : 'chosen by --skip'
      results.set(step.id, { id: step.id, title: step.title, status: 'skipped', durationMs: 0, summary: why })
      options.onStepEnd?.(results.get(step.id)!)
      return
    }
    options.onStepStart?.({ id: step.id, title: step.title })
    const jobBound = options.timeoutMs !== undefined && (step.timeoutMs ?? Infinity) >= deadline - Date.now()
    const outcome = await runStep(step, context, {
      dryRun: options.dryRun ?? false,
      boundMs: outOfTime ? 0 : Math.min(step.timeoutMs ?? Infinity, deadline - Date.now()),
      jobTimeoutMs: jobBound ? options.timeoutMs : undefined,
      onBoundReached: () => {
        if (jobBound) outOfTime = true
      },
      alerts,
      stop,
    })
    // Redacted here, once, so that no rendering of the report (text, --json, the report file, the
    // maintenance log, metrics, progress) shows a password that a URL in a message or in data holds.
    const result = redactStrings(outcome)
    results.set(step.id, result)
    if (result.status === 'failed') failedEarlier ??= step.id
    options.onStepEnd?.(result)
  }

  if (job.concurrent) {
    await Promise.all(job.steps.map((step) => execute(step)))
  } else {
    for (let i = 0; i < job.steps.length; ) {
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
          const status = results.get(step.id)?.status
          if (status === 'failed') stop.abort(new StepFailure(`stopped: ${step.id} failed`))
        }),
      )
      i += group.length
    }
  }

  if (failedEarlier !== undefined && job.stopOnFailure) await undoFinished(job, context, results, failedEarlier)

  const finished = Date.now()
  const steps = job.steps.map((s) => results.get(s.id)!)
  return {
    schemaVersion: SCHEMA_VERSION,
    command: job.command,
    version: options.version,
    host: options.host,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    status: overallStatus(steps),
    dryRun: options.dryRun ?? false,
    steps,
    alerts: redactStrings(alerts),
  }
}

/** Latest first, the finished steps' undo; the step's result says what was taken back. */
async function undoFinished<C>(job: Job<C>, context: C, results: Map<string, StepResult>, failed: string): Promise<void> {
  for (const step of [...job.steps].reverse()) {
    const result = results.get(step.id)
    if (!step.undo || !result || (result.status !== 'ok' && result.status !== 'warning')) continue
    let done: string | undefined
    try {
      done = await step.undo(context)
    } catch (error) {
      done = `could not be undone: ${describeError(error)}`
    }
    if (!done) continue
    result.summary = `${result.summary}; undone as ${failed} failed: ${done}`
    result.data = { ...result.data, undone: done }
  }
}

interface StepBounds {
  dryRun: boolean
  boundMs: number
  /** The job's --timeout, when it (not the step's own bound) is what can cut this step. */
  jobTimeoutMs?: number
  /** Called when boundMs ran out and the step was cut. */
  onBoundReached(): void
  alerts: AlertRecord[]
  /** Aborted when a step running alongside fails. */
  stop?: AbortSignal
}

async function runStep<C>(step: Step<C>, context: C, bounds: StepBounds): Promise<StepResult> {
  const started = performance.now()
  const base = { id: step.id, title: step.title }
  const elapsed = () => Math.round(performance.now() - started)
  if (bounds.boundMs <= 0) {
    return { ...base, status: 'failed', durationMs: 0, summary: 'not started: the job ran out of time', error: { message: 'the job timeout was reached before this step started', hint: 'raise --timeout' } }
  }
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const boundReached = new TimeoutError(`step ${step.id}`, bounds.boundMs)
  const timedOut = new Promise<never>((_, reject) => {
    if (Number.isFinite(bounds.boundMs)) {
      timer = setTimeout(() => {
        controller.abort()
        bounds.onBoundReached()
        reject(boundReached)
      }, bounds.boundMs)
    }
  })
  // A stopped step is told through its signal and gets to clean up; its failure then says why.
  const stopped = () => controller.abort(bounds.stop?.reason)
  bounds.stop?.addEventListener('abort', stopped, { once: true })
  try {
    const run: StepRun = { signal: controller.signal, dryRun: bounds.dryRun, recordAlert: (a) => bounds.alerts.push(a) }
    let outcome: StepOutcome
    const running = step.run(context, run)
    try {
      outcome = await Promise.race([running, timedOut])
    } catch (error) {
      if (error instanceof TimeoutError) {
        // Told through its signal, the step gets a moment to clean up (drop what it half made)
        // before the job goes on and the process may exit.
        if (step.cleanupMs) await Promise.race([running.catch(() => undefined), sleep(step.cleanupMs)])
      } else if (bounds.stop?.aborted) throw bounds.stop.reason
      throw error
    }
    return {
      ...base,
      status: outcome.status ?? 'ok',
      durationMs: elapsed(),
      summary: outcome.summary,
      ...(outcome.data ? { data: outcome.data } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    }
  } catch (error) {
    // Cut by the job's bound, the step had only what was left of it: the job's --timeout is what to name.
    if (error === boundReached && bounds.jobTimeoutMs !== undefined) {
      return { ...base, status: 'failed', durationMs: elapsed(), summary: `timed out: the job's --timeout of ${formatSeconds(bounds.jobTimeoutMs)} ran out`, error: { message: boundReached.message, hint: 'raise --timeout, or find what the step waits for' } }
    }
    if (error instanceof TimeoutError) {
      const hint = bounds.jobTimeoutMs !== undefined ? 'raise --timeout, or find what the step waits for' : 'the service it checks accepts connections but does not answer; see the other steps'
      return { ...base, status: 'failed', durationMs: elapsed(), summary: `timed out after ${formatSeconds(error.afterMs)}`, error: { message: error.message, hint } }
    }
    const failure = error instanceof StepFailure ? error : undefined
    const hint = error instanceof HintedError ? error.hint : undefined
    return {
      ...base,
      status: 'failed',
      durationMs: elapsed(),
      summary: describeError(error),
      ...(failure?.data ? { data: failure.data } : {}),
      error: { message: describeError(error), ...(hint ? { hint } : {}) },
    }
  } finally {
    bounds.stop?.removeEventListener('abort', stopped)
    clearTimeout(timer)
    controller.abort()
  }
}
