import type { StepDefinition } from '../../report/outcome.js'
import { listFiringAlerts } from '../../systems/alertmanager.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { AlertsData } from './data.js'
import { alertFindings } from './findings.js'

export const alerts: StepDefinition<DiagnoseContext, AlertsData> = {
  timeoutMs: checkBound,
  async run({ config, checkTimeoutMs }) {
    const listed = await listFiringAlerts({ ...config.alertmanager, timeoutMs: checkTimeoutMs })
    const firing = listed.map((a) => ({
      labels: a.labels,
      alertname: a.labels.alertname ?? '(unnamed)',
      severity: a.labels.severity ?? 'none',
      instance: a.labels.instance,
      summary: a.annotations.summary ?? a.annotations.description,
      startsAt: a.startsAt,
    }))
    return {
      summary: firing.length === 0 ? 'none firing' : `${firing.length} firing`,
      findings: alertFindings(firing, config.alertmanager.url),
      details: firing.map((a) => `${a.alertname} ${a.severity} since ${a.startsAt}${a.summary ? `: ${a.summary}` : ''}`),
      data: { alertmanager: config.alertmanager.url, firing: firing.map(({ labels: _labels, ...alert }) => alert) },
    }
  },
}
