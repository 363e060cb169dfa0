import type { Config } from '../config/load.js'
import { describeError } from '../errors.js'
import { alertmanagerApi, postAlerts, type FiringAlert } from './alertmanager.js'

/**
 * Keeps AlertManager in line with what a step found: an alert that should fire is pushed
 * (with an endsAt, so it resolves by itself if probe-ops stops running), and one of ours that
 * is active but no longer true is resolved. Delivery failures are recorded, never thrown: a
 * dead AlertManager must not stop maintenance.
 */
export interface AlertState {
  alertname: string
  severity: string
  /** Labels that tell this alert from its siblings (path, service). */
  labels: Record<string, string>
  summary: string
  firing: boolean
}

/** What became of one alert: the report records it as it is (its AlertRecord has this shape; systems import nothing of the report). */
export interface AlertDelivery {
  alertname: string
  severity: string
  delivered: boolean
  /** A resolving post: the condition is gone. */
  resolved?: boolean
  /** Why delivery failed, when it did. */
  error?: string
}

export async function syncAlerts(config: Config, states: AlertState[], record: (alert: AlertDelivery) => void): Promise<void> {
  if (states.length === 0) return
  const am = config.alertmanager
  const now = new Date()
  const labelsOf = (s: AlertState) => ({ alertname: s.alertname, severity: s.severity, instance: config.host, job: 'probe-ops', ...s.labels })

  let active: FiringAlert[] | undefined
  const toResolve = states.filter((s) => !s.firing)
  if (toResolve.length > 0) {
    const names = [...new Set(toResolve.map((s) => s.alertname))]
    try {
      const filter = [`job="probe-ops"`, `instance="${config.host}"`, `alertname=~"${names.join('|')}"`].map((f) => `filter=${encodeURIComponent(f)}`).join('&')
      active = await alertmanagerApi<FiringAlert[]>(am, `/alerts?active=true&${filter}`)
    } catch {
      active = undefined
    }
  }
  const isActive = (s: AlertState) => {
    const wanted = labelsOf(s)
    return active?.some((a) => Object.entries(wanted).every(([k, v]) => a.labels[k] === v)) ?? false
  }

  const outgoing = states
    .filter((s) => s.firing || isActive(s))
    .map((s) => ({
      state: s,
      alert: {
        labels: labelsOf(s),
        annotations: { summary: s.summary },
        startsAt: now.toISOString(),
        endsAt: s.firing ? new Date(now.getTime() + config.alerts.ttlHours * 3_600_000).toISOString() : now.toISOString(),
      },
    }))
  if (outgoing.length === 0) return
  try {
    await postAlerts(
      am,
      outgoing.map((o) => o.alert),
    )
    for (const o of outgoing)
      record({ alertname: o.state.alertname, severity: o.state.severity, delivered: true, ...(o.state.firing ? {} : { resolved: true }) })
  } catch (error) {
    for (const o of outgoing)
      record({
        alertname: o.state.alertname,
        severity: o.state.severity,
        delivered: false,
        error: describeError(error),
        ...(o.state.firing ? {} : { resolved: true }),
      })
  }
}
