import { describe, expect, it } from 'vitest'
import { maintenanceLogLines } from '../../src/report/maintenance-log.js'
import { readFileSync } from 'node:fs'
import { renderMetrics, writeMetrics } from '../../src/report/metrics.js'
import { StepFailure } from '../../src/errors.js'
import type { Finding, Report, StepResult } from '../../src/report/model.js'
import { failedResult, resultOf } from '../../src/report/step-result.js'
import { renderReportText } from '../../src/report/text.js'
import { tempDir } from '../helpers/temp.js'

const report: Report = {
  schemaVersion: 1,
  command: 'maintain daily',
  version: '0.1.0',
  host: 'probe-01',
  startedAt: '2026-11-25T03:00:00.000Z',
  finishedAt: '2026-11-25T03:00:02.000Z',
  durationMs: 2000,
  status: 'failed',
  dryRun: false,
  steps: [
    { id: 'vacuum', title: 'Vacuum', status: 'ok', durationMs: 1500, summary: 'vacuumed 4 tables' },
    { id: 'disk', title: 'Disk', status: 'failed', durationMs: 10, summary: 'disk / 95% full', error: { message: 'disk / 95% full', hint: 'free space' } },
    { id: 'stats-reset', title: 'Stats', status: 'skipped', durationMs: 0, summary: 'chosen by --skip' },
  ],
  alerts: [{ alertname: 'DiskSpaceCritical', severity: 'critical', delivered: false, error: 'refused' }],
}

describe('report renderings', () => {
  it('writes one JSON log line per step, per alert and for the job, with the Promtail fields', () => {
    const lines = maintenanceLogLines(report).map((l) => JSON.parse(l))
    expect(lines).toHaveLength(5)
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(['timestamp', 'level', 'message', 'module']))
    expect(lines.map((l) => l.level)).toEqual(['info', 'error', 'info', 'error', 'error'])
    expect(lines[3]).toMatchObject({ alertname: 'DiskSpaceCritical', delivered: false, message: 'alert DiskSpaceCritical (critical) not delivered: refused' })
    expect(lines[1]).toMatchObject({ module: 'probe-ops.maintain.daily', step: 'disk', status: 'failed' })
  })

  it('renders Prometheus text format', () => {
    const text = renderMetrics(report)
    expect(text).toContain('probe_ops_job_status{job="maintain daily"} 2')
    expect(text).toContain('probe_ops_step_status{job="maintain daily",step="stats-reset"} -1')
    expect(text).toContain('probe_ops_step_duration_seconds{job="maintain daily",step="vacuum"} 1.5')
    expect(text).not.toContain('last_success')
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} -?[\d.e+]+)$/)
  })

  it('keeps the last success time through failed runs, so a "no success for a day" alert can fire', async () => {
    const dir = tempDir('po-metrics')
    const ok: Report = { ...report, status: 'ok', finishedAt: '2026-11-24T03:00:02.000Z' }
    const okAt = Date.parse(ok.finishedAt) / 1000
    const path = await writeMetrics(dir, ok)
    expect(readFileSync(path, 'utf8')).toContain(`probe_ops_job_last_success_timestamp_seconds{job="maintain daily"} ${okAt}`)
    for (const night of ['2026-11-25T03:00:02.000Z', '2026-11-26T03:00:02.000Z']) {
      await writeMetrics(dir, { ...report, finishedAt: night })
      const text = readFileSync(path, 'utf8')
      expect(text).toContain(`probe_ops_job_last_success_timestamp_seconds{job="maintain daily"} ${okAt}`)
      expect(text).toContain(`probe_ops_job_last_run_timestamp_seconds{job="maintain daily"} ${Date.parse(night) / 1000}`)
      expect(text).toContain('probe_ops_job_status{job="maintain daily"} 2')
    }
  })

  it('renders the terminal view without colour when asked', () => {
    const text = renderReportText(report)
    expect(text).toContain('✖ disk')
    expect(text).toContain('→ free space')
    expect(text).toContain('alert DiskSpaceCritical (critical) not delivered: refused')
    expect(text).toMatch(/maintain daily: failed \(1 failed, 0 warning\) in 2 s/)
    expect(text).not.toContain('\u001b[')
  })
})

