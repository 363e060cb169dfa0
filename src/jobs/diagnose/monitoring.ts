import type { Config, HttpApiConfig } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { redactUrl } from '../../lib/redact.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { alertmanagerStatus } from '../../systems/alertmanager.js'
import { probeHttp } from '../../systems/http.js'
import { lokiReadiness } from '../../systems/loki.js'
import { queryInstant, ruleGroups, scrapeTargets, type PrometheusConfig, type ScrapeTarget } from '../../systems/prometheus.js'
import { hintOf } from '../hints.js'
import {
  exporterFindings,
  notReadyFinding,
  receiverFindings,
  receiversOf,
  ruleFindings,
  targetFindings,
  unreachableFinding,
  type ExporterState,
} from './monitoring-findings.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { MonitoringData } from './data.js'

/**
 * diagnose's look at the monitoring stack itself: Prometheus (ready, targets down, rules loaded
 * and evaluating, the guide's alerts, the exporters), AlertManager (ready, receivers) and Loki
 * (ready). Each part is read at once and bounded; a part that does not answer is a finding of
 * its own, and the others are still seen.
 */

type Component = 'prometheus' | 'alertmanager' | 'loki'

interface Part<D> {
  findings: Finding[]
  details: string[]
  data: D
}

const EXPORTERS = [
  { name: 'node', key: 'nodeExporterJob', up: undefined },
  { name: 'postgres', key: 'postgresExporterJob', up: 'pg_up' },
  { name: 'redis', key: 'redisExporterJob', up: 'redis_up' },
] as const

async function exporterStates(config: Readonly<Config>, prometheus: PrometheusConfig, targets: readonly ScrapeTarget[]): Promise<ExporterState[]> {
  const wanted = EXPORTERS.filter((e) => config.monitoring[e.key] !== '')
  return Promise.all(
    wanted.map(async ({ name, key, up }) => {
      const job = config.monitoring[key]
      const mine = targets.filter((t) => t.job === job)
      if (!up || !mine.some((t) => t.health === 'up')) return { name, job, targets: mine }
      const answer = await queryInstant(prometheus, `max(${up}{job=${JSON.stringify(job)}})`)
      return { name, job, targets: mine, ...(answer[0] ? { reaches: answer[0].value === 1 } : {}) }
    }),
  )
}

/** GET /-/ready of Prometheus or AlertManager: nothing when ready, else the part that says it is not. */
async function readiness(
  component: 'prometheus' | 'alertmanager',
  name: string,
  api: { url: string; timeoutMs: number; credentials?: HttpApiConfig['credentials'] },
): Promise<Part<{ url: string; ready: false; error: string }> | undefined> {
  const url = redactUrl(api.url)
  const ready = await probeHttp(`${api.url}/-/ready`, api.timeoutMs, api.credentials)
  if (ready.ok) return undefined
  const message = `${name} at ${url} is not ready: ${ready.error ?? `HTTP ${ready.status}`}`
  return { findings: [notReadyFinding(component, message, ready.timedOut === true)], details: [message], data: { url, ready: false, error: message } }
}

async function checkPrometheus(config: Readonly<Config>, timeoutMs: number): Promise<Part<MonitoringData['prometheus']>> {
  const prometheus = { ...config.prometheus, timeoutMs: Math.min(config.prometheus.timeoutMs, timeoutMs) }
  const url = redactUrl(prometheus.url)
  const notReady = await readiness('prometheus', 'Prometheus', prometheus)
  if (notReady) return notReady
  const [targets, groups] = await Promise.all([scrapeTargets(prometheus), ruleGroups(prometheus)])
  const exporters = await exporterStates(config, prometheus, targets)
  const down = targets.filter((t) => t.health === 'down')
  const failing = groups.flatMap((g) => g.rules.filter((r) => r.health === 'err').map((r) => ({ group: g.name, rule: r.name, error: r.lastError ?? '' })))
  const rules = groups.reduce((sum, g) => sum + g.rules.length, 0)
  const findings = [...targetFindings(targets, url), ...ruleFindings(groups), ...exporterFindings(exporters)]
  const exporterData = exporters.map((e) => ({
    name: e.name,
    job: e.job,
    state: e.targets.length === 0 ? ('absent' as const) : e.targets.some((t) => t.health === 'up') ? ('up' as const) : ('down' as const),
    ...(e.reaches !== undefined ? { reaches: e.reaches } : {}),
  }))
  return {
    findings,
    details: [
      `Prometheus ${url}: ready, ${targets.length - down.length} of ${targets.length} targets up, ${groups.length} rule groups (${rules} rules, ${failing.length} failing)`,
      ...exporterData.map((e) => `${e.name}_exporter (job ${e.job}): ${e.state}${e.reaches === false ? ', does not reach its server' : ''}`),
    ],
    data: {
      url,
      ready: true,
      targets: targets.length,
      downTargets: down.map((t) => ({ job: t.job, instance: t.instance, error: t.lastError })),
      ruleGroups: groups.length,
      rules,
      failingRules: failing,
      exporters: exporterData,
    },
  }
}

