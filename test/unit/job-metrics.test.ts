/** A job's own gauges: what each job derives from its steps' data, and how they are rendered and kept. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backupDatabaseMetrics, backupVerifyMetrics } from '../../src/jobs/backup/metrics.js'
import { capacityMetrics } from '../../src/jobs/capacity/metrics.js'
import { certCheckMetrics } from '../../src/jobs/cert-check/metrics.js'
import { maintainDailyMetrics } from '../../src/jobs/maintain-daily/metrics.js'
import { maintainWeeklyMetrics } from '../../src/jobs/maintain-weekly/metrics.js'
import { renderJobMetrics, type JobMetrics, type MetricFamily } from '../../src/report/job-metrics.js'
import { writeMetrics } from '../../src/report/metrics.js'
import type { Report, StepResult } from '../../src/report/model.js'
import { runPromtool, skipWithoutPromtool } from '../helpers/promtool.js'
import { tempDir } from '../helpers/temp.js'

function reportOf(command: string, steps: Partial<StepResult>[], finishedAt = '2026-11-25T03:00:00.000Z'): Report {
  return {
    schemaVersion: 1,
    command,
    version: '0.1.0',
    host: 'probe-01',
    startedAt: finishedAt,
    finishedAt,
    durationMs: 1000,
    status: steps.some((s) => s.status === 'failed') ? 'failed' : 'ok',
    dryRun: false,
    steps: steps.map((s) => ({ id: 'x', title: 'X', status: 'ok', durationMs: 10, summary: '', ...s })),
    alerts: [],
  }
}

/** The sample lines of a rendering, without HELP and TYPE. */
const samples = (text: string) => text.split('\n').filter((line) => line && !line.startsWith('#'))

function certificate(target: string, notAfter: string, daysLeft: number) {
  return {
    target,
    kind: 'endpoint',
    status: 'ok',
    certificate: {
      subject: 'CN=api.example.com',
      commonName: 'api.example.com',
      issuer: 'CN=CA',
      subjectAltNames: ['DNS:api.example.com'],
      serialNumber: '01',
      notBefore: '2026-01-01T00:00:00.000Z',
      notAfter,
      keyType: 'EC',
      keyBits: 256,
      signatureAlgorithm: 'ecdsa-with-SHA256',
      isCA: false,
      selfSigned: false,
      fingerprintSha256: 'ab',
      daysLeft,
    },
    findings: [],
  }
}

const copies = [{ repository: 'local', committed: true, readBack: 'reread' }]
const dump = { id: 'db-1', path: '/b/db-1.dump', bytes: 4096, sha256: 'ab', copies, format: 'custom', tables: [], durationMs: 5 }
const archive = { id: 'cfg-1', path: '/b/cfg-1.tar.gz', bytes: 512, sha256: 'cd', copies, paths: ['/etc/x'], missingPaths: [] }

describe('rendering a job’s gauges', () => {
  const family: MetricFamily = { name: 'probe_ops_test_value', help: 'A value.\nWith a \\ in its help.' }
  const kept: MetricFamily = { name: 'probe_ops_test_kept', help: 'Kept.', kept: true }
  const metrics = (values: Record<string, number>, keptValues: Record<string, number> = {}): JobMetrics => ({
    families: [family, kept],
    samples: () => [
      ...Object.entries(values).map(([name, value]) => ({ family, labels: { name, kind: 'k' }, value })),
      ...Object.entries(keptValues).map(([name, value]) => ({ family: kept, labels: { name }, value })),
    ],
  })
  const report = reportOf('backup database', [])

  it('gives each family its HELP and TYPE, the job label first and the others sorted, values escaped', () => {
    const text = renderJobMetrics(report, metrics({ 'a "quoted"\\ path\nline': 1, inf: Infinity, nan: NaN }), '')
    expect(text.split('\n')).toEqual([
      '# HELP probe_ops_test_value A value.\\nWith a \\\\ in its help.',
      '# TYPE probe_ops_test_value gauge',
      'probe_ops_test_value{job="backup database",kind="k",name="a \\"quoted\\"\\\\ path\\nline"} 1',
      'probe_ops_test_value{job="backup database",kind="k",name="inf"} +Inf',
      'probe_ops_test_value{job="backup database",kind="k",name="nan"} NaN',
      '',
    ])
  })

  it('renders nothing for a run that measured nothing and has nothing kept', () => {
    expect(renderJobMetrics(report, metrics({}), '')).toBe('')
  })

  it('carries a kept family’s series the run did not measure, replaces those it did, and never carries the others', () => {
    const previous = renderJobMetrics(report, metrics({ old: 1 }, { 'a b"c': 10, replaced: 20 }), '')
    const text = renderJobMetrics(report, metrics({}, { replaced: 30 }), previous)
    expect(samples(text)).toEqual([
      'probe_ops_test_kept{job="backup database",name="replaced"} 30',
      'probe_ops_test_kept{job="backup database",name="a b\\"c"} 10',
    ])
  })
})

