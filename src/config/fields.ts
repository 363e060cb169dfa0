import { z } from 'zod'
import { checkDuration, type DurationRange } from '../lib/duration.js'

/** The kinds of value the configuration's keys take, each with its bounds and its one-line error. */

/** A number of `unit`s (1000 for seconds) within a range; one line names the range when it is not. */
function inUnits(range: DurationRange, unitMs: number, unitName: string) {
  const min = range.min / unitMs
  const max = range.max / unitMs
  return z.number().refine((value) => value >= min && value <= max, { message: `must be between ${min} and ${max} ${unitName}` })
}
export const seconds = (range: DurationRange) => inUnits(range, 1000, 'seconds')
export const milliseconds = (range: DurationRange) => inUnits(range, 1, 'milliseconds').refine(Number.isInteger, 'must be a whole number of milliseconds')
export const hours = (range: DurationRange) => inUnits(range, 3_600_000, 'hours')

/** A duration in the grammar flags take too (30m, 1h, 7d, 1h30m; a bare number is seconds), read as milliseconds. */
export function duration(range: DurationRange) {
  return z.union([z.string(), z.number()]).transform((value, context) => {
    const checked = checkDuration(value, range)
    if ('error' in checked) {
      context.addIssue({ code: z.ZodIssueCode.custom, message: checked.error })
      return z.NEVER
    }
    return checked.ms
  })
}

export const percent = z.number().min(0).max(100)
/** A count of days (expiry warnings, forecasts): ten years is already beyond any plan. */
export const days = z.number().min(0).max(3650)