describe("a step's result from its outcome", () => {
  const base = { id: 'ports', title: 'Ports' }
  const finding = (id: string, severity: Finding['severity'], fix?: string): Finding => ({ id, severity, message: `${id} found`, ...(fix ? { fix } : {}) })

  it('derives the status from the findings: info alone ok, low or medium warning, high or critical failed', () => {
    expect(resultOf(base, { summary: 's' }, 1).status).toBe('ok')
    expect(resultOf(base, { summary: 's', findings: [finding('a', 'info')] }, 1).status).toBe('ok')
    expect(resultOf(base, { summary: 's', findings: [finding('a', 'info'), finding('b', 'low')] }, 1).status).toBe('warning')
    expect(resultOf(base, { summary: 's', findings: [finding('b', 'medium')] }, 1).status).toBe('warning')
    expect(resultOf(base, { summary: 's', findings: [finding('b', 'medium'), finding('c', 'high')] }, 1).status).toBe('failed')
    expect(resultOf(base, { summary: 's', findings: [finding('d', 'critical')] }, 1).status).toBe('failed')
    expect(resultOf(base, { summary: 'no apt here', skipped: true }, 1)).toEqual({ ...base, status: 'skipped', durationMs: 1, summary: 'no apt here' })
  })

  it("makes the worst finding the step's error, sorts the findings worst first and keeps one per id", () => {
    const result = resultOf(
      base,
      {
        summary: 's',
        findings: [finding('b', 'medium', 'close it'), finding('a', 'high', 'firewall it'), finding('b', 'low'), finding('c', 'info')],
        details: ['d1'],
        data: { n: 1 },
      },
      7,
    )
    expect(result).toEqual({
      ...base,
      status: 'failed',
      durationMs: 7,
      summary: 's',
      findings: [finding('a', 'high', 'firewall it'), finding('b', 'medium', 'close it'), finding('c', 'info')],
      details: ['d1'],
      data: { n: 1 },
      error: { message: 'a found', hint: 'firewall it' },
    })
    expect(resultOf(base, { summary: 's', findings: [finding('c', 'info')] }, 1).error).toBeUndefined()
  })
})