async function checkAlertmanager(config: Readonly<Config>, timeoutMs: number): Promise<Part<MonitoringData['alertmanager']>> {
  const alertmanager = { ...config.alertmanager, timeoutMs: Math.min(config.alertmanager.timeoutMs, timeoutMs) }
  const url = redactUrl(alertmanager.url)
  const notReady = await readiness('alertmanager', 'AlertManager', alertmanager)
  if (notReady) return notReady
  const status = await alertmanagerStatus(alertmanager)
  const { receivers, route } = receiversOf(status.configYaml)
  return {
    findings: receiverFindings(receivers, route),
    details: [
      `AlertManager ${url}: ready${status.version ? `, ${status.version}` : ''}, receivers ${receivers.map((r) => `${r.name} (${r.integrations.join(', ') || 'no notifier'})`).join(', ') || 'none'}`,
    ],
    data: { url, ready: true, receivers },
  }
}

async function checkLoki(config: Readonly<Config>, timeoutMs: number): Promise<Part<MonitoringData['loki']>> {
  const url = redactUrl(config.loki.url)
  const readiness = await lokiReadiness({ ...config.loki, timeoutMs: Math.min(config.loki.timeoutMs, timeoutMs) })
  const findings = readiness.ready ? [] : [notReadyFinding('loki', `Loki at ${url} is not ready: ${readiness.detail}`)]
  return {
    findings,
    details: [`Loki ${url}: ${readiness.ready ? 'ready' : `not ready (${readiness.detail})`}`],
    data: { url, ready: readiness.ready, detail: readiness.detail },
  }
}

/** A part that threw: its finding, and the data that says it was not read. */
async function guarded<D>(component: Component, url: string, work: () => Promise<Part<D>>): Promise<Part<D | { url: string; ready: false; error: string }>> {
  try {
    return await work()
  } catch (error) {
    const finding = unreachableFinding(component, describeError(error), hintOf(error))
    return { findings: [finding], details: [finding.message], data: { url: redactUrl(url), ready: false, error: finding.message } }
  }
}

export const monitoring: StepDefinition<DiagnoseContext, MonitoringData> = {
  timeoutMs: (context) => checkBound(context) + context.checkTimeoutMs,
  async run({ config, checkTimeoutMs }) {
    // No Prometheus is the user's choice: not a check that failed, and not one that passed.
    if (!config.prometheus.url) return { skipped: true, summary: 'not configured: prometheus.url is empty' }
    const [prometheus, alertmanager, loki] = await Promise.all([
      guarded('prometheus', config.prometheus.url, () => checkPrometheus(config, checkTimeoutMs)),
      guarded('alertmanager', config.alertmanager.url, () => checkAlertmanager(config, checkTimeoutMs)),
      config.loki.url ? guarded('loki', config.loki.url, () => checkLoki(config, checkTimeoutMs)) : undefined,
    ])
    const parts = [prometheus, alertmanager, loki].filter((p) => p !== undefined)
    const findings = parts.flatMap((p) => p.findings)
    const problems = findings.filter((f) => f.severity !== 'info').length
    return {
      summary: `Prometheus, AlertManager${loki ? ', Loki' : ''} checked: ${problems === 0 ? 'all well' : `${findings.length} to fix`}${loki ? '' : "; not checked: Loki (loki.url is '')"}`,
      findings,
      details: parts.flatMap((p) => p.details),
      data: { prometheus: prometheus.data, alertmanager: alertmanager.data, ...(loki ? { loki: loki.data } : {}) },
    }
  },
}
