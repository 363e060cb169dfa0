/** diagnose's backups step, its pure part: ids read back, the ratings, and the gauges it writes. */
import { describe, expect, it } from 'vitest'
import { backupId } from '../../src/backups/store.js'
import { archiverFindings, interruptedRestoreFinding, parseBackupId, repositoryFindings } from '../../src/jobs/diagnose/backups-findings.js'
import type { BackupsData } from '../../src/jobs/diagnose/data.js'
import { diagnoseMetrics } from '../../src/jobs/diagnose/metrics.js'
import { renderJobMetrics } from '../../src/report/job-metrics.js'
import type { Report } from '../../src/report/model.js'
import { expectPromtoolAccepts, skipWithoutPromtool } from '../helpers/promtool.js'

type RepositoryLook = BackupsData['repositories'][number]
type KindLook = RepositoryLook['kinds'][number]
type Archiver = Extract<BackupsData['archiver'], { read: true }>

const DAY = 86_400
const WEEK = 8 * DAY

function kind(overrides: Partial<KindLook> & Pick<KindLook, 'kind'>): KindLook {
  return { expected: true, backups: 1, maxAgeSeconds: 26 * 3600, ...overrides }
}

function newest(ageSeconds: number, id = 'database-network_probe-20261205T023000123Z') {
  return { id, takenAt: new Date(Date.parse('2026-12-05T12:00:00Z') - ageSeconds * 1000).toISOString(), ageSeconds }
}

function repository(kinds: KindLook[], overrides: Partial<RepositoryLook> = {}): RepositoryLook {
  return { name: 'local', type: 'local', where: 'local /var/backups/network-probe', reachable: true, kinds, ...overrides }
}

const ids = (findings: { id: string }[]) => findings.map((f) => f.id)

const archiver: Archiver = {
  read: true,
  archiveMode: 'on',
  archiveTimeoutSeconds: 300,
  lagLimitSeconds: 600,
  archivedCount: 10,
  failedCount: 0,
  lastArchivedWal: '000000010000000000000010',
  lastArchivedAt: '2026-12-05T11:59:00.000Z',
  lastFailedWal: null,
  lastFailedAt: null,
  statusDirectory: { read: true, pending: 0, oldestPendingSeconds: 0 },
}

describe('backup ids read back', () => {
  it('gives the kind, the database and the time of what backupId wrote, to the millisecond', () => {
    const at = new Date('2026-12-05T02:30:00.123Z')
    expect(parseBackupId(backupId('database', at, 'network_probe'))).toEqual({ kind: 'database', database: 'network_probe', takenAt: at })
    expect(parseBackupId(backupId('config', at))).toEqual({ kind: 'config', takenAt: at })
    expect(parseBackupId('base-20261205T010000Z')).toEqual({ kind: 'base', takenAt: new Date('2026-12-05T01:00:00Z') })
    // A database whose name has dashes and digits keeps them.
    expect(parseBackupId('database-probe-2-20261205T023000123Z')?.database).toBe('probe-2')
  })

  it('refuses what is not a backup id', () => {
    for (const name of [
      'probe-ops-repository',
      'wal-20261205T023000123Z',
      'database-network_probe',
      'database-x-20261305T023000123Z',
      'database-x-20261205T023000123',
    ])
      expect(parseBackupId(name), name).toBeUndefined()
  })
})

