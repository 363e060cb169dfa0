import type { StepDefinition } from '../../report/outcome.js'
import { loadLookClients, lookAtServices, serviceFindings, type ServiceLook } from '../shared/services-look.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { ServicesData } from './data.js'
import { formatUptime, healthFindings } from './findings.js'

/** "redis: running, 2 restarts, up 3h [docker np-redis-1]": one line per service the runtime showed. */
function describe({ status, notServing }: ServiceLook): string {
  const s = status!
  const parts = [`${s.name}: ${notServing ?? s.state}`]
  if (s.health) parts.push(s.health)
  if (s.restarts) parts.push(`${s.restarts} restarts`)
  if (s.uptimeSeconds !== undefined) parts.push(`up ${formatUptime(s.uptimeSeconds)}`)
  return `${parts.join(', ')} [${s.runtime} ${s.target}]`
}

export const services: StepDefinition<DiagnoseContext, ServicesData> = {
  timeoutMs: checkBound,
  async run({ config, runtimes, checkTimeoutMs }) {
    // The runtime's state and the service's own answer within the check's bound, the clients'
    // load included: a process that answers nothing is not "running" without saying so.
    const deadline = Date.now() + checkTimeoutMs
    await loadLookClients(config.services)
    const timeoutMs = Math.max(250, deadline - Date.now())
    const looks = await lookAtServices(config.services, { config, runtimes, readinessTimeoutMs: timeoutMs, runtimeTimeoutMs: timeoutMs })
    const seen = looks.filter((look) => look.status)
    const running = seen.filter((look) => look.status!.running).length
    const unanswering = seen.filter((look) => look.notServing).length
    return {
      summary: `${running} of ${config.services.length} running${unanswering ? `; ${unanswering} of them not serving` : ''}`,
      findings: [...serviceFindings(looks), ...healthFindings(looks)],
      details: seen.map(describe),
      data: { services: seen.map((look) => ({ ...look.status!, ready: look.ready, readiness: look.readiness.detail })) },
    }
  },
}
