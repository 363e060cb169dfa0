import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig, type Config } from '../../src/config/load.js'
import type { RuleResult } from '../../src/jobs/maintain-daily/data.js'
import { diskAlerts } from '../../src/jobs/maintain-daily/disk.js'
import { reindexFindings } from '../../src/jobs/maintain-daily/reindex.js'
import { emptyRuleResult, planSummary, ruleFindings, ruleSummary } from '../../src/jobs/maintain-daily/retention-findings.js'
import {
  cutoffFor,
  firstWidth,
  fit,
  halvedWidth,
  narrowedWidth,
  nextWidth,
  overCap,
  planRule,
  stopReason,
  type TableFacts,
} from '../../src/jobs/maintain-daily/retention-plan.js'
import { serviceAlerts } from '../../src/jobs/maintain-daily/services.js'
import { diskFindings } from '../../src/jobs/shared/disk-usage.js'
import type { ServiceLook } from '../../src/jobs/shared/services-look.js'
import { statusOf } from '../../src/report/outcome.js'

const DAY = 86_400_000
const startedAt = new Date('2026-11-25T03:00:00.000Z')
const rule = (table: string, column = 'execution_time', days = 90) => ({ table, column, days })
const table = (facts: Partial<TableFacts> = {}): TableFacts => ({
  exists: true,
  column: { type: 'timestamp with time zone', kind: 'timestamptz' },
  bytes: 1000,
  rows: 10,
  ...facts,
})

describe('retention planning', () => {
  it('cuts each rule off by its own days, all by the clock of the run', () => {
    expect(cutoffFor(rule('task_results'), startedAt).toISOString()).toBe('2026-08-27T03:00:00.000Z')
    expect(cutoffFor(rule('audit_log', 'at', 7), startedAt).toISOString()).toBe('2026-11-18T03:00:00.000Z')
    expect(planRule(rule('audit_log', 'at', 7), startedAt, table()).cutoff.getTime()).toBe(startedAt.getTime() - 7 * DAY)
  })

  it('drops partitions only of a table range-partitioned by the rule column; deletes in batches otherwise', () => {
    expect(planRule(rule('task_results'), startedAt, table({ partitioning: { strategy: 'r', key: 'execution_time' } }))).toMatchObject({
      method: 'partitions',
      kind: 'timestamptz',
      columnType: 'timestamp with time zone',
      bytesPerRow: 100,
    })
    expect(planRule(rule('task_results'), startedAt, table({ partitioning: { strategy: 'r', key: 'agent_id' } })).method).toBe('batches')
    expect(planRule(rule('task_results'), startedAt, table({ partitioning: { strategy: 'l', key: 'execution_time' } })).method).toBe('batches')
    expect(planRule(rule('task_results'), startedAt, table({ rows: 0 }))).toMatchObject({ method: 'batches', bytesPerRow: 0 })
  })

  it('refuses a rule its table cannot follow, saying what to fix', () => {
    expect(() => planRule(rule('task_resultz'), startedAt, { exists: false, bytes: 0, rows: 0 })).toThrow('retention rule: table "task_resultz" does not exist')
    expect(() => planRule(rule('task_results', 'executed_at'), startedAt, table({ column: undefined }))).toThrow(
      'retention rule: table "task_results" has no column "executed_at"',
    )
    expect(() => planRule(rule('task_results', 'status'), startedAt, table({ column: { type: 'text', kind: null } }))).toThrow(
      '"task_results.status" is text, not a timestamp or date',
    )
  })

  it('sizes the first window from the estimate, halved, and whole days for a date column', () => {
    expect(firstWidth('timestamptz', 10 * DAY, 500, 1000)).toBe(10 * DAY)
    expect(firstWidth('timestamptz', 10 * DAY, 10_000, 1000)).toBe(DAY / 2)
    expect(firstWidth('date', 10 * DAY, 10_000, 1000)).toBe(DAY)
    expect(fit('timestamp', 0.4)).toBe(1)
    expect(fit('date', 2.5 * DAY)).toBe(2 * DAY)
  })

  it('grows a window toward the target rows and time, at most 4x, and shrinks it after a slow or a large batch', () => {
    const target = { rows: 1000, ms: 500 }
    expect(nextWidth('timestamptz', 1000, { rows: 100, ms: 10 }, target)).toBe(4000)
    expect(nextWidth('timestamptz', 1000, { rows: 500, ms: 10 }, target)).toBe(2000)
    expect(nextWidth('timestamptz', 1000, { rows: 1000, ms: 2000 }, target)).toBe(250)
    expect(nextWidth('timestamptz', 1000, { rows: 2000, ms: 100 }, target)).toBe(500)
    expect(nextWidth('timestamptz', 1000, { rows: 1000, ms: 0 }, target)).toBe(1000)
    // An empty window that the next row does not end: a gap in the data, crossed faster.
    expect(nextWidth('timestamptz', 1000, { rows: 0, ms: 3 }, target)).toBe(4000)
    expect(nextWidth('date', DAY, { rows: 5000, ms: 10 }, target)).toBe(DAY)
  })

  it('retries a burst over twice the target narrower, and a timed-out batch at half the width', () => {
    expect(overCap(2000, 1000)).toBe(false)
    expect(overCap(2001, 1000)).toBe(true)
    expect(narrowedWidth('timestamptz', 1000, 4000, 1000)).toBe(250)
    expect(narrowedWidth('date', DAY, 4000, 1000)).toBe(DAY)
    expect(halvedWidth('timestamptz', 3)).toBe(1)
    expect(halvedWidth('timestamptz', 1)).toBe(1)
  })

  it('stops for the job timeout first, then for its own budget', () => {
    expect(stopReason(false, 999, 1000)).toBeUndefined()
    expect(stopReason(false, 1000, 1000)).toBe('budget')
    expect(stopReason(true, 0, 1000)).toBe('timeout')
    expect(stopReason(true, 2000, 1000)).toBe('timeout')
  })
})

