/**
 * One step's run: its bound, what cuts it (its own bound, the job's --timeout, a signal, a step
 * alongside that failed), the phases it marks as not to be cut, and its cleanup time.
 */

import { HintedError, Interruption, TimeoutError, formatSeconds } from '../errors.js'
import { withTimeout } from '../lib/time.js'
import type { AlertRecord, StepResult } from './model.js'
import type { StepDefinition, StepHints, StepOutcome, StepRun } from './outcome.js'
import { failed, failedResult, notStartedResult, resultOf, withSummarySuffix, type StepBase } from './step-result.js'

/** What to do about a thrown error, given the step's own hints (jobs/hints.ts hintOf, handed down by the job's runner). */
export type HintFor = (error: unknown, stepHints?: StepHints) => string | undefined

/** Without a hint table, the hint a step threw with its error. */
export const thrownHint: HintFor = (error) => (error instanceof HintedError ? error.hint : undefined)

/** A phase that gives no bound of its own is waited for this long. */
const CRITICAL_BOUND_MS = 300_000
/** Once its critical phase has ended, a cut step that asks for no cleanup time gets this long to return. */
const AFTER_CRITICAL_MS = 10_000

const JOB_TIMEOUT_HINT = 'raise --timeout, or find what the step waits for'

export interface StepBounds {
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
  onCriticalWait?: (wait: { step: string; phase: string; cause: string; boundMs: number }) => void
  hintFor: HintFor
  /** Keeps the step's run, so that the job knows when it has really ended. */
  track(run: Promise<unknown>): void
}

interface CriticalPhase {
  phase: string
  ended: Promise<void>
  boundMs: number
  repair?: string
}

export function noop(): void {}

export async function runStep<C>(base: StepBase, step: StepDefinition<C, unknown>, context: C, bounds: StepBounds): Promise<StepResult> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  if (bounds.boundMs <= 0) return notStartedResult(base)
  const controller = new AbortController()
  const phases = new Set<CriticalPhase>()
  let timer: NodeJS.Timeout | undefined
  const boundReached = new TimeoutError(`step ${base.id}`, bounds.boundMs)
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
    recordAlert: (alert) => bounds.alerts.push(alert),
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
    let outcome: StepOutcome<unknown>
    const running = step.run(context, run)
    bounds.track(running)
    try {
      outcome = await Promise.race([running, cutShort])
    } catch (error) {
      if (error === boundReached || error instanceof Interruption) {
        const during = [...phases]
        if (during.length > 0) return await afterCriticalPhase(base, step, running, during, describeCut(error as Error, bounds), bounds, elapsed)
        // Told through its signal, the step gets a moment to clean up (drop what it half made)
        // before the job goes on and the process may exit.
        if (step.cleanupMs) await settledWithin(running, step.cleanupMs)
      } else if (bounds.stop?.aborted) throw bounds.stop.reason
      throw error
    }
    return resultOf(base, outcome, elapsed())
  } catch (error) {
    // Cut by the job's bound, the step had only what was left of it: the job's --timeout is what to name.
    if (error === boundReached && bounds.jobTimeoutMs !== undefined) {
      const summary = `timed out: the job's --timeout of ${formatSeconds(bounds.jobTimeoutMs)} ran out`
      return failed(base, elapsed(), summary, { message: boundReached.message, hint: JOB_TIMEOUT_HINT })
    }
    if (error instanceof TimeoutError) {
      const hint = bounds.jobTimeoutMs !== undefined ? JOB_TIMEOUT_HINT : 'the service it checks accepts connections but does not answer; see the other steps'
      return failed(base, elapsed(), `timed out after ${formatSeconds(error.afterMs)}`, { message: error.message, hint })
    }
    if (error instanceof Interruption) {
      const message = `${error.signal} came while this step ran: it was stopped`
      return failed(base, elapsed(), error.message, { message, hint: 'run the command again when ready' })
    }
    return failedResult(base, error, elapsed(), bounds.hintFor(error, step.hints))
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
  base: StepBase,
  step: StepDefinition<C, unknown>,
  running: Promise<StepOutcome<unknown>>,
  during: CriticalPhase[],
  cause: string,
  bounds: StepBounds,
  elapsed: () => number,
): Promise<StepResult> {
  const phase = during.map((p) => p.phase).join(' and ')
  const boundMs = Math.max(...during.map((p) => p.boundMs))
  bounds.onCriticalWait?.({ step: base.id, phase, cause, boundMs })
  await settledWithin(Promise.all(during.map((p) => p.ended)), boundMs)
  const ended = await settledWithin(running, step.cleanupMs ?? AFTER_CRITICAL_MS)
  const when = `${cause} during ${phase}, which was let end first`
  if (!ended) {
    const repair = during.find((p) => p.repair)?.repair
    const message = `${cause} during ${phase}, which had not ended ${formatSeconds(boundMs)} later: it may be left half done`
    return failed(base, elapsed(), message, { message, hint: repair ?? 'check what the step changes before running it again' })
  }
  if ('outcome' in ended) return withSummarySuffix(resultOf(base, ended.outcome, elapsed()), when)
  return withSummarySuffix(failedResult(base, ended.failure, elapsed(), bounds.hintFor(ended.failure, step.hints)), when)
}

/** How `work` settled, or undefined when it had not within `ms`. */
async function settledWithin<T>(work: Promise<T>, ms: number): Promise<{ outcome: T } | { failure: unknown } | undefined> {
  const settled = work.then(
    (outcome) => ({ outcome }),
    (failure: unknown) => ({ failure }),
  )
  return withTimeout('the step', ms, settled).catch(() => undefined)
}
