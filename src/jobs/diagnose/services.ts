import { describeError } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import type { ServiceStatus } from '../../systems/services.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'

/** A container restarted this often and up for less than this long is in a crash loop. */
const LOOP_RESTARTS = 3
const LOOP_UPTIME_S = 600

function describe(s: ServiceStatus): string {
  const parts = [`${s.name}: ${s.state}`]
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
    const results = await Promise.all(
      config.services.map(async (service) => {
        try {
          return { service, status: await runtimes.status(service) }
        } catch (error) {
          return { service, error }
        }
      }),
    )
    const problems: Problem[] = []
    const details: string[] = []
    const statuses: ServiceStatus[] = []
    const unreadable = new Map<string, { names: string[]; hint?: string }>()
    for (const r of results) {
      if (!('status' in r) || !r.status) {
        // One runtime down makes every service on it unreadable: say it once, naming them all.
        const message = describeError(r.error)
        const entry = unreadable.get(message) ?? { names: [], hint: (r.error as { hint?: string }).hint }
        entry.names.push(r.service.name)
        unreadable.set(message, entry)
        continue
      }
      const s = r.status
      statuses.push(s)
      details.push(describe(s))
      if (!s.found) problems.push({ severity: 'failed', message: `${s.name} is not deployed: no ${s.runtime === 'docker' ? 'container' : s.runtime === 'systemd' ? 'unit' : 'process'} ${s.target}`, next: `deploy it (docker-compose up -d ${s.name}), or fix services.${s.name} in the configuration` })
      else if (!s.running) problems.push({ severity: 'failed', message: `${s.name} is ${s.state}`, next: `probe-ops recover ${s.name}` })
      else if (s.health === 'unhealthy') problems.push({ severity: 'failed', message: `${s.name} is running but its health check fails`, next: `probe-ops recover ${s.name}` })
      else if ((s.restarts ?? 0) >= LOOP_RESTARTS && (s.uptimeSeconds ?? Infinity) < LOOP_UPTIME_S) {
        problems.push({ severity: 'warning', message: `${s.name} restarted ${s.restarts} times and is up only ${formatUptime(s.uptimeSeconds!)}: a crash loop?`, next: `read its errors: probe-ops diagnose --only logs` })
      }
    }
    for (const [message, { names, hint }] of unreadable) {
      problems.unshift({ severity: 'failed', message: `${names.join(', ')}: state unknown: ${message}`, next: hint ?? 'check the service runtime' })
    }
    const running = statuses.filter((s) => s.running).length
    return verdict(`${running} of ${config.services.length} running`, details, problems, { services: statuses })
  },
}
