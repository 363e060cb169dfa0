/**
 * One look at a service, the same in diagnose, maintain daily and recover: what its runtime says
 * (state, health, restarts) beside whether it really serves (its readiness check), and, for one
 * its runtime shows running, why it does not serve. "Running" alone is never said of a process
 * that answers nothing. What is wrong with the services looked at is rated here too, once.
 */

import type { Config, ServiceConfig } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { withTimeout } from '../../lib/time.js'
import type { Finding } from '../../report/outcome.js'
import { loadDockerode } from '../../systems/libraries.js'
import { checkReadiness, loadReadinessClients, notServing, type Readiness } from '../../systems/readiness.js'
import type { ServiceRuntimes, ServiceStatus } from '../../systems/services.js'
import { hintOf } from '../hints.js'

export interface ServiceLook {
  service: ServiceConfig
  /** What its runtime says; undefined when the runtime could not be read (`unreadable` says why). */
  status?: ServiceStatus
  unreadable?: unknown
  readiness: Readiness
  /** Why a service its runtime shows running does not serve (stopped by a signal, hung, not ready). */
  notServing?: string
  /** Running by its runtime, and serving. */
  ready: boolean
}

export interface LookOptions {
  config: Readonly<Config>
  runtimes: ServiceRuntimes
  /** Each readiness check's bound. */
  readinessTimeoutMs: number
  /** The runtime's answer's bound, when the caller has one (diagnose's check timeout); else the runtime's own. */
  runtimeTimeoutMs?: number
}

/**
 * Loads the libraries a look at these services uses (the Docker client, the readiness checks'
 * clients), so that a cold load, which blocks every other check meanwhile, is not counted
 * against a bound.
 */
export async function loadLookClients(services: readonly ServiceConfig[]): Promise<void> {
  await Promise.all([loadReadinessClients([...services]), services.some((s) => s.runtime === 'docker') && loadDockerode()])
}

/**
 * The runtime's state and the service's own answer, side by side. A service that declares no
 * readiness check is as its runtime says, so its check waits for the runtime's answer.
 */
export async function lookAtService(service: ServiceConfig, options: LookOptions): Promise<ServiceLook> {
  const { config, runtimes, readinessTimeoutMs, runtimeTimeoutMs } = options
  const asked = runtimes.status(service)
  const [seen, answered] = await Promise.all([
    (runtimeTimeoutMs === undefined ? asked : withTimeout(`the ${service.runtime} runtime`, runtimeTimeoutMs, asked)).then(
      (status) => ({ status }),
      (unreadable: unknown) => ({ status: undefined, unreadable }),
    ),
    service.readiness === 'running' ? undefined : checkReadiness(service, config, readinessTimeoutMs, undefined),
  ])
  const readiness = answered ?? (await checkReadiness(service, config, readinessTimeoutMs, seen.status))
  const running = seen.status?.running ?? false
  const unserved = seen.status && running ? notServing(seen.status, readiness, readinessTimeoutMs) : undefined
  return { service, ...seen, readiness, ...(unserved ? { notServing: unserved } : {}), ready: running && !unserved }
}

export function lookAtServices(services: readonly ServiceConfig[], options: LookOptions): Promise<ServiceLook[]> {
  return Promise.all(services.map((service) => lookAtService(service, options)))
}

/** What its runtime calls the thing that runs a service. */
function runtimeThing(status: ServiceStatus): string {
  return status.runtime === 'docker' ? 'container' : status.runtime === 'systemd' ? 'unit' : 'process'
}

/** What is wrong with a service, in an operator's words after "<name> is", or undefined when it serves. */
export function problemOf(look: ServiceLook): string | undefined {
  const { status } = look
  if (!status) return `state unknown: ${describeError(look.unreadable)}`
  if (!status.found) return `not deployed: no ${runtimeThing(status)} ${status.target}`
  if (!status.running) return status.state
  return look.notServing
}

/**
 * What is wrong with each service that does not serve: one finding per service, and one per
 * reason for services whose runtime could not be read (Docker down is one reason for all of
 * them). A service down or not serving is the platform down in part: critical.
 */
export function serviceFindings(looks: readonly ServiceLook[]): Finding[] {
  const findings: Finding[] = []
  const unreadable = new Map<string, { names: string[]; error: unknown }>()
  for (const look of looks) {
    const { service, status } = look
    const name = service.name
    if (!status) {
      const message = describeError(look.unreadable)
      const entry = unreadable.get(message) ?? { names: [], error: look.unreadable }
      entry.names.push(name)
      unreadable.set(message, entry)
    } else if (!status.found) {
      findings.push({
        id: `service-not-deployed:${name}`,
        severity: 'critical',
        subject: name,
        message: `${name} is ${problemOf(look)}`,
        fix: `deploy it (docker-compose up -d ${name}), or fix services.${name} in the configuration`,
      })
    } else if (!status.running) {
      findings.push({
        id: `service-down:${name}`,
        severity: 'critical',
        subject: name,
        message: `${name} is ${status.state}`,
        fix: `probe-ops recover ${name}`,
      })
    } else if (look.notServing) {
      findings.push({
        id: `service-not-serving:${name}`,
        severity: 'critical',
        subject: name,
        message: `${name} is ${look.notServing}`,
        fix: status.stoppedBySignal ? `resume it: kill -CONT ${status.pid}; or restart it: probe-ops recover ${name}` : `probe-ops recover ${name}`,
      })
    }
  }
  for (const [message, { names, error }] of unreadable) {
    findings.push({
      id: `service-state-unknown:${names.join(',')}`,
      severity: 'high',
      subject: names.join(', '),
      message: `${names.join(', ')}: state unknown: ${message}`,
      fix: hintOf(error) ?? 'check the service runtime',
    })
  }
  return findings
}
