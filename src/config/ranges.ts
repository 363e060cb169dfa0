import type { DurationRange } from '../lib/duration.js'

/**
 * The bounds of every duration a flag or the configuration file sets, in milliseconds, in one
 * place for both. No bound of a timeout or a wait reaches 2^31-1 ms (24.8 days), past which
 * Node's timers fire at once and PostgreSQL's statement_timeout and lock_timeout overflow; the
 * look-back windows (since, window, year) are no timers and stop at a year.
 */

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

export const RANGES = {
  /** One check, request or connection attempt (diagnose, cert check, HTTP, Redis, Docker). */
  check: { min: 100, max: HOUR },
  /** One SQL statement, or one retention batch. */
  statement: { min: 100, max: DAY },
  /** How long recover waits for readiness, or a stop for its grace. */
  readiness: { min: 100, max: DAY },
  /** A long step's whole budget: retention, a rebuild, a scanner run. */
  budget: { min: SECOND, max: 7 * DAY },
  /** A whole job (--timeout): a restore of a large database takes hours, never a week. */
  job: { min: SECOND, max: 7 * DAY },
  /** --wait-lock: 0 exits 3 at once. */
  waitLock: { min: 0, max: DAY },
  /** A pause, a target or a lock wait inside a batch (milliseconds keys). */
  batch: { min: 0, max: 10 * MINUTE },
  /** How far back diagnose reads service logs (diagnose.since, --since). */
  since: { min: SECOND, max: 365 * DAY },
  /** The Prometheus window of rates (performance.window, --window): a few scrape intervals at least, which Prometheus judges. */
  window: { min: SECOND, max: 365 * DAY },
  /** How long a pushed alert stays firing, and the failed-logins window: up to a year. */
  year: { min: SECOND, max: 365 * DAY },
} satisfies Record<string, DurationRange>
