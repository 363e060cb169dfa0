/** What every job's gauges (src/report/job-metrics.ts) read a report with. */

import type { z } from 'zod'
import type { Report, StepResult } from '../../report/model.js'

/**
 * A step's data read by its schema: undefined when the step did not run or its data has another
 * shape (a failed backup's reason). A run that did not measure something says nothing of it.
 */
export function stepData<S extends z.ZodTypeAny>(report: Report, stepId: string, schema: S): { step: StepResult; data: z.infer<S> } | undefined {
  const step = report.steps.find((s) => s.id === stepId)
  if (!step || step.status === 'skipped' || step.data === undefined) return undefined
  const parsed = schema.safeParse(step.data)
  return parsed.success ? { step, data: parsed.data as z.infer<S> } : undefined
}

/** When the run ended, in seconds since the epoch (what a Prometheus timestamp gauge holds). */
export function finishedSeconds(report: Report): number {
  return Date.parse(report.finishedAt) / 1000
}

export const DAY_SECONDS = 86_400
