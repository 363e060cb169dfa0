import { HintedError, Interruption, StepFailure, TimeoutError, UsageError, describeError, formatSeconds } from '../errors.js'
import { redactStrings } from '../lib/redact.js'
import { withTimeout } from '../lib/time.js'
import {
  SCHEMA_VERSION,
  describeInterrupted,
  overallStatus,
  type AlertRecord,
  type Interrupted,
  type Report,
  type StepResult,
  type StepStatus,
} from './model.js'

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
  /**
   * Runs a phase that must not be cut half way (the platform stopped for a swap, data directories
   * being renamed). A timeout or an interrupt meanwhile waits for it to end, finished or undone,
   * and the step then comes to its end as usual. The phase is not handed the step's signal: what
   * it starts, it finishes. Once the step has been told to stop, no such phase starts.
   */
  critical<T>(phase: string, work: () => Promise<T>, options?: CriticalOptions): Promise<T>
}

export interface CriticalOptions {
  /** How long a cut step waits for the phase: what its own operations' bounds add up to. */
  boundMs?: number
  /** What repairs the phase when it did not end within its bound and the process exits under it. */
  repair?: string
}

/** A phase that gives no bound of its own is waited for this long. */
const CRITICAL_BOUND_MS = 300_000
/** Once its critical phase has ended, a cut step that asks for no cleanup time gets this long to return. */
const AFTER_CRITICAL_MS = 10_000

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
  /**
   * Aborted with an Interruption to stop the job (a signal), or with the TimeoutError of the step
   * a job runs inside: no step starts after it, and the running ones are cut as a timeout cuts them.
   */
  interrupt?: AbortSignal
  onStepStart?(step: { id: string; title: string }): void
  onStepEnd?(result: StepResult): void
  /** A cut step waits for a phase that must not be cut (to say so on the terminal). */
  onCriticalWait?(wait: { step: string; phase: string; cause: string; boundMs: number }): void
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
export function selectSteps<C>(job: Job<C>, only: string[] = [], skip: string[] = []): Set<string> {
  const ids = job.steps.map((s) => s.id)
  const unknown = [...only, ...skip].filter((id) => !ids.includes(id))
  if (unknown.length > 0) {
    throw new UsageError(`unknown step "${unknown[0]}" for ${job.command}`, `steps are: ${ids.join(', ')}`, 'unknown-step')
  }
  return new Set(ids.filter((id) => (only.length === 0 || only.includes(id)) && !skip.includes(id)))
}

export async function runJob<C>(job: Job<C>, context: C, options: RunOptions): Promise<Report> {
  return startJob(job, context, options).report
}

export function startJob<C>(job: Job<C>, context: C, options: RunOptions): RunningJob {
  const selected = selectSteps(job, options.only, options.skip)
  const started = Date.now()
  const deadline = options.timeoutMs === undefined ? Infinity : started + options.timeoutMs
  const alerts: AlertRecord[] = []
  const results = new Map<string, StepResult>()
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
  const execute = async (step: Step<C>, stop?: AbortSignal): Promise<void> => {
    const skip = (summary: string) => {
      results.set(step.id, { id: step.id, title: step.title, status: 'skipped', durationMs: 0, summary })
      options.onStepEnd?.(results.get(step.id)!)
    }
    if (failedEarlier !== undefined && job.stopOnFailure) return skip(`not run: ${failedEarlier} failed`)
    if (!selected.has(step.id)) return skip(options.only?.length ? 'not chosen by --only' : 'chosen by --skip')
    if (options.interrupt?.aborted) {
      notRunInterrupted = true
      return skip(`not run: ${describeError(options.interrupt.reason)}`)
    }
    options.onStepStart?.({ id: step.id, title: step.title })
    runningSince.set(step.id, Date.now())
    const jobBound = options.timeoutMs !== undefined && (step.timeoutMs ?? Infinity) >= deadline - Date.now()
    const outcome = await runStep(step, context, {
      dryRun: options.dryRun ?? false,
      boundMs: outOfTime ? 0 : Math.min(step.timeoutMs ?? Infinity, deadline - Date.now()),
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
      track: (run) => stepRuns.push(run.then(noop, noop)),
    })
    runningSince.delete(step.id)
    // Redacted here, once, so that no rendering of the report (text, --json, the report file, the
    // maintenance log, metrics, progress) shows a password that a URL in a message or in data holds.
    const result = redactStrings(outcome)
    results.set(step.id, result)
    if (result.status === 'failed') failedEarlier ??= step.id
    options.onStepEnd?.(result)
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
    if (job.concurrent) {
      await Promise.all(job.steps.map((step) => execute(step)))
    } else {
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
            const status = results.get(step.id)?.status
            if (status === 'failed') stop.abort(new StepFailure(`stopped: ${step.id} failed`))
          }),
        )
        i += group.length
      }
    }
    options.interrupt?.removeEventListener('abort', onInterrupt)
    if (job.stopOnFailure) {
      if (failedEarlier !== undefined) await undoFinished(job, context, results, `${failedEarlier} failed`)
      else if (notRunInterrupted && interrupted) await undoFinished(job, context, results, `the run was ${describeInterrupted(interrupted)}`)
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
    reportNow(said) {
      const now = Date.now()
      return build(
        job.steps.map((step): StepResult => {
          const done = results.get(step.id)
          if (done) return done
          const since = runningSince.get(step.id)
          const base = { id: step.id, title: step.title }
          if (since === undefined) return { ...base, status: 'skipped', durationMs: 0, summary: said.notRun }
          return {
            ...base,
            status: 'failed',
            durationMs: now - since,
            summary: said.running,
            error: { message: said.running, ...(said.hint ? { hint: said.hint } : {}) },
          }
        }),
      )
    },
  }
}

