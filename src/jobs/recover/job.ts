import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { ServiceRuntimes } from '../../systems/services.js'
import { recoveryOrder } from './plan.js'
import { recoveryStep, type RecoverContext } from './recovery.js'

/**
 * One step per service, dependencies first: each looks, leaves a ready service alone, and
 * otherwise starts or restarts it and waits for real readiness. --force reaches only the
 * services named (every one when none is): restarting a ready database would cut every
 * agent's connection for nothing.
 */
export function recoverJob(config: Config, targets: string[], force: boolean): { job: Job<RecoverContext>; context: RecoverContext } {
  const order = recoveryOrder(config.services, targets)
  const named = targets.length > 0 ? targets : config.services.map((s) => s.name)
  return {
    job: { command: 'recover', concurrent: false, steps: order.map(recoveryStep) },
    context: { config, runtimes: new ServiceRuntimes(config), forced: new Set(force ? named : []), outcomes: new Map() },
  }
}