function ruleResult(extra: Partial<RuleResult> = {}): RuleResult {
  return {
    ...emptyRuleResult(rule('public.task_results'), new Date('2026-08-27T03:00:00.000Z')),
    deleted: 1204,
    batches: 3,
    longestBatchMs: 80,
    largestBatchRows: 600,
    reusableBytes: 2048,
    detachedMark: 'probe-ops retention: detached from public.task_results, to be dropped',
    ...extra,
  }
}

describe('retention findings', () => {
  it('says what each rule did, and finds nothing in a clean run', () => {
    expect(ruleSummary(ruleResult())).toBe('public.task_results: deleted 1,204 rows in 3 batches (longest 80 ms, ~2.0 KiB reusable after vacuum)')
    expect(planSummary(ruleResult({ wouldDelete: 1500, wouldDropPartitions: ['a', 'b'] }))).toBe(
      'public.task_results: would delete 1,500 rows older than 2026-08-27 and drop 2 partitions',
    )
    expect(ruleFindings(ruleResult())).toEqual([])
  })

  it('fails a rule that failed, warns of a blocked drop or an unfinished run, and points out a look-alike', () => {
    const findings = ruleFindings(
      ruleResult({
        error: 'retention of public.task_results: batch 4 failed: canceling statement due to lock timeout',
        blockedDrop: {
          partition: 'task_results_20260801',
          stage: 'detached',
          lockedTable: 'tasks',
          attempts: 8,
          waitedMs: 3100,
          holders: [{ pid: 42, application: 'psql', state: 'idle in transaction', transactionSeconds: 90 }],
        },
        partitionsLeftAttached: ['task_results_20260802'],
        unmarkedDetachedTables: ['task_results_20200101'],
        stoppedBy: 'budget',
      }),
      'the next run continues',
    )
    expect(findings.map((f) => `${f.severity} ${f.id}`)).toEqual([
      'high retention-failed:public.task_results',
      'medium partition-drop-blocked:task_results_20260801',
      'low unmarked-detached:public.task_results',
      'medium retention-unfinished:public.task_results',
    ])
    expect(findings[0]!.fix).toBe('the next run continues')
    expect(findings[1]!.message).toBe(
      'retention of public.task_results: partition task_results_20260801 is detached but not dropped: tasks stayed locked by pid 42 (psql), idle in transaction, in a transaction for 90 s through 8 attempts over 3.1 s; 1 more expired partitions stay attached',
    )
    expect(findings[1]!.fix).toMatch(/^nothing is lost: .* the next run drops it and detaches the rest;/)
    expect(statusOf(findings)).toBe('failed')
    expect(statusOf(findings.slice(1))).toBe('warning')
  })
})