describe('the ratings of a repository', () => {
  it('says nothing of fresh, verified backups', () => {
    const verified = {
      id: 'database-network_probe-20261205T023000123Z',
      at: '2026-12-05T03:00:00.000Z',
      ok: true,
      method: 'checksum',
      detail: 'sha256 matches',
    }
    expect(repositoryFindings(repository([kind({ kind: 'database', newest: newest(3600), lastVerification: verified })]), WEEK)).toEqual([])
  })

  it('a missing backup is high only where one is expected (base: only when WAL is archived)', () => {
    const found = repositoryFindings(repository([kind({ kind: 'database', backups: 0 }), kind({ kind: 'base', backups: 0, expected: false })]), WEEK)
    expect(found).toEqual([
      expect.objectContaining({ id: 'backup-missing:local:database', severity: 'high', fix: expect.stringContaining('probe-ops backup database') }),
    ])
  })

  it('a backup past backup.maxAge is high, and names it and its age', () => {
    const [tooOld] = repositoryFindings(repository([kind({ kind: 'database', newest: newest(2 * DAY), lastVerification: undefined })]), 3 * DAY)
    expect(tooOld).toMatchObject({ id: 'backup-too-old:local:database', severity: 'high' })
    expect(tooOld!.message).toContain('database-network_probe-20261205T023000123Z')
    expect(tooOld!.message).toContain('2d old (backup.maxAge.database: 1d2h)')
  })

  it('a failed verification is high; none, or an old one, is a medium "stale"', () => {
    const failed = {
      id: 'database-x-20261205T023000123Z',
      at: '2026-12-05T03:00:00.000Z',
      ok: false,
      method: 'checksum',
      detail: 'does not match its checksum',
    }
    expect(ids(repositoryFindings(repository([kind({ kind: 'database', newest: newest(3600), lastVerification: failed })]), WEEK))).toEqual([
      'verification-failed:local:database',
    ])
    const [never] = repositoryFindings(repository([kind({ kind: 'config', newest: newest(3600), maxAgeSeconds: WEEK })]), WEEK)
    expect(never).toMatchObject({ id: 'verification-stale:local:config', severity: 'medium' })
    // Verified nine days before the check, one day before its newest backup was taken.
    const old = { id: 'config-20261125T120000000Z', at: '2026-11-26T12:00:00.000Z', ok: true, method: 'checksum', detail: '' }
    const [stale] = repositoryFindings(repository([kind({ kind: 'config', newest: newest(8 * DAY), maxAgeSeconds: 9 * DAY, lastVerification: old })]), WEEK)
    expect(stale).toMatchObject({ id: 'verification-stale:local:config', message: expect.stringContaining('was 9d ago') })
  })

  it('a damaged newest backup is high', () => {
    const damaged = { ...newest(3600), damaged: 'its data database-x.dump is missing' }
    expect(ids(repositoryFindings(repository([kind({ kind: 'database', newest: damaged })]), WEEK))).toContain('backup-damaged:local:database')
  })

  it('a repository that did not answer is one finding with its code, and no "missing" backups', () => {
    const look = repository([], { name: 'offsite', type: 's3', where: 's3://b/p/', reachable: false, error: 'no answer within 5s', code: 'no-answer' })
    expect(repositoryFindings(look, WEEK)).toEqual([
      expect.objectContaining({ id: 'repository-unreachable:offsite', severity: 'high', message: expect.stringContaining('(no-answer)') }),
    ])
    const [auth] = repositoryFindings({ ...look, code: 'auth', error: 'InvalidAccessKeyId' }, WEEK)
    expect(auth!.fix).toContain('credentials')
  })

  it('a repository file probe-ops did not write is high', () => {
    const look = repository([], {
      repositoryFile: 'probe-ops-repository.json in repository local (local /b) is not one probe-ops wrote: format: Invalid literal',
    })
    expect(repositoryFindings(look, WEEK)).toEqual([expect.objectContaining({ id: 'repository-file-invalid:local', severity: 'high' })])
  })

  it('the last archived WAL file missing from a repository is high', () => {
    const look = repository([], { wal: { segment: '000000010000000000000010', found: false }, archiveId: '15-1' })
    expect(repositoryFindings(look, WEEK)).toEqual([expect.objectContaining({ id: 'wal-missing-in-repository:local', severity: 'high' })])
  })
})

describe('the ratings of the archiver', () => {
  it('a failure after the last success is critical; one before it is over', () => {
    expect(archiverFindings(archiver)).toEqual([])
    const failing = { ...archiver, failedCount: 3, lastFailedWal: '000000010000000000000011', lastFailedAt: '2026-12-05T11:59:30.000Z' }
    expect(archiverFindings(failing)).toEqual([expect.objectContaining({ id: 'wal-archiver-failing', severity: 'critical' })])
    expect(archiverFindings({ ...failing, lastArchivedAt: '2026-12-05T11:59:40.000Z' })).toEqual([])
    expect(ids(archiverFindings({ ...failing, lastArchivedWal: null, lastArchivedAt: null }))).toEqual(['wal-archiver-failing'])
  })

  it('lags when the oldest waiting file is older than 2 × archive_timeout, or more than 8 wait', () => {
    const queue = (pending: number, oldestPendingSeconds: number) => ({ ...archiver, statusDirectory: { read: true as const, pending, oldestPendingSeconds } })
    expect(archiverFindings(queue(2, 599))).toEqual([])
    expect(archiverFindings(queue(2, 601))).toEqual([expect.objectContaining({ id: 'wal-archive-lag', severity: 'high' })])
    expect(ids(archiverFindings(queue(9, 10)))).toEqual(['wal-archive-lag'])
    expect(archiverFindings(queue(8, 10))).toEqual([])
    // archive_timeout off: the limit is backup.wal.archiveTimeoutSeconds's, and the message says so.
    const [off] = archiverFindings({ ...queue(1, 700), archiveTimeoutSeconds: 0, lagLimitSeconds: 600 })
    expect(off!.message).toContain('backup.wal.archiveTimeoutSeconds')
  })

  it('a queue it may not read is a low finding, an archiver not read a medium one, archive_mode off none', () => {
    expect(archiverFindings({ ...archiver, statusDirectory: { read: false, error: 'permission denied' } })).toEqual([
      expect.objectContaining({ id: 'wal-archive-queue-not-read', severity: 'low', fix: expect.stringContaining('pg_monitor') }),
    ])
    expect(archiverFindings({ read: false, error: 'connection refused' })).toEqual([
      expect.objectContaining({ id: 'wal-archiver-not-read', severity: 'medium' }),
    ])
    expect(archiverFindings({ ...archiver, archiveMode: 'off', lastFailedAt: '2026-12-05T11:59:30.000Z', lastArchivedAt: null })).toEqual([])
  })

  it('an interrupted restore is high, with the command that finishes it', () => {
    expect(interruptedRestoreFinding([])).toEqual([])
    expect(interruptedRestoreFinding([{ what: 'stopped services', detail: 'a restore stopped management' }])).toEqual([
      expect.objectContaining({ id: 'restore-interrupted', severity: 'high', fix: 'probe-ops restore --cleanup' }),
    ])
  })
})