describe('the gauges each job derives from its data', () => {
  it('cert check: the expiry time of each certificate; none for an endpoint it could not reach', () => {
    const endpoints = {
      trustStore: 'system',
      certificates: [
        certificate('api.example.com:443', '2027-01-01T00:00:00.000Z', 37),
        { target: 'down.example.com:443', kind: 'endpoint', status: 'failed', error: 'refused', findings: ['tls-unreachable:down.example.com:443'] },
      ],
    }
    const text = renderJobMetrics(reportOf('cert check', [{ id: 'endpoints', data: endpoints }]), certCheckMetrics, '')
    expect(samples(text)).toEqual([
      'probe_ops_certificate_expiry_timestamp_seconds{job="cert check",kind="endpoint",subject="api.example.com",target="api.example.com:443"} 1798761600',
    ])
  })

  it('backup database: the time and size of a good dump, and nothing from a failed one', () => {
    const good = renderJobMetrics(reportOf('backup database', [{ id: 'dump', data: dump }]), backupDatabaseMetrics, '')
    expect(samples(good)).toEqual([
      'probe_ops_backup_last_success_timestamp_seconds{job="backup database",kind="database"} 1795575600',
      'probe_ops_backup_size_bytes{job="backup database",kind="database"} 4096',
    ])
    const failed = reportOf('backup database', [{ id: 'dump', status: 'failed', data: { cause: 'No space left on device' } }], '2026-11-26T03:00:00.000Z')
    expect(backupDatabaseMetrics.samples(failed)).toEqual([])
    // The failed run keeps the good one's figures: the backup-age alert sees the age grow.
    expect(renderJobMetrics(failed, backupDatabaseMetrics, good)).toBe(good)
  })

  it('backup verify (as list and prune): each repository’s window and gaps, in the shared probe_ops_backups.prom, which a run that read no WAL leaves alone', async () => {
    const gap = { archiveId: '15-1', timeline: 1, first: '000000010000000000000006', last: '000000010000000000000006', count: 1 }
    const recoverable = (gaps: (typeof gap)[]) => ({
      windows: [
        {
          base: 'base-a',
          archiveId: '15-1',
          from: '2026-11-24T01:00:00.000Z',
          to: '2026-11-24T05:00:00.000Z',
          reachesStop: true,
          ...(gaps.length ? { endsAtGap: gap } : {}),
        },
        { base: 'base-b', archiveId: '15-1', from: '2026-11-25T01:00:00.000Z', to: '2026-11-25T02:30:00.000Z', reachesStop: true },
      ],
      gaps,
      files: 12,
      bytes: 4096,
      unreadHistories: [],
    })
    const wal = {
      base: 'base-b',
      wal: { archiveId: '15-1', timeline: 1, start: '000000010000000000000009', stop: '000000010000000000000009' },
      repositories: [
        { name: 'local', missing: [], recoverable: recoverable([gap]) },
        { name: 'offsite', missing: [], recoverable: recoverable([]) },
      ],
    }
    const dir = tempDir('window-metrics')
    await writeMetrics(dir, reportOf('backup verify', [{ id: 'wal', data: wal }]), backupVerifyMetrics)
    const text = readFileSync(join(dir, 'probe_ops_backups.prom'), 'utf8')
    expect(samples(text)).toEqual([
      'probe_ops_backup_recoverable_window_start_timestamp_seconds{job="backups",repository="local"} 1795482000',
      'probe_ops_backup_recoverable_window_start_timestamp_seconds{job="backups",repository="offsite"} 1795482000',
      'probe_ops_backup_recoverable_window_end_timestamp_seconds{job="backups",repository="local"} 1795573800',
      'probe_ops_backup_recoverable_window_end_timestamp_seconds{job="backups",repository="offsite"} 1795573800',
      'probe_ops_wal_gaps{job="backups",repository="local"} 1',
      'probe_ops_wal_gaps{job="backups",repository="offsite"} 0',
    ])
    // Nothing of the windows in the job's own file: one name, one file.
    expect(readFileSync(join(dir, 'probe_ops_backup_verify.prom'), 'utf8')).not.toContain('probe_ops_wal_gaps')
    // A dump's verification reads no WAL: the last figures stay.
    await writeMetrics(dir, reportOf('backup verify', [{ id: 'wal', status: 'skipped' }]), backupVerifyMetrics)
    expect(readFileSync(join(dir, 'probe_ops_backups.prom'), 'utf8')).toBe(text)
  })

  it('maintain weekly: the backups it took (kind by step) and its certificates; a skipped dump keeps the last one', () => {
    const first = reportOf('maintain weekly', [
      { id: 'backup-database', data: dump },
      { id: 'backup-config', data: archive },
      { id: 'certificates', data: { trustStore: 'system', certificates: [certificate('/etc/ssl/a.crt', '2027-01-01T00:00:00.000Z', 37)] } },
    ])
    const text = renderJobMetrics(first, maintainWeeklyMetrics, '')
    expect(samples(text).map((line) => line.replace(/ \S+$/, ''))).toEqual([
      'probe_ops_backup_last_success_timestamp_seconds{job="maintain weekly",kind="database"}',
      'probe_ops_backup_last_success_timestamp_seconds{job="maintain weekly",kind="config"}',
      'probe_ops_backup_size_bytes{job="maintain weekly",kind="database"}',
      'probe_ops_backup_size_bytes{job="maintain weekly",kind="config"}',
      'probe_ops_certificate_expiry_timestamp_seconds{job="maintain weekly",kind="endpoint",subject="api.example.com",target="/etc/ssl/a.crt"}',
    ])
    const skipped = reportOf('maintain weekly', [
      { id: 'backup-database', status: 'skipped', summary: 'chosen by --skip' },
      { id: 'backup-config', data: { ...archive, bytes: 600 } },
    ])
    const next = renderJobMetrics(skipped, maintainWeeklyMetrics, text)
    expect(samples(next)).toContain('probe_ops_backup_size_bytes{job="maintain weekly",kind="database"} 4096')
    expect(samples(next)).toContain('probe_ops_backup_size_bytes{job="maintain weekly",kind="config"} 600')
    expect(next).not.toContain('probe_ops_certificate')
  })

  it('capacity-report: when a filling (or full) mount is full, and no such time for the others; database and Redis figures that are known', () => {
    const growth = (perDay: number | null) => ({
      perDay,
      source: perDay === null ? 'none' : 'history',
      slopeError: null,
      history: { points: 5, spanDays: 4, perDay, r2: null },
      measuredPerDay: null,
    })
    const mount = (name: string, usedPercent: number, perDay: number | null, forecast: object) => ({
      mount: name,
      paths: [],
      sizeBytes: 100,
      usedBytes: usedPercent,
      freeBytes: 100 - usedPercent,
      usedPercent,
      growth: { ...growth(perDay), components: [] },
      forecast,
    })
    const disk = {
      disks: [
        mount('/', 50, 1024, { state: 'filling', perDay: 1024, daysUntilFull: 12.5, fillDate: '2026-12-07' }),
        mount('/var/lib/docker', 100, 10, { state: 'full', perDay: 10, daysUntilFull: 0, fillDate: '2026-11-25' }),
        mount('/srv', 10, -5, { state: 'not-filling', perDay: -5, reason: 'shrinking' }),
        mount('/new', 10, null, { state: 'unknown', reason: 'one point of history' }),
      ],
      backups: { path: '/b', exists: true, bytes: 1, files: 1, truncated: false, growth: growth(null) },
      unmeasured: [],
      notes: [],
    }
    const redis = { reachable: true, url: 'redis://127.0.0.1:6379', usedMemoryBytes: 2048, maxMemoryBytes: 0, growth: growth(64) }
    const growthData = { database: { ...growth(300), bytes: 9000 }, tables: [], retention: [], notes: [] }
    const report = reportOf('capacity-report', [
      { id: 'disk', data: disk },
      { id: 'redis', data: redis },
      { id: 'growth', data: growthData },
    ])
    const lines = samples(renderJobMetrics(report, capacityMetrics, ''))
    // The run ended at 1795575600 (2026-11-25T03:00Z): 12.5 days later, and the run itself.
    expect(lines.filter((line) => line.startsWith('probe_ops_disk_full_'))).toEqual([
      'probe_ops_disk_full_timestamp_seconds{job="capacity-report",mount="/"} 1796655600',
      'probe_ops_disk_full_timestamp_seconds{job="capacity-report",mount="/var/lib/docker"} 1795575600',
    ])
    expect(lines.filter((line) => !line.startsWith('probe_ops_disk_'))).toEqual([
      'probe_ops_database_growth_bytes_per_day{job="capacity-report"} 300',
      'probe_ops_redis_memory_used_bytes{job="capacity-report"} 2048',
      'probe_ops_redis_memory_growth_bytes_per_day{job="capacity-report"} 64',
    ])
    expect(lines.filter((line) => line.startsWith('probe_ops_disk_used_percent'))).toHaveLength(4)
    expect(lines.filter((line) => line.startsWith('probe_ops_disk_growth'))).toHaveLength(3)
    // The URL may carry a password: never a label.
    expect(lines.join('\n')).not.toContain('redis://')
  })

  it('maintain daily: how full each mount is, once per mount', () => {
    const disk = {
      warningPercent: 80,
      criticalPercent: 90,
      disks: [
        { path: '/var/lib/postgresql', mount: '/', sizeBytes: 100, freeBytes: 40, usedPercent: 60 },
        { path: '/var/log', mount: '/', sizeBytes: 100, freeBytes: 40, usedPercent: 60 },
        { path: '/missing', error: 'no such directory' },
      ],
    }
    const text = renderJobMetrics(reportOf('maintain daily', [{ id: 'disk', data: disk }]), maintainDailyMetrics, '')
    expect(samples(text)).toEqual(['probe_ops_disk_used_percent{job="maintain daily",mount="/"} 60'])
  })
})

describe('the metrics file', () => {
  it.skipIf(skipWithoutPromtool)('holds the run’s metrics and the job’s own, kept through a failed run, and passes `promtool check metrics`', async () => {
    const dir = tempDir('po-job-metrics')
    await writeMetrics(dir, reportOf('backup database', [{ id: 'dump', data: dump }]), backupDatabaseMetrics)
    const failed = reportOf('backup database', [{ id: 'dump', status: 'failed', data: { cause: 'No space left on device' } }], '2026-11-26T03:00:00.000Z')
    const path = await writeMetrics(dir, failed, backupDatabaseMetrics)
    const text = readFileSync(join(dir, 'probe_ops_backup_database.prom'), 'utf8')
    expect(path).toBe(join(dir, 'probe_ops_backup_database.prom'))
    expect(text).toContain('probe_ops_job_status{job="backup database"} 2')
    expect(text).toContain('probe_ops_backup_last_success_timestamp_seconds{job="backup database",kind="database"} 1795575600')
    const check = await runPromtool(['check', 'metrics'], text)
    expect(check.exitCode, check.output).toBe(0)
  })
})
