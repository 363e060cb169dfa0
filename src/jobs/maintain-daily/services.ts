import type { StepDefinition } from '../../report/outcome.js'
import { syncAlerts, type AlertState } from '../../systems/alert-sync.js'
import { ServiceRuntimes } from '../../systems/services.js'
import { loadLookClients, lookAtServices, problemOf, serviceFindings, type ServiceLook } from '../shared/services-look.js'
import type { MaintenanceContext } from './context.js'
import type { ServicesData } from './data.js'

const READINESS_TIMEOUT_MS = 5000

/** ServiceDown for each service that does not serve, resolved for each that does. */
export function serviceAlerts(looks: readonly ServiceLook[]): AlertState[] {
  return looks.map((look) => {
    const name = look.service.name
    const problem = problemOf(look)
    return {
      alertname: 'ServiceDown',
      severity: 'critical',
      labels: { service: name },
      summary: problem ? `${name} is ${problem}` : `${name} is ready: ${look.readiness.detail}`,
      firing: !look.ready,
    }
  })
}

/** Every configured service running and ready through its runtime; a down or unanswering one fails and alerts. */
export const services: StepDefinition<MaintenanceContext, ServicesData> = {
  async run({ config }, run) {
    await loadLookClients(config.services)
    const looks = await lookAtServices(config.services, {
      config,
      runtimes: new ServiceRuntimes(config),
      readinessTimeoutMs: Math.min(READINESS_TIMEOUT_MS, config.diagnose.checkTimeoutMs),
    })
    if (!run.dryRun) await syncAlerts(config, serviceAlerts(looks), run.recordAlert)
    const down = looks.filter((look) => !look.ready).map((look) => look.service.name)
    return {
      summary: `${looks.length - down.length} of ${looks.length} ready${down.length ? `; down: ${down.join(', ')}` : ''}`,
      findings: serviceFindings(looks),
      data: {
        services: looks.map((look) => {
          const problem = problemOf(look)
          return {
            service: look.service.name,
            runtime: look.service.runtime,
            state: look.status?.state ?? problem!,
            running: look.status?.running ?? false,
            ready: look.ready,
            readiness: look.readiness.detail,
            ...(problem ? { problem } : {}),
          }
        }),
      },
    }
  },
}