describe('reindex findings', () => {
  it('fails on a rebuild or drop that failed, and warns of an invalid index no rebuild made', () => {
    const findings = reindexFindings([{ index: 'public.x_ccnew', action: 'drop', error: 'lock timeout' }], ['public.y'])
    expect(findings.map((f) => [f.severity, f.id, f.message])).toEqual([
      ['high', 'reindex-failed:public.x_ccnew', 'drop public.x_ccnew: lock timeout'],
      ['medium', 'invalid-index:public.y', 'invalid index not made by a rebuild: public.y'],
    ])
    expect(statusOf(reindexFindings([], ['public.y']))).toBe('warning')
  })
})

describe('disk alerts', () => {
  const thresholds = { warningPercent: 80, criticalPercent: 90 }
  const firing = (disks: Parameters<typeof diskAlerts>[0]) =>
    diskAlerts(disks, thresholds).map((a) => `${a.alertname} ${a.labels.path} ${a.firing ? 'firing' : 'resolved'}`)

  it('fires the level a path is at and resolves the other, per path', () => {
    expect(firing([{ path: '/', usedPercent: 50 }])).toEqual(['DiskSpaceWarning / resolved', 'DiskSpaceCritical / resolved'])
    expect(firing([{ path: '/', usedPercent: 80 }])).toEqual(['DiskSpaceWarning / firing', 'DiskSpaceCritical / resolved'])
    expect(firing([{ path: '/', usedPercent: 95 }])).toEqual(['DiskSpaceWarning / resolved', 'DiskSpaceCritical / firing'])
    expect(diskAlerts([{ path: '/var', usedPercent: 95 }], thresholds)[1]).toMatchObject({
      severity: 'critical',
      labels: { path: '/var' },
      summary: 'Disk space usage of /var is 95%',
    })
  })

  it('neither fires nor resolves for a path it could not measure, and rates it a warning', () => {
    const unreadable = [{ path: '/gone', error: 'path does not exist' }]
    expect(diskAlerts(unreadable, thresholds)).toEqual([])
    expect(statusOf(diskFindings(unreadable, thresholds))).toBe('warning')
    expect(statusOf(diskFindings([{ path: '/', usedPercent: 90, freeBytes: 1 }], thresholds))).toBe('failed')
  })
})

describe('service alerts', () => {
  const config: Config = resolveConfig(parseConfigText('', 'test'), null, {})
  const look = (name: string, ready: boolean, state = 'running'): ServiceLook => ({
    service: config.services.find((s) => s.name === name)!,
    status: { name, runtime: 'docker', target: name, found: true, running: state === 'running', state },
    readiness: { ready, detail: ready ? 'SELECT 1 answered' : 'refused' },
    ready,
  })

  it('fires ServiceDown for a service that does not serve and resolves it for one that does', () => {
    expect(serviceAlerts([look('postgres', true), look('web', false, 'exited (exit 137)')])).toEqual([
      { alertname: 'ServiceDown', severity: 'critical', labels: { service: 'postgres' }, summary: 'postgres is ready: SELECT 1 answered', firing: false },
      { alertname: 'ServiceDown', severity: 'critical', labels: { service: 'web' }, summary: 'web is exited (exit 137)', firing: true },
    ])
  })
})