describe('the renderings of findings and details', () => {
  const stepReport = (steps: StepResult[]): Report => ({ ...report, status: 'failed', steps, alerts: [] })
  const findings: Finding[] = [
    { id: 'open-port:tcp:0.0.0.0:6379', severity: 'high', subject: 'redis', message: 'redis listens on 0.0.0.0:6379', fix: 'bind it to 127.0.0.1' },
    { id: 'open-port:tcp:0.0.0.0:8080', severity: 'medium', message: 'something listens on 0.0.0.0:8080' },
    { id: 'ports-seen', severity: 'info', message: '12 ports listen' },
  ]

  it('shows details, info findings as lines, and each rated finding with its severity and fix; the error only when nothing else says it', () => {
    const step = resultOf({ id: 'ports', title: 'Ports' }, { summary: '1 high, 1 medium', findings, details: ['checked tcp and udp'] }, 5)
    expect(
      renderReportText(stepReport([step]))
        .split('\n')
        .slice(0, 7),
    ).toEqual([
      '✖ ports  1 high, 1 medium',
      '    checked tcp and udp',
      '    12 ports listen',
      '    ✖ high: redis listens on 0.0.0.0:6379',
      '      → bind it to 127.0.0.1',
      '    ! medium: something listens on 0.0.0.0:8080',
      '',
    ])
    const thrown = failedResult({ id: 'ports', title: 'Ports' }, new StepFailure('ss is not installed', 'apt install iproute2'), 2, 'apt install iproute2')
    expect(renderReportText(stepReport([thrown]))).toContain('✖ ports  ss is not installed\n    → apt install iproute2\n')
  })

  it('renders a whole report: details, findings with their fixes, a thrown error with its hint, skipped steps bare, alerts, the cut', () => {
    const whole: Report = {
      ...report,
      command: 'diagnose',
      steps: [
        {
          id: 'host',
          title: 'Host',
          status: 'warning',
          durationMs: 210,
          summary: 'load 3.1 on 2 cores',
          details: ['cpu 91%', 'memory 40%'],
          findings: [{ id: 'cpu-busy', severity: 'medium', message: 'CPU busy', fix: 'see top' }],
          error: { message: 'CPU busy', hint: 'see top' },
        },
        {
          id: 'services',
          title: 'Services',
          status: 'failed',
          durationMs: 30,
          summary: 'redis down',
          findings: [
            { id: 'service-down:redis', severity: 'high', subject: 'redis', message: 'redis is not running', fix: 'probe-ops recover redis' },
            { id: 'services-seen', severity: 'info', message: '4 services checked' },
          ],
          error: { message: 'redis is not running', hint: 'probe-ops recover redis' },
        },
        {
          id: 'http',
          title: 'HTTP',
          status: 'failed',
          durationMs: 5000,
          summary: 'timed out after 5 s',
          error: { message: 'step http did not answer within 5 s', hint: 'see the other steps' },
        },
        { id: 'postgres', title: 'PostgreSQL', status: 'failed', durationMs: 3, summary: 'refused', error: { message: 'refused' } },
        { id: 'redis', title: 'Redis', status: 'ok', durationMs: 3, summary: 'fine', details: ['used_memory 1 MiB'], data: { version: '7' } },
        { id: 'logs', title: 'Logs', status: 'skipped', durationMs: 0, summary: 'chosen by --skip', details: ['never shown'] },
      ],
      alerts: [{ alertname: 'ProbeOpsTestAlert', severity: 'info', delivered: true }],
      interrupted: { by: 'SIGINT', at: '2026-11-25T03:00:01.000Z' },
    }
    expect(renderReportText(whole)).toBe(
      '! host      load 3.1 on 2 cores\n    cpu 91%\n    memory 40%\n    ! medium: CPU busy\n      → see top\n✖ services  redis down\n    4 services checked\n    ✖ high: redis is not running\n      → probe-ops recover redis\n✖ http      timed out after 5 s\n    step http did not answer within 5 s\n    → see the other steps\n✖ postgres  refused\n✔ redis     fine\n    used_memory 1 MiB\n- logs      chosen by --skip\n✉ alert ProbeOpsTestAlert (info) sent\n\ndiagnose: failed (3 failed, 1 warning, interrupted by SIGINT) in 2 s\n',
    )
  })

  it('counts findings by severity in the maintenance log line and in a metrics gauge, from the same fields', () => {
    const step = resultOf({ id: 'ports', title: 'Ports' }, { summary: 's', findings }, 5)
    const lines = maintenanceLogLines(stepReport([step, report.steps[0]!])).map((l) => JSON.parse(l))
    expect(lines[0]).toMatchObject({
      step: 'ports',
      level: 'error',
      findings: { high: 1, medium: 1, info: 1 },
      message: 'ports: failed: s (bind it to 127.0.0.1)',
    })
    expect(lines[1]).not.toHaveProperty('findings')
    const metrics = renderMetrics(stepReport([step, report.steps[0]!]))
    expect(metrics).toContain('# TYPE probe_ops_step_findings gauge')
    expect(metrics.split('\n').filter((l) => l.startsWith('probe_ops_step_findings{'))).toEqual([
      'probe_ops_step_findings{job="maintain daily",step="ports",severity="high"} 1',
      'probe_ops_step_findings{job="maintain daily",step="ports",severity="medium"} 1',
      'probe_ops_step_findings{job="maintain daily",step="ports",severity="info"} 1',
    ])
  })
})
