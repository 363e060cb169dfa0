import type { ServiceConfig } from '../../config/load.js'
import { UsageError } from '../../errors.js'

/**
 * The services a recovery touches, dependencies first: the targets and, transitively, what
 * they depend on (the guide restarts postgres when management cannot reach the database).
 */
export function recoveryOrder(services: readonly ServiceConfig[], targets: readonly string[]): ServiceConfig[] {
  const byName = new Map(services.map((s) => [s.name, s]))
  const unknown = targets.filter((t) => !byName.has(t))
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown service "${unknown[0]}"`,
      `known services: ${services.map((s) => s.name).join(', ')} (configure more under services:)`,
      'unknown-service',
    )
  }
  const ordered: ServiceConfig[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting')
      throw new UsageError(`services depend on each other in a circle: ${[...path, name].join(' -> ')}`, 'fix dependsOn in the configuration')
    state.set(name, 'visiting')
    const service = byName.get(name)!
    for (const dependency of service.dependsOn) visit(dependency, [...path, name])
    state.set(name, 'done')
    ordered.push(service)
  }
  for (const target of targets.length > 0 ? targets : services.map((s) => s.name)) visit(target, [])
  return ordered
}