function noop(): void {}

function interruptionOf(reason: unknown): Interrupted['by'] {
  if (reason instanceof Interruption) return reason.signal
  // A job run inside a step (maintain weekly's performance report) is cut with the step's bound.
  return reason instanceof TimeoutError ? 'timeout' : 'SIGTERM'
}

/** Latest first, the finished steps' undo; the step's result says what was taken back. */
async function undoFinished<C>(job: Job<C>, context: C, results: Map<string, StepResult>, because: string): Promise<void> {
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
    result.summary = `${result.summary}; undone as ${because}: ${done}`
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
  /** Aborted when the job is interrupted: the step is cut as by its bound. */
  interrupt?: AbortSignal
  onCriticalWait: RunOptions['onCriticalWait']
  /** Keeps the step's run, so that the job knows when it has really ended. */
  track(run: Promise<unknown>): void
}

interface CriticalPhase {
  phase: string
  ended: Promise<void>
  boundMs: number
  repair?: string
}

async function runStep<C>(step: Step<C>, context: C, bounds: StepBounds): Promise<StepResult> {
  const started = performance.now()
  const base = { id: step.id, title: step.title }
  const elapsed = () => Math.round(performance.now() - started)
  if (bounds.boundMs <= 0) {
    return {
      ...base,
      status: 'failed',
      durationMs: 0,
      summary: 'not started: the job ran out of time',
      error: { message: 'the job timeout was reached before this step started', hint: 'raise --timeout' },
    }
  }
  const controller = new AbortController()
  const phases = new Set<CriticalPhase>()
  let timer: NodeJS.Timeout | undefined
  const boundReached = new TimeoutError(`step ${step.id}`, bounds.boundMs)
  // Cut by its bound or by an interrupt, the step is told through its signal.
  let cut: (cause: Error) => void = noop
  const cutShort = new Promise<never>((_, reject) => {
    cut = (cause) => {
      controller.abort(cause)
      reject(cause)
    }
  })
  if (Number.isFinite(bounds.boundMs)) {
    timer = setTimeout(() => {
      bounds.onBoundReached()
      cut(boundReached)
    }, bounds.boundMs)
  }
  const interrupted = () => cut(bounds.interrupt!.reason as Error)
  bounds.interrupt?.addEventListener('abort', interrupted, { once: true })
  // A stopped step is told through its signal and gets to clean up; its failure then says why.
  const stopped = () => controller.abort(bounds.stop?.reason)
  bounds.stop?.addEventListener('abort', stopped, { once: true })
  const run: StepRun = {
    signal: controller.signal,
    dryRun: bounds.dryRun,
    recordAlert: (a) => bounds.alerts.push(a),
    async critical(phase, work, options = {}) {
      controller.signal.throwIfAborted()
      const working = work()
      const entry: CriticalPhase = { phase, ended: working.then(noop, noop), boundMs: options.boundMs ?? CRITICAL_BOUND_MS, repair: options.repair }
      phases.add(entry)
      try {
        return await working
      } finally {
        phases.delete(entry)
      }
    },
  }
  try {
    let outcome: StepOutcome
    const running = step.run(context, run)
    bounds.track(running)
    try {
      outcome = await Promise.race([running, cutShort])
    } catch (error) {
      if (error === boundReached || error instanceof Interruption) {
        const during = [...phases]
        if (during.length > 0) return await afterCriticalPhase(step, running, during, describeCut(error as Error, bounds), bounds, elapsed)
        // Told through its signal, the step gets a moment to clean up (drop what it half made)
        // before the job goes on and the process may exit.
        if (step.cleanupMs) await settledWithin(running, step.cleanupMs)
      } else if (bounds.stop?.aborted) throw bounds.stop.reason
      throw error
    }
    return outcomeResult(base, outcome, elapsed())
  } catch (error) {
    // Cut by the job's bound, the step had only what was left of it: the job's --timeout is what to name.
    if (error === boundReached && bounds.jobTimeoutMs !== undefined) {
      return {
        ...base,
        status: 'failed',
        durationMs: elapsed(),
        summary: `timed out: the job's --timeout of ${formatSeconds(bounds.jobTimeoutMs)} ran out`,
        error: { message: boundReached.message, hint: 'raise --timeout, or find what the step waits for' },
      }
    }
    if (error instanceof TimeoutError) {
      const hint =
        bounds.jobTimeoutMs !== undefined
          ? 'raise --timeout, or find what the step waits for'
          : 'the service it checks accepts connections but does not answer; see the other steps'
      return {
        ...base,
        status: 'failed',
        durationMs: elapsed(),
        summary: `timed out after ${formatSeconds(error.afterMs)}`,
        error: { message: error.message, hint },
      }
    }
    if (error instanceof Interruption) {
      return {
        ...base,
        status: 'failed',
        durationMs: elapsed(),
        summary: error.message,
        error: { message: `${error.signal} came while this step ran: it was stopped`, hint: 'run the command again when ready' },
      }
    }
    return failedResult(base, error, elapsed())
  } finally {
    bounds.interrupt?.removeEventListener('abort', interrupted)
    bounds.stop?.removeEventListener('abort', stopped)
    clearTimeout(timer)
    controller.abort()
  }
}

