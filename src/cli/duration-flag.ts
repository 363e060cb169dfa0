import { Flags } from '@oclif/core'
import { UsageError } from '../errors.js'
import { DURATION_GRAMMAR, checkDuration, type DurationRange } from '../lib/duration.js'

/**
 * A flag that takes a duration in the grammar of the configuration file (lib/duration.ts): a
 * number of seconds as these flags always took (`--timeout 600`), or `15m`, `2h`, `1h30m`.
 * oclif keeps it a string; durationOf reads and checks it, so that a wrong value is one line
 * that names the allowed range.
 */
export function durationFlag(description: string, options: { helpGroup?: string } = {}) {
  return Flags.string({ description, helpValue: 'DURATION', ...options })
}

/** The flag's value in milliseconds (undefined when not given); a UsageError outside its range. */
export function durationOf(value: string | undefined, flag: string, range: DurationRange): number | undefined {
  if (value === undefined) return undefined
  const checked = checkDuration(value, range)
  if ('error' in checked) throw new UsageError(`--${flag} "${value}" ${checked.error}`, `use ${DURATION_GRAMMAR}`)
  return checked.ms
}
