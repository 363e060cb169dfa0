import { describeError } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { withTimeout } from '../../lib/time.js'
import { checkReadiness, loadReadinessClients, notServing } from '../../systems/readiness.js'
import type { ServiceStatus } from '../../systems/services.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'
import { hintOf } from '../hints.js'

/** A container restarted this often and up for less than this long is in a crash loop. */
const LOOP_RESTARTS = 3
const LOOP_UPTIME_S = 600

function describe(s: ServiceStatus, unserved: string | undefined): string {
  const parts = [`${s.name}: ${unserved ?? s.state}`]
  if (s.health) parts.push(s.health)
  if (s.restarts) parts.push(`${s.restarts} restarts`)
  if (s.uptimeSeconds !== undefined) parts.push(`up ${formatUptime(s.uptimeSeconds)}`)
  return `${parts.join(', ')} [${s.runtime} ${s.target}]`
}

export function formatUptime(seconds: number): string {
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200 && seconds % 3600 !== 0) return `${Math.round(seconds / 60)}m`
  if (seconds < 172800 && seconds % 86400 !== 0) return `${Math.round(seconds / 3600)}h`
  return `${Math.round(seconds / 86400)}d`
}

export const servicesStep: Step<DiagnoseContext> = {
  id: 'services',
  title: 'Service state',
  async run({ config, runtimes }) {
    // The runtime's state and the service's own answer, side by side and within the check's bound:
    // a process that answers nothing is not "running" without saying so.
    const deadline = Date.now() + config.diagnose.checkTimeoutMs
    await loadReadinessClients(config.services)
    const timeoutMs = Math.max(250, deadline - Date.now())
    const results = await Promise.all(
      config.services.map(async (service) => {
        const [status, readiness] = await Promise.all([
          // The runtime's calls are bounded one by one; together they keep to the check's bound too.
          withTimeout(`the ${service.runtime} runtime`, Math.max(250, deadline - Date.now()), runtimes.status(service)).then(
            (found) => ({ found }),
            (error: unknown) => ({ error }),
          ),
          // A service that declares no readiness check is as its runtime says: judged below.
          service.readiness === 'running' ? undefined : checkReadiness(service, config, timeoutMs, undefined),
        ])
        return { service, ...status, readiness }
      }),
    )
    const problems: Problem[] = []
    const details: string[] = []
    const statuses: (ServiceStatus & { ready: boolean; readiness: string })[] = []
    const unreadable = new Map<string, { names: string[]; hint?: string }>()
    let unanswering = 0
    for (const r of results) {
      if (!('found' in r)) {
        // One runtime down makes every service on it unreadable: say it once, naming them all.
        const message = describeError(r.error)
        const entry = unreadable.get(message) ?? { names: [], hint: hintOf(r.error) }
        entry.names.push(r.service.name)
        unreadable.set(message, entry)
        continue
      }
      const s = r.found
      const readiness = r.readiness ?? (await checkReadiness(r.service, config, timeoutMs, s))
      const unserved = s.running ? notServing(s, readiness, timeoutMs) : undefined
      statuses.push({ ...s, ready: s.running && !unserved, readiness: readiness.detail })
      details.push(describe(s, unserved))
      if (!s.found)
        problems.push({
          severity: 'failed',
          message: `${s.name} is not deployed: no ${s.runtime === 'docker' ? 'container' : s.runtime === 'systemd' ? 'unit' : 'process'} ${s.target}`,
          next: `deploy it (docker-compose up -d ${s.name}), or fix services.${s.name} in the configuration`,
        })
      else if (!s.running) problems.push({ severity: 'failed', message: `${s.name} is ${s.state}`, next: `probe-ops recover ${s.name}` })
      else if (s.health === 'unhealthy')
        problems.push({ severity: 'failed', message: `${s.name} is running but its health check fails`, next: `probe-ops recover ${s.name}` })
      else if (unserved) {
        unanswering++
        const next = s.stoppedBySignal ? `resume it: kill -CONT ${s.pid}; or restart it: probe-ops recover ${s.name}` : `probe-ops recover ${s.name}`
        problems.push({ severity: 'failed', message: `${s.name} is ${unserved}`, next })
      } else if ((s.restarts ?? 0) >= LOOP_RESTARTS && (s.uptimeSeconds ?? Infinity) < LOOP_UPTIME_S) {
        problems.push({
          severity: 'warning',
          message: `${s.name} restarted ${s.restarts} times and is up only ${formatUptime(s.uptimeSeconds!)}: a crash loop?`,
          next: `read its errors: probe-ops diagnose --only logs`,
        })
      }
    }
    for (const [message, { names, hint }] of unreadable) {
      problems.unshift({ severity: 'failed', message: `${names.join(', ')}: state unknown: ${message}`, next: hint ?? 'check the service runtime' })
    }
    const running = statuses.filter((s) => s.running).length
    const summary = `${running} of ${config.services.length} running${unanswering ? `; ${unanswering} of them not serving` : ''}`
    return verdict(summary, details, problems, { services: statuses })
  },
}