/** What cut a step, in words. */
function describeCut(cause: Error, bounds: StepBounds): string {
  if (cause instanceof Interruption) return `${cause.signal} came`
  if (bounds.jobTimeoutMs !== undefined) return `the job's --timeout of ${formatSeconds(bounds.jobTimeoutMs)} ran out`
  return `its bound of ${formatSeconds(bounds.boundMs)} ran out`
}

/**
 * A step cut during a phase that must not be cut: the phase is let end (finished, or undone by
 * the step's own failure handling) within its bound, then the step gets its cleanup time to
 * return. Its result is then what it returned or threw, and says what came when.
 */
async function afterCriticalPhase<C>(
  step: Step<C>,
  running: Promise<StepOutcome>,
  during: CriticalPhase[],
  cause: string,
  bounds: StepBounds,
  elapsed: () => number,
): Promise<StepResult> {
  const base = { id: step.id, title: step.title }
  const phase = during.map((p) => p.phase).join(' and ')
  const boundMs = Math.max(...during.map((p) => p.boundMs))
  bounds.onCriticalWait?.({ step: step.id, phase, cause, boundMs })
  await settledWithin(Promise.all(during.map((p) => p.ended)), boundMs)
  const ended = await settledWithin(running, step.cleanupMs ?? AFTER_CRITICAL_MS)
  const when = `${cause} during ${phase}, which was let end first`
  if (!ended) {
    const repair = during.find((p) => p.repair)?.repair
    const message = `${cause} during ${phase}, which had not ended ${formatSeconds(boundMs)} later: it may be left half done`
    return {
      ...base,
      status: 'failed',
      durationMs: elapsed(),
      summary: message,
      error: { message, hint: repair ?? 'check what the step changes before running it again' },
    }
  }
  if ('outcome' in ended) {
    const result = outcomeResult(base, ended.outcome, elapsed())
    return { ...result, summary: `${result.summary} (${when})` }
  }
  const result = failedResult(base, ended.failure, elapsed())
  return { ...result, summary: `${result.summary} (${when})` }
}

/** How `work` settled, or undefined when it had not within `ms`. */
async function settledWithin<T>(work: Promise<T>, ms: number): Promise<{ outcome: T } | { failure: unknown } | undefined> {
  const settled = work.then(
    (outcome) => ({ outcome }),
    (failure: unknown) => ({ failure }),
  )
  return withTimeout('the step', ms, settled).catch(() => undefined)
}

function outcomeResult(base: { id: string; title: string }, outcome: StepOutcome, durationMs: number): StepResult {
  return {
    ...base,
    status: outcome.status ?? 'ok',
    durationMs,
    summary: outcome.summary,
    ...(outcome.data ? { data: outcome.data } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
  }
}

function failedResult(base: { id: string; title: string }, error: unknown, durationMs: number): StepResult {
  const failure = error instanceof StepFailure ? error : undefined
  const hint = error instanceof HintedError ? error.hint : undefined
  return {
    ...base,
    status: 'failed',
    durationMs,
    summary: describeError(error),
    ...(failure?.data ? { data: failure.data } : {}),
    error: { message: describeError(error), ...(hint ? { hint } : {}) },
  }
}
