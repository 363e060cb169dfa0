import { randomUUID } from 'node:crypto'
import type { Config } from '../../config/load.js'
import { StepFailure } from '../../errors.js'
import { sleep } from '../../lib/time.js'
import type { Job, Step } from '../../report/runner.js'
import { alertmanagerApi, postAlerts, type FiringAlert } from '../../systems/alertmanager.js'

interface AlertTestContext {
  config: Config
  /** Tells this run's test alert from every other. */
  testId: string
  severity: string
}

const NAME = 'ProbeOpsTestAlert'

function labels(context: AlertTestContext): Record<string, string> {
  return { alertname: NAME, severity: context.severity, instance: context.config.host, job: 'probe-ops', test_id: context.testId }
}

const send: Step<AlertTestContext> = {
  id: 'send',
  title: 'Send a test alert to AlertManager (API v2)',
  async run(context, run) {
    const am = context.config.alertmanager
    if (run.dryRun) return { summary: `would post ${NAME} to ${am.url}/api/v2/alerts` }
    await postAlerts(am, [
      {
        labels: labels(context),
        annotations: { summary: 'probe-ops alert test: delivery works', description: 'Sent by `probe-ops alert test`; it resolves by itself.' },
        startsAt: new Date().toISOString(),
        endsAt: new Date(Date.now() + 10 * 60_000).toISOString(),
      },
    ])
    run.recordAlert({ alertname: NAME, severity: context.severity, delivered: true })
    return { summary: `posted ${NAME} (test_id ${context.testId})`, data: { testId: context.testId, url: am.url } }
  },
}

const confirm: Step<AlertTestContext> = {
  id: 'confirm',
  title: 'See it active in AlertManager',
  async run(context, run) {
    if (run.dryRun) return { summary: 'would wait until AlertManager lists it as active' }
    const am = context.config.alertmanager
    const filter = encodeURIComponent(`test_id="${context.testId}"`)
    const started = Date.now()
    while (Date.now() - started < 10_000 && !run.signal.aborted) {
      const alerts = await alertmanagerApi<FiringAlert[]>(am, `/alerts?filter=${filter}`)
      const ours = alerts.find((a) => a.labels.test_id === context.testId)
      if (ours) {
        const state = ours.status.state
        return {
          summary: `listed as ${state} after ${Date.now() - started} ms${state === 'suppressed' ? ' (silenced or inhibited: it would not notify)' : ''}`,
          status: state === 'suppressed' ? 'warning' : 'ok',
          data: { state },
        }
      }
      await sleep(200)
    }
    throw new StepFailure('AlertManager accepted the alert but does not list it', "check AlertManager's log; is it the instance you meant (alertmanager.url)?")
  },
}

const resolve: Step<AlertTestContext> = {
  id: 'resolve',
  title: 'Resolve the test alert',
  async run(context, run) {
    if (run.dryRun) return { summary: 'would resolve it' }
    const now = new Date().toISOString()
    await postAlerts(context.config.alertmanager, [
      { labels: labels(context), annotations: { summary: 'probe-ops alert test: resolved' }, startsAt: now, endsAt: now },
    ])
    return { summary: 'resolved' }
  },
}

/** `alert test`: the guide's curl to AlertManager, end to end: sent, seen active, resolved. */
export function alertTestJob(config: Config, severity: string): { job: Job<AlertTestContext>; context: AlertTestContext } {
  return {
    job: { command: 'alert test', concurrent: false, stopOnFailure: true, steps: [send, confirm, resolve] },
    context: { config, testId: randomUUID(), severity },
  }
}
