/**
 * What the monitoring stack's own answers mean: pure, so that each verdict is tested without the
 * stack. Every finding names what to fix: a target's exporter, a rule's file, a receiver.
 */

import { load } from 'js-yaml'
import { GUIDE_ALERT_RULES } from '../../local-platform/guide-rules.js'
import { plural } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'
import type { RuleGroup, ScrapeTarget } from '../../systems/prometheus.js'

/** The alert names of the guide's rules file (network-probe.yml). */
export const GUIDE_ALERTS: readonly string[] = [...GUIDE_ALERT_RULES.matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]!)

/** Targets shown per job in a finding. */
const NAMED = 5

/** One finding per job with targets down: all of a job down is high, some of them medium. */
export function targetFindings(targets: readonly ScrapeTarget[], prometheusUrl: string): Finding[] {
  const byJob = new Map<string, ScrapeTarget[]>()
  for (const target of targets) byJob.set(target.job, [...(byJob.get(target.job) ?? []), target])
  const findings: Finding[] = []
  for (const [job, all] of [...byJob].sort(([a], [b]) => a.localeCompare(b))) {
    const down = all.filter((t) => t.health === 'down')
    if (down.length === 0) continue
    const named = down.slice(0, NAMED).map((t) => `${t.labels.agent_id ?? t.instance} (${t.lastError || 'no error given'})`)
    findings.push({
      id: `scrape-targets-down:${job}`,
      severity: down.length === all.length ? 'high' : 'medium',
      subject: job,
      message: `${down.length} of ${plural(all.length, 'target')} of job ${job} down: ${named.join('; ')}${down.length > NAMED ? `, and ${down.length - NAMED} more` : ''}`,
      fix: `start or repair the exporter at each address (curl http://${down[0]!.instance}/metrics), or remove it from prometheus.yml; Prometheus lists them at ${prometheusUrl}/targets`,
    })
  }
  return findings
}

/** No rules, rules whose evaluation fails, and the guide's alerts that are not loaded. */
export function ruleFindings(groups: readonly RuleGroup[]): Finding[] {
  if (groups.length === 0)
    return [
      {
        id: 'rules-none',
        severity: 'high',
        message: 'Prometheus has no rule groups loaded: no alert can fire',
        fix: "load the guide's rules: rule_files: [rules/network-probe.yml] in prometheus.yml, then reload Prometheus (curl -X POST http://PROMETHEUS/-/reload)",
      },
    ]
  const findings: Finding[] = []
  for (const group of groups) {
    for (const rule of group.rules.filter((r) => r.health === 'err')) {
      findings.push({
        id: `rule-failing:${group.name}:${rule.name}`,
        severity: 'high',
        subject: rule.name,
        message: `rule ${rule.name} (group ${group.name}) fails to evaluate: ${rule.lastError ?? 'no error given'}`,
        fix: `fix its expression in ${group.file || 'its rules file'} (promtool check rules; promtool test rules), then reload Prometheus`,
      })
    }
  }
  const loaded = new Set(groups.flatMap((g) => g.rules.filter((r) => r.type === 'alerting').map((r) => r.name)))
  const missing = GUIDE_ALERTS.filter((name) => !loaded.has(name))
  if (missing.length > 0)
    findings.push({
      id: 'guide-rules-missing',
      severity: 'medium',
      message: `${plural(missing.length, "of the guide's alert rules", "of the guide's alert rules")} not loaded: ${missing.join(', ')}`,
      fix: 'add deployment/monitoring/rules/network-probe.yml to rule_files in prometheus.yml, then reload Prometheus',
    })
  return findings
}

export interface ExporterState {
  name: 'node' | 'postgres' | 'redis'
  job: string
  /** Its targets, as Prometheus lists them. */
  targets: readonly ScrapeTarget[]
  /** pg_up / redis_up of an up exporter: whether it reaches its server. */
  reaches?: boolean
}

const EXPORTER_SERVER = { node: 'the host', postgres: 'PostgreSQL', redis: 'Redis' } as const

