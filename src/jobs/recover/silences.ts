import type { Config, ServiceConfig } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { createSilence, expireSilence, parseMatcher, type Matcher } from '../../systems/alertmanager.js'
import type { Timeline } from './timeline.js'

/** Splits 'alertname=~"A|B", job="x"' into matchers, commas inside quotes kept. */
export function parseMatcherSet(text: string): Matcher[] | undefined {
  const parts = text.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []
  const matchers = parts.map((p) => parseMatcher(p))
  return matchers.every((m) => m !== undefined) && matchers.length > 0 ? matchers : undefined
}

/**
 * Silences the service's alerts while it is restarted, so the restart pages nobody. A dead
 * AlertManager is noted and the recovery goes on: it is not a reason to leave a service down.
 */
export async function silenceService(config: Config, service: ServiceConfig, durationMs: number, timeline: Timeline): Promise<string[]> {
  const am = { ...config.alertmanager, timeoutMs: Math.min(config.alertmanager.timeoutMs, 3000) }
  const ids: string[] = []
  const sets = service.silences.map((text) => ({ text, matchers: parseMatcherSet(text) }))
  for (const bad of sets.filter((s) => !s.matchers)) timeline.add('silence', `not set: "${bad.text}" is not a matcher set like alertname="X", job="y"`)
  const results = await Promise.allSettled(
    sets.filter((s) => s.matchers).map((s) => createSilence(am, s.matchers!, durationMs, `probe-ops recover ${service.name} on ${config.host}`)),
  )
  for (const result of results) if (result.status === 'fulfilled') ids.push(result.value)
  const failure = results.find((r) => r.status === 'rejected')
  if (failure) timeline.add('silence', `not set: ${describeError(failure.reason)}`)
  if (ids.length > 0) timeline.add('silence', `${ids.length} silences set for ${Math.round(durationMs / 60000)} min: ${service.silences.join('; ')}`)
  return ids
}

export async function liftSilences(config: Config, ids: string[], timeline: Timeline): Promise<void> {
  const am = { ...config.alertmanager, timeoutMs: Math.min(config.alertmanager.timeoutMs, 3000) }
  let lifted = 0
  await Promise.all(
    ids.map(async (id) => {
      try {
        await expireSilence(am, id)
        lifted++
      } catch (error) {
        timeline.add('silence', `silence ${id} not lifted (it expires by itself): ${describeError(error)}`)
      }
    }),
  )
  if (lifted > 0) timeline.add('silence', `${lifted} silences lifted`)
}
