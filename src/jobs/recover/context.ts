import type { Config, ServiceConfig } from '../../config/load.js'
import { UsageError } from '../../errors.js'
import type { ServiceRuntimes } from '../../systems/services.js'

/** What became of a service recover has handled. */
export type Outcome = 'ready' | 'recovered' | 'failed'

/** `recover [SERVICE...] [--all] [--force]`: what the command's arguments and flags ask of the job. */
export interface RecoverOptions {
  /** The services named; none: every service. */
  services: string[]
  force: boolean
}

export interface RecoverContext {
  config: Readonly<Config>
  runtimes: ServiceRuntimes
  /** The services --force applies to: those named, never the dependencies recovered for them. */
  forced: ReadonlySet<string>
  /** What one step learns for the next. */
  state: {
    /** What became of each service already handled: a dependent is not restarted after a failed dependency. */
    outcomes: Map<string, Outcome>
  }
}

/** The options from the command line; services and --all together are a usage error. */
export function recoverOptions(given: { services: readonly string[]; all: boolean; force: boolean }): RecoverOptions {
  if (given.all && given.services.length > 0) throw new UsageError('give services or --all, not both', 'probe-ops recover postgres, or probe-ops recover --all')
  return { services: [...given.services], force: given.force }
}

/**
 * What --force reaches: only the services named (every one when none is). Restarting a ready
 * database recovered for its dependent would cut every agent's connection for nothing.
 */
export function forcedServices(services: readonly ServiceConfig[], options: RecoverOptions): Set<string> {
  if (!options.force) return new Set()
  return new Set(options.services.length > 0 ? options.services : services.map((s) => s.name))
}
