import type { Client } from 'pg'
import type { Config } from '../../config/load.js'
import { postgresFailure, withPostgres } from '../../systems/postgres.js'

/** What `report performance`'s flags ask of the job; each given overrides the configuration's performance section. */
export interface PerformanceOptions {
  /** The window of Prometheus's rates. */
  windowMs?: number
  /** How many statements and tables each list shows. */
  top?: number
}

/** What the performance steps take: the configuration (postgres, prometheus), and the run's window and list length. */
export interface PerformanceContext {
  config: Readonly<Config>
  windowMs: number
  top: number
}

export function performanceContext(config: Readonly<Config>, options: PerformanceOptions): PerformanceContext {
  return { config, windowMs: options.windowMs ?? config.performance.windowMs, top: options.top ?? config.performance.top }
}

/** A connection to the platform database for one step's queries, always closed; a failure says what it was and what to do. */
export async function withDatabase<T>(config: Readonly<Config>, work: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await withPostgres(config.postgres, work)
  } catch (error) {
    throw postgresFailure(error, config.postgres)
  }
}

/** Whitespace collapsed and cut, so a statement fits a report line. */
export function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}