/** An exporter not scraped, down, or up but without its server. */
export function exporterFindings(exporters: readonly ExporterState[]): Finding[] {
  const findings: Finding[] = []
  for (const exporter of exporters) {
    const key = `monitoring.${exporter.name}ExporterJob`
    if (exporter.targets.length === 0) {
      findings.push({
        id: `exporter-not-scraped:${exporter.name}`,
        severity: 'medium',
        subject: `${exporter.name}_exporter`,
        message: `Prometheus scrapes no ${exporter.name}_exporter: no target in job ${exporter.job}`,
        fix: `add the ${exporter.name}_exporter to prometheus.yml as job ${exporter.job}, or set ${key} to the job it has ('' to check none)`,
      })
    } else if (exporter.targets.every((t) => t.health !== 'up')) {
      const target = exporter.targets[0]!
      findings.push({
        id: `exporter-down:${exporter.name}`,
        severity: 'high',
        subject: `${exporter.name}_exporter`,
        message: `the ${exporter.name}_exporter (job ${exporter.job}, ${target.instance}) is down: ${target.lastError || 'not scraped yet'}`,
        fix: `start it (systemctl start prometheus-${exporter.name}-exporter) and check curl http://${target.instance}/metrics`,
      })
    } else if (exporter.reaches === false) {
      findings.push({
        id: `exporter-blind:${exporter.name}`,
        severity: 'high',
        subject: `${exporter.name}_exporter`,
        message: `the ${exporter.name}_exporter (job ${exporter.job}) is up but does not reach ${EXPORTER_SERVER[exporter.name]} (${exporter.name}_up 0)`,
        fix: `check its connection settings to ${EXPORTER_SERVER[exporter.name]} (address, user, password file) and that ${EXPORTER_SERVER[exporter.name]} runs`,
      })
    }
  }
  return findings
}

export interface Receiver {
  name: string
  /** email, webhook, slack...: the notifiers it has. */
  integrations: string[]
}

/** The receivers of AlertManager's running configuration (the YAML /api/v2/status returns). */
export function receiversOf(configYaml: string): { receivers: Receiver[]; route?: string } {
  const parsed = (load(configYaml) ?? {}) as { route?: { receiver?: string }; receivers?: Record<string, unknown>[] }
  const receivers = (parsed.receivers ?? []).map((r) => ({
    name: typeof r.name === 'string' ? r.name : '',
    integrations: Object.entries(r)
      .filter(([key, value]) => key.endsWith('_configs') && Array.isArray(value) && value.length > 0)
      .map(([key]) => key.replace(/_configs$/, '')),
  }))
  return { receivers, ...(parsed.route?.receiver ? { route: parsed.route.receiver } : {}) }
}

/** No receivers, or a default route whose receiver notifies nobody. */
export function receiverFindings(receivers: readonly Receiver[], route: string | undefined): Finding[] {
  const fix = 'add an email_configs or webhook_configs entry to the receiver in alertmanager.yml, then reload AlertManager (amtool check-config first)'
  if (receivers.every((r) => r.integrations.length === 0))
    return [
      {
        id: 'alertmanager-no-receivers',
        severity: 'medium',
        message: `AlertManager notifies nobody: ${receivers.length === 0 ? 'no receivers' : `receivers ${receivers.map((r) => r.name).join(', ')} have no notifier`}`,
        fix,
      },
    ]
  const fallback = receivers.find((r) => r.name === route)
  if (fallback && fallback.integrations.length === 0)
    return [
      {
        id: `alertmanager-silent-route:${fallback.name}`,
        severity: 'low',
        subject: fallback.name,
        message: `AlertManager's default route goes to receiver ${fallback.name}, which notifies nobody: alerts no other route takes are dropped`,
        fix,
      },
    ]
  return []
}

/** A part of the stack that did not answer at all: high, with the error's own hint when there is one. */
export function unreachableFinding(component: 'prometheus' | 'alertmanager' | 'loki', message: string, hint: string | undefined): Finding {
  return { id: `${component}-unreachable`, severity: 'high', subject: component, message, fix: hint ?? `check ${component}.url` }
}

const NOT_READY_FIX = {
  prometheus: (timedOut: boolean) =>
    timedOut
      ? 'it takes connections but does not answer: check its load and log, or raise prometheus.timeoutSeconds'
      : "start Prometheus (systemctl start prometheus), or set prometheus.url to '' to leave it out",
  alertmanager: () => 'start AlertManager (systemctl start prometheus-alertmanager), or fix alertmanager.url / ALERTMANAGER_URL',
  loki: () => 'wait a moment after a start (Loki takes ~15 s), else read its log',
} as const

/** A part that answered but says it is not ready (GET /-/ready, Loki's /ready): high, it serves nothing yet. */
export function notReadyFinding(component: keyof typeof NOT_READY_FIX, message: string, timedOut = false): Finding {
  return { id: `${component}-not-ready`, severity: 'high', subject: component, message, fix: NOT_READY_FIX[component](timedOut) }
}
