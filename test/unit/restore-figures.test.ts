/** A restore test's figures (RTO/RPO), their ratings against backup.objectives, and the gauges backup verify writes of them. */
import { describe, expect, it } from 'vitest'
import { backupBaseMetrics, backupConfigMetrics, backupDatabaseMetrics, backupVerifyMetrics, restoreTestSamples } from '../../src/jobs/backup/metrics.js'
import { capacityMetrics } from '../../src/jobs/capacity/metrics.js'
import { certCheckMetrics } from '../../src/jobs/cert-check/metrics.js'
import { diagnoseMetrics } from '../../src/jobs/diagnose/metrics.js'
import { maintainDailyMetrics } from '../../src/jobs/maintain-daily/metrics.js'
import { maintainWeeklyMetrics } from '../../src/jobs/maintain-weekly/metrics.js'
import { securityCheckMetrics } from '../../src/jobs/security-check/metrics.js'
import { describeFigures, objectiveFindings, rpoSeconds } from '../../src/jobs/backup/restore-figures.js'
import { formatSpan } from '../../src/lib/format.js'
import { renderJobMetrics } from '../../src/report/job-metrics.js'
import type { Report, StepResult } from '../../src/report/model.js'

const at = (iso: string) => new Date(iso)

describe('the data-loss window (RPO)', () => {
  const start = at('2026-11-25T05:00:00Z')

  it('is measured back to the newest moment the data reaches: the last transaction, or the newest segment replayed when later', () => {
    const floor = at('2026-11-24T23:00:00Z')
    expect(rpoSeconds({ rtoMs: 1, floor }, start)).toBe(6 * 3600)
    expect(rpoSeconds({ rtoMs: 1, floor, recoveredTo: at('2026-11-25T04:00:00Z') }, start)).toBe(3600)
    // An idle database: its last transaction is old, but the archive reaches further.
    expect(rpoSeconds({ rtoMs: 1, floor, recoveredTo: at('2026-11-25T01:00:00Z'), reaches: at('2026-11-25T04:55:00Z') }, start)).toBe(300)
  })

  it('is never negative (a clock a little ahead)', () => {
    expect(rpoSeconds({ rtoMs: 1, floor: at('2026-11-25T05:00:01Z') }, start)).toBe(0)
  })
})

describe('backup.objectives', () => {
  it('gives a medium finding for each figure above its objective, none without objectives', () => {
    expect(objectiveFindings(100, 100, {})).toEqual([])
    expect(objectiveFindings(100, 100, { rtoSeconds: 100, rpoSeconds: 100 })).toEqual([])
    const found = objectiveFindings(120, 7200, { rtoSeconds: 60, rpoSeconds: 3600 })
    expect(found.map((f) => [f.id, f.severity])).toEqual([
      ['rto-above-objective', 'medium'],
      ['rpo-above-objective', 'medium'],
    ])
    expect(found[1]!.message).toBe('a loss at the start of the test would have lost 2 h of data, more than backup.objectives.rpoSeconds (1 h)')
  })
})

describe('how the figures are said', () => {
  it('in the two largest units', () => {
    expect([0, 12.34, 59.9, 60, 245, 3600, 22_200, 22_259, 93_600 + 7200].map(formatSpan)).toEqual([
      '0 s',
      '12.3 s',
      '59.9 s',
      '1 min',
      '4 min 5 s',
      '1 h',
      '6 h 10 min',
      '6 h 10 min',
      '1 d 4 h',
    ])
    expect(describeFigures(12_300, 22_200)).toBe('restored in 12.3 s; a loss now would lose 6 h 10 min of data')
  })
})

function verifyReport(data: Record<string, unknown> | undefined, status: StepResult['status'] = 'ok'): Report {
  return {
    schemaVersion: 1,
    command: 'backup verify',
    version: '0.1.0',
    host: 'probe-01',
    startedAt: '2026-11-25T05:00:00.000Z',
    finishedAt: '2026-11-25T05:01:00.000Z',
    durationMs: 60_000,
    status: status === 'failed' ? 'failed' : 'ok',
    dryRun: false,
    steps: [{ id: 'restore-test', title: 'X', status, durationMs: 10, summary: '', ...(data ? { data } : {}) }],
    alerts: [],
  }
}

const copy = { kind: 'base', repository: 'offsite', startedAt: '2026-11-25T05:00:00.000Z' }
const passed = {
  ...copy,
  rtoSeconds: 42.5,
  rpoSeconds: 300,
  recoveredTo: '2026-11-25T04:55:00.000Z',
  objectives: { rpoSeconds: 3600 },
  scratchDirectory: '/var/backups/network-probe/.restore-test-20261125T050000Z',
  port: 54321,
  tables: 3,
  rows: 100,
}

describe('the restore test gauges', () => {
  it('a passed test: when, ok, RTO, RPO and the objectives it was held to (NaN for none), by kind and repository', () => {
    const text = renderJobMetrics(verifyReport(passed), backupVerifyMetrics, '')
    const lines = text.split('\n').filter((line) => line && !line.startsWith('#'))
    const labels = '{job="backup verify",kind="base",repository="offsite"}'
    expect(lines).toEqual([
      `probe_ops_restore_test_timestamp_seconds${labels} ${Date.parse('2026-11-25T05:01:00.000Z') / 1000}`,
      `probe_ops_restore_test_ok${labels} 1`,
      `probe_ops_restore_test_rto_seconds${labels} 42.5`,
      `probe_ops_restore_test_rpo_seconds${labels} 300`,
      `probe_ops_restore_test_rto_objective_seconds${labels} NaN`,
      `probe_ops_restore_test_rpo_objective_seconds${labels} 3600`,
    ])
  })

  it('a failed test: when and 0, the last figures kept; no test (skipped, or no data): nothing', () => {
    const before = renderJobMetrics(verifyReport(passed), backupVerifyMetrics, '')
    const failed = renderJobMetrics(verifyReport({ ...copy, failed: true }, 'failed'), backupVerifyMetrics, before)
    expect(failed).toContain('probe_ops_restore_test_ok{job="backup verify",kind="base",repository="offsite"} 0')
    expect(failed).toContain('probe_ops_restore_test_rpo_seconds{job="backup verify",kind="base",repository="offsite"} 300')
    expect(restoreTestSamples(verifyReport(undefined, 'failed'))).toEqual([])
    expect(restoreTestSamples(verifyReport(passed, 'skipped'))).toEqual([])
  })

  it("are backup verify's alone: node_exporter refuses one name with other labels in another file", () => {
    const others = [
      backupDatabaseMetrics,
      backupConfigMetrics,
      backupBaseMetrics,
      capacityMetrics,
      certCheckMetrics,
      diagnoseMetrics,
      maintainDailyMetrics,
      maintainWeeklyMetrics,
      securityCheckMetrics,
    ].flatMap((metrics) => metrics.families.map((family) => family.name))
    for (const family of backupVerifyMetrics.families) expect(others, family.name).not.toContain(family.name)
  })
})
