import { describeError } from '../../errors.js'
import type { StepWork } from '../../report/runner.js'
import { syncAlerts, type AlertState } from '../../systems/alert-sync.js'
import { checkReadiness } from '../../systems/readiness.js'
import { ServiceRuntimes } from '../../systems/services.js'
import type { MaintenanceContext } from './context.js'

const READINESS_TIMEOUT_MS = 5000

/** Every configured service running and ready through its runtime; a down one fails and alerts. */
export const servicesStep: StepWork<MaintenanceContext> = {
  async run({ config }, run) {
    const runtimes = new ServiceRuntimes(config)
    const checks = await Promise.all(
      config.services.map(async (service) => {
        let running = false
        let state = 'unknown'
        try {
          const status = await runtimes.status(service)
          running = status.running
          state = status.state
        } catch (error) {
          state = `unknown: ${describeError(error)}`
        }
        const readiness = await checkReadiness(service, config, Math.min(READINESS_TIMEOUT_MS, config.diagnose.checkTimeoutMs), running)
        return { service: service.name, runtime: service.runtime, state, running, ready: running && readiness.ready, readiness: readiness.detail }
      }),
    )
    const down = checks.filter((c) => !c.ready)
    const alerts: AlertState[] = checks.map((c) => ({
      alertname: 'ServiceDown',
      severity: 'critical',
      labels: { service: c.service },
      summary: `${c.service} is ${c.running ? 'running but not ready' : c.state}: ${c.readiness}`,
      firing: !c.ready,
    }))
    if (!run.dryRun) await syncAlerts(config, alerts, run.recordAlert)
    const summary = `${checks.length - down.length} of ${checks.length} ready${down.length ? `; down: ${down.map((d) => d.service).join(', ')}` : ''}`
    if (down.length === 0) return { summary, data: { services: checks } }
    const first = down[0]!
    return {
      status: 'failed',
      summary,
      data: { services: checks },
      error: { message: `${first.service}: ${first.running ? 'running but not ready' : first.state} (${first.readiness})`, hint: down.map((d) => `probe-ops recover ${d.service}`).join('; ') },
    }
  },
}
