import { describe, expect, it } from 'vitest'
import { startAlertmanager, startHangingServer, startRefusedPort } from '../bed/index.js'
import { loadConfig } from '../../src/config/load.js'
import { alertTest } from '../../src/jobs/alert-test/spec.js'
import { parseReport, runCli, runRecords, writeConfig } from '../helpers/cli.js'
import { runJobInProcess } from '../helpers/job.js'

describe('probe-ops alert test against a real AlertManager', () => {
  it('sends, sees and resolves a test alert', async () => {
    const am = await startAlertmanager()
    try {
      const { path } = writeConfig({ host: 'alert-test', alertmanager: { url: am.info.url } })
      const result = await runCli(['alert', 'test', '--config', path, '--json'])
      const report = parseReport(result)
      expect(result.exitCode, result.stdout).toBe(0)
      expect(report.steps.map((s) => [s.id, s.status])).toEqual([
        ['send', 'ok'],
        ['confirm', 'ok'],
        ['resolve', 'ok'],
      ])
      expect(report.alerts).toEqual([{ alertname: 'ProbeOpsTestAlert', severity: 'info', delivered: true }])
      const active = (await (await fetch(`${am.info.url}/api/v2/alerts?active=true`)).json()) as { labels: { alertname: string } }[]
      expect(active.filter((a) => a.labels.alertname === 'ProbeOpsTestAlert')).toEqual([])
    } finally {
      await am.stop()
    }
  })

  it('runs in the test process as the CLI runs it, against the same AlertManager', async () => {
    const am = await startAlertmanager()
    try {
      const { path } = writeConfig({ host: 'in-process', alertmanager: { url: am.info.url } })
      const report = await runJobInProcess(alertTest, loadConfig(path, {}), { severity: 'warning' })
      expect(report.steps.map((s) => [s.id, s.status])).toEqual([
        ['send', 'ok'],
        ['confirm', 'ok'],
        ['resolve', 'ok'],
      ])
      expect(report).toMatchObject({
        command: 'alert test',
        host: 'in-process',
        alerts: [{ alertname: 'ProbeOpsTestAlert', severity: 'warning', delivered: true }],
      })
      expect(report.steps[1]!.data).toEqual({ state: 'active' })
    } finally {
      await am.stop()
    }
  })

  it('warns, with a finding that says why and what to do, when AlertManager silences the test alert', async () => {
    const am = await startAlertmanager()
    try {
      const now = Date.now()
      const silence = await fetch(`${am.info.url}/api/v2/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          matchers: [{ name: 'alertname', value: 'ProbeOpsTestAlert', isRegex: false, isEqual: true }],
          startsAt: new Date(now - 60_000).toISOString(),
          endsAt: new Date(now + 3_600_000).toISOString(),
          createdBy: 'alert-test.test.ts',
          comment: 'a site that silenced its test alerts',
        }),
      })
      expect(silence.status).toBe(200)
      const { path, dir } = writeConfig({ alertmanager: { url: am.info.url } })
      const result = await runCli(['alert', 'test', '--config', path, '--json'])
      expect(result.exitCode, result.stdout).toBe(0)
      const confirm = parseReport(result).steps[1]!
      expect(confirm).toMatchObject({
        id: 'confirm',
        status: 'warning',
        data: { state: 'suppressed' },
        findings: [{ id: 'alert-suppressed:ProbeOpsTestAlert', severity: 'medium', subject: 'ProbeOpsTestAlert', fix: expect.stringMatching(/silences/) }],
        error: { message: expect.stringMatching(/silenced or inhibited/), hint: expect.stringMatching(/silences/) },
      })
      expect(runRecords(dir, 'alert test').metrics).toContain('probe_ops_step_findings{job="alert test",step="confirm",severity="medium"} 1')
      expect(runRecords(dir, 'alert test').log.find((line) => line.step === 'confirm')).toMatchObject({ level: 'warning', findings: { medium: 1 } })

      const text = await runCli(['alert', 'test', '--config', path, '--fail-on', 'warning'])
      expect(text.exitCode).toBe(1)
      expect(text.stdout).toMatch(
        /! confirm +listed as suppressed after \d+ ms .*\n {4}! medium: AlertManager silenced or inhibited the test alert.*\n {6}→ check AlertManager's silences/,
      )
    } finally {
      await am.stop()
    }
  })

  it('fails with one clear line when AlertManager refuses or hangs', async () => {
    const refused = await startRefusedPort()
    const down = writeConfig({ alertmanager: { url: `http://127.0.0.1:${refused}` } })
    const result = await runCli(['alert', 'test', '--config', down.path, '--json'])
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    expect(report.steps[0]).toMatchObject({ status: 'failed', summary: expect.stringMatching(/refused the connection/) })
    expect(report.steps.slice(1).map((s) => s.status)).toEqual(['skipped', 'skipped'])

    const hung = await startHangingServer()
    try {
      const slow = writeConfig({ alertmanager: { url: hung.url, timeoutSeconds: 1 } })
      const bounded = await runCli(['alert', 'test', '--config', slow.path, '--json'])
      expect(bounded.exitCode).toBe(1)
      expect(parseReport(bounded).steps[0]!.summary).toMatch(/did not answer within 1000 ms/)
    } finally {
      await hung.close()
    }
  })
})
