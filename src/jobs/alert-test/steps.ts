import { StepFailure } from '../../errors.js'
import { sleep } from '../../lib/time.js'
import type { StepDefinition } from '../../report/outcome.js'
import { alertmanagerApi, postAlerts, type FiringAlert } from '../../systems/alertmanager.js'
import { TEST_ALERT, type AlertTestContext } from './context.js'
import type { ConfirmData, ResolveData, SendData } from './data.js'

/** How long AlertManager may take to list an alert it accepted. */
const LISTED_WITHIN_MS = 10_000

function labels(context: AlertTestContext): Record<string, string> {
  return { alertname: TEST_ALERT, severity: context.severity, instance: context.config.host, job: 'probe-ops', test_id: context.testId }
}

export const send: StepDefinition<AlertTestContext, SendData> = {
  async run(context, run) {
    const am = context.config.alertmanager
    if (run.dryRun) return { summary: `would post ${TEST_ALERT} to ${am.url}/api/v2/alerts` }
    await postAlerts(am, [
      {
        labels: labels(context),
        annotations: { summary: 'probe-ops alert test: delivery works', description: 'Sent by `probe-ops alert test`; it resolves by itself.' },
        startsAt: new Date().toISOString(),
        endsAt: new Date(Date.now() + 10 * 60_000).toISOString(),
      },
    ])
    run.recordAlert({ alertname: TEST_ALERT, severity: context.severity, delivered: true })
    return { summary: `posted ${TEST_ALERT} (test_id ${context.testId})`, data: { testId: context.testId, url: am.url } }
  },
}

export const confirm: StepDefinition<AlertTestContext, ConfirmData> = {
  async run(context, run) {
    if (run.dryRun) return { summary: 'would wait until AlertManager lists it as active' }
    const am = context.config.alertmanager
    const filter = encodeURIComponent(`test_id="${context.testId}"`)
    const started = Date.now()
    while (Date.now() - started < LISTED_WITHIN_MS && !run.signal.aborted) {
      const alerts = await alertmanagerApi<FiringAlert[]>(am, `/alerts?filter=${filter}`)
      const ours = alerts.find((a) => a.labels.test_id === context.testId)
      if (ours) {
        const state = ours.status.state as ConfirmData['state']
        const suppressed = state === 'suppressed'
        return {
          summary: `listed as ${state} after ${Date.now() - started} ms${suppressed ? ' (silenced or inhibited: it would not notify)' : ''}`,
          findings: suppressed
            ? [
                {
                  id: `alert-suppressed:${TEST_ALERT}`,
                  severity: 'medium',
                  subject: TEST_ALERT,
                  message: 'AlertManager silenced or inhibited the test alert: alerts like it would not notify anyone',
                  fix: "check AlertManager's silences and inhibit rules (amtool silence query; amtool config routes test)",
                },
              ]
            : [],
          data: { state },
        }
      }
      await sleep(200)
    }
    throw new StepFailure('AlertManager accepted the alert but does not list it', "check AlertManager's log; is it the instance you meant (alertmanager.url)?")
  },
}

export const resolve: StepDefinition<AlertTestContext, ResolveData> = {
  async run(context, run) {
    if (run.dryRun) return { summary: 'would resolve it' }
    const now = new Date().toISOString()
    await postAlerts(context.config.alertmanager, [
      { labels: labels(context), annotations: { summary: 'probe-ops alert test: resolved' }, startsAt: now, endsAt: now },
    ])
    return { summary: 'resolved' }
  },
}
