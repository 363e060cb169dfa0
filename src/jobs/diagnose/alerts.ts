import type { Step } from '../../report/runner.js'
import { listFiringAlerts } from '../../systems/alertmanager.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'

export const alertsStep: Step<DiagnoseContext> = {
  id: 'alerts',
  title: 'Firing alerts',
  async run({ config }) {
    const alerts = await listFiringAlerts({ ...config.alertmanager, timeoutMs: config.diagnose.checkTimeoutMs })
    const firing = alerts.map((a) => ({
      alertname: a.labels.alertname ?? '(unnamed)',
      severity: a.labels.severity ?? 'none',
      instance: a.labels.instance,
      summary: a.annotations.summary ?? a.annotations.description,
      startsAt: a.startsAt,
    }))
    const problems: Problem[] = firing.map((a) => ({
      severity: a.severity === 'critical' ? 'failed' : 'warning',
      message: `${a.alertname} (${a.severity})${a.instance ? ` on ${a.instance}` : ''}${a.summary ? `: ${a.summary}` : ''}`,
      next: `see it in AlertManager: ${config.alertmanager.url}/#/alerts`,
    }))
    const details = firing.map((a) => `${a.alertname} ${a.severity} since ${a.startsAt}${a.summary ? `: ${a.summary}` : ''}`)
    return verdict(firing.length === 0 ? 'none firing' : `${firing.length} firing`, details, problems, { alertmanager: config.alertmanager.url, firing })
  },
}
