import { defineJob } from '../spec.js'
import { forcedServices, type RecoverContext, type RecoverOptions } from './context.js'
import { recoveryOrder } from './plan.js'

/**
 * One step per service, dependencies first: each looks, leaves a ready service alone, and
 * otherwise starts or restarts it and waits for real readiness.
 */
export const recover = defineJob({
  id: 'recover',
  command: 'recover',
  order: 'sequential',
  lock: 'recover',
  steps: {
    describe: 'one step per service, named after it (postgres, redis, management, ...): the services given and what they depend on, dependencies first',
    list: (config, options: RecoverOptions) =>
      recoveryOrder(config.services, options.services).map((service) => ({
        id: service.name,
        title: `Recover ${service.name}`,
        summary: `look at ${service.name}; unless ready, start or restart it and wait for its readiness`,
        load: async () => (await import('./recovery.js')).recoveryStep(service),
      })),
  },
  async context(config, options: RecoverOptions): Promise<RecoverContext> {
    const { ServiceRuntimes } = await import('../../systems/services.js')
    return { config, runtimes: new ServiceRuntimes(config), forced: forcedServices(config.services, options), state: { outcomes: new Map() } }
  },
})
