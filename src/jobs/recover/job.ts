import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { ServiceRuntimes } from '../../systems/services.js'
import { recoveryOrder } from './plan.js'
import { recoveryStep, type RecoverContext } from './recovery.js'

/**
 * One step per service, dependencies first: each looks, leaves a ready service alone, and
 * otherwise starts or restarts it and waits for real readiness.
 */
export function recoverJob(config: Config, targets: string[], force: boolean): { job: Job<RecoverContext>; context: RecoverContext } {
  const order = recoveryOrder(config.services, targets)
  return {
    job: { command: 'recover', concurrent: false, steps: order.map(recoveryStep) },
    context: { config, runtimes: new ServiceRuntimes(config), force, outcomes: new Map() },
  }
}
