import type { Config } from '../../config/load.js'
import { StepFailure } from '../../errors.js'
import type { ErrorSummary } from '../../logs/errors.js'
import { hintOf } from '../hints.js'
import { readLokiErrors } from '../shared/loki-errors.js'

/**
 * diagnose's log step with loki.url set: the recent errors of every host, one source per job
 * label (management-platform, agents, nginx...) as the guide's Promtail labels them, instead of
 * the local services' logs. Loki not answering fails the step: its logs are not "no errors".
 */
export async function lokiServiceLogs(
  config: Readonly<Config>,
  sinceMs: number,
  timeoutMs: number,
): Promise<{ service: string; read: true; summary: ErrorSummary }[]> {
  try {
    const read = await readLokiErrors(config.loki, { matchers: ['job=~".+"'], sinceMs, timeoutMs, groupOf: (labels) => labels.job ?? '(no job)' })
    // Loki answered without an error line: one source with none, never "no log read".
    if (read.groups.size === 0) return [{ service: 'loki', read: true, summary: { errors: 0, warnings: 0, groups: [] } }]
    return [...read.groups].sort(([a], [b]) => a.localeCompare(b)).map(([service, summary]) => ({ service, read: true as const, summary }))
  } catch (error) {
    throw new StepFailure(`logs not read: ${(error as Error).message}`, hintOf(error))
  }
}