describe('the gauges diagnose writes', () => {
  const data: BackupsData = {
    repositories: [
      repository([
        kind({
          kind: 'database',
          newest: { ...newest(3600), bytes: 4096 },
          lastVerification: { id: 'database-network_probe-20261205T023000123Z', at: '2026-12-05T03:00:00.000Z', ok: false, method: 'checksum', detail: 'x' },
        }),
        kind({ kind: 'base', backups: 0, expected: false }),
      ]),
      repository([], { name: 'offsite', type: 's3', where: 's3://b/p/', reachable: false, error: 'refused', code: 'refused' }),
    ],
    archiver: { ...archiver, failedCount: 4, statusDirectory: { read: true, pending: 3, oldestPendingSeconds: 120 } },
    interruptedRestores: [],
  }
  const report: Report = {
    schemaVersion: 1,
    command: 'diagnose',
    version: '0.1.0',
    host: 'probe-01',
    startedAt: '2026-12-05T12:00:00.000Z',
    finishedAt: '2026-12-05T12:00:01.000Z',
    durationMs: 1000,
    status: 'failed',
    dryRun: false,
    steps: [{ id: 'backups', title: 'Backups', status: 'failed', durationMs: 10, summary: '', data }],
    alerts: [],
  }

  it('per repository and kind, and the archiver; a repository that did not answer is down', () => {
    const lines = renderJobMetrics(report, diagnoseMetrics, '')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
    expect(lines).toEqual([
      'probe_ops_repository_up{job="diagnose",repository="local"} 1',
      'probe_ops_repository_up{job="diagnose",repository="offsite"} 0',
      'probe_ops_repository_newest_backup_timestamp_seconds{job="diagnose",kind="database",repository="local"} 1796468400',
      'probe_ops_repository_newest_backup_size_bytes{job="diagnose",kind="database",repository="local"} 4096',
      'probe_ops_repository_last_verification_timestamp_seconds{job="diagnose",kind="database",repository="local"} 1796439600',
      'probe_ops_repository_last_verification_ok{job="diagnose",kind="database",repository="local"} 0',
      'probe_ops_wal_archive_pending_segments{job="diagnose"} 3',
      'probe_ops_wal_archive_lag_seconds{job="diagnose"} 120',
      'probe_ops_wal_archive_lag_limit_seconds{job="diagnose"} 600',
      'probe_ops_wal_archive_failed_total{job="diagnose"} 4',
      'probe_ops_wal_last_archived_timestamp_seconds{job="diagnose"} 1796471940',
    ])
  })

  it('keeps the last figures through a run that did not read them (--only of another step)', () => {
    const first = renderJobMetrics(report, diagnoseMetrics, '')
    const other = renderJobMetrics({ ...report, steps: [{ id: 'host', title: 'Host', status: 'ok', durationMs: 1, summary: '' }] }, diagnoseMetrics, first)
    expect(other).toBe(first)
  })

  it('drops the figures of a repository taken out of the configuration once the step reads the others', () => {
    const first = renderJobMetrics(report, diagnoseMetrics, '')
    const withoutOffsite = { ...data, repositories: data.repositories.filter((r) => r.name !== 'offsite') }
    const next = renderJobMetrics({ ...report, steps: [{ ...report.steps[0]!, data: withoutOffsite }] }, diagnoseMetrics, first)
    expect(next).not.toContain('repository="offsite"')
    expect(next).toContain('probe_ops_repository_up{job="diagnose",repository="local"} 1')
  })

  it.skipIf(skipWithoutPromtool)('passes `promtool check metrics`, the failures as a counter', async () => {
    const text = renderJobMetrics(report, diagnoseMetrics, '')
    expect(text).toContain('# TYPE probe_ops_wal_archive_failed_total counter')
    await expectPromtoolAccepts(text)
  })
})
