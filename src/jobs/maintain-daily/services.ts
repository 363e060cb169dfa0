import { describeError } from '../../errors.js'
import type { StepWork } from '../../report/runner.js'
import { syncAlerts, type AlertState } from '../../systems/alert-sync.js'
import { checkReadiness, notServing } from '../../systems/readiness.js'
import { ServiceRuntimes, type ServiceStatus } from '../../systems/services.js'
import type { MaintenanceContext } from './context.js'

const READINESS_TIMEOUT_MS = 5000

/** Every configured service running and ready through its runtime; a down or unanswering one fails and alerts. */
export const servicesStep: StepWork<MaintenanceContext> = {
  async run({ config }, run) {
    const runtimes = new ServiceRuntimes(config)
    const timeoutMs = Math.min(READINESS_TIMEOUT_MS, config.diagnose.checkTimeoutMs)
    const checks = await Promise.all(
      config.services.map(async (service) => {
        let status: ServiceStatus | undefined
        let state = 'unknown'
        try {
          status = await runtimes.status(service)
          state = status.state
        } catch (error) {
          state = `unknown: ${describeError(error)}`
        }
        const readiness = await checkReadiness(service, config, timeoutMs, status)
        const running = status?.running ?? false
        // What is wrong, in an operator's words: the runtime's state, or why a running one does not serve.
        const problem = running ? notServing(status!, readiness, timeoutMs) : `${state} (${readiness.detail})`
        return {
          service: service.name,
          runtime: service.runtime,
          state,
          running,
          ready: !problem,
          readiness: readiness.detail,
          ...(problem ? { problem } : {}),
        }
      }),
    )
    const down = checks.filter((c) => !c.ready)
    const alerts: AlertState[] = checks.map((c) => ({
      alertname: 'ServiceDown',
      severity: 'critical',
      labels: { service: c.service },
      summary: c.problem ? `${c.service} is ${c.problem}` : `${c.service} is ready: ${c.readiness}`,
      firing: !c.ready,
    }))
    if (!run.dryRun) await syncAlerts(config, alerts, run.recordAlert)
    const data = { services: checks }
    const summary = `${checks.length - down.length} of ${checks.length} ready${down.length ? `; down: ${down.map((d) => d.service).join(', ')}` : ''}`
    if (down.length === 0) return { summary, data }
    const first = down[0]!
    return {
      status: 'failed',
      summary,
      data,
      error: { message: `${first.service}: ${first.problem}`, hint: down.map((d) => `probe-ops recover ${d.service}`).join('; ') },
    }
  },
}
