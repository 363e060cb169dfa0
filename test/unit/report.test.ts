import { describe, expect, it } from 'vitest'
import { maintenanceLogLines } from '../../src/report/maintenance-log.js'
import { readFileSync } from 'node:fs'
import { renderMetrics, writeMetrics } from '../../src/report/metrics.js'
import type { Report } from '../../src/report/model.js'
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
