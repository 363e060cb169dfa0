import { UsageError } from '../errors.js'

/**
 * Checks --only/--skip against a job's step ids and says which steps run. An unknown id is the
 * user's mistake (exit 2), told with the ids there are.
 */
export function selectSteps(ids: readonly string[], only: readonly string[] = [], skip: readonly string[] = [], command: string): Set<string> {
  const unknown = [...only, ...skip].filter((id) => !ids.includes(id))
  if (unknown.length > 0) {
    throw new UsageError(`unknown step "${unknown[0]}" for ${command}`, `steps are: ${ids.join(', ')}`, 'unknown-step')
  }
  return new Set(ids.filter((id) => (only.length === 0 || only.includes(id)) && !skip.includes(id)))
}
