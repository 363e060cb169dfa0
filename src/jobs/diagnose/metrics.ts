/**
 * diagnose's gauges: what its backups step read from the repositories and from PostgreSQL's
 * archiver, so that Prometheus alerts on a backup too old, a verification failed, a repository
 * that does not answer or an archiver that fails, between runs of diagnose (cron runs
 * `diagnose --only backups` every 5 minutes). The names are not the backup jobs' own
 * (probe_ops_backup_*{kind}): node_exporter refuses one name with other labels in another file.
 * Every family is kept through runs that do not read it (--only of other steps, PostgreSQL down):
 * the age of a backup must keep growing in Prometheus while nothing reads it.
 */

import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { stepData } from '../shared/metrics.js'
import { backupsData } from './data.js'

const family = (name: string, help: string, type?: 'counter'): MetricFamily => ({ name, help, kept: true, ...(type ? { type } : {}) })

const UP = family('probe_ops_repository_up', 'Whether the repository answered the last diagnose of backups: 1 yes, 0 no.')
const NEWEST = family('probe_ops_repository_newest_backup_timestamp_seconds', 'When the newest backup of this kind in the repository was taken (its id).')
const SIZE = family('probe_ops_repository_newest_backup_size_bytes', 'The size of the newest backup of this kind as the repository stores it.')
const VERIFIED_AT = family(
  'probe_ops_repository_last_verification_timestamp_seconds',
  'When the newest backups of this kind were last verified (the newest verification their manifests record).',
)
const VERIFIED_OK = family('probe_ops_repository_last_verification_ok', 'Whether that verification passed: 1 yes, 0 no.')
const PENDING = family('probe_ops_wal_archive_pending_segments', 'WAL files waiting to be archived (.ready in archive_status).')
const LAG = family('probe_ops_wal_archive_lag_seconds', 'How long the oldest WAL file waiting to be archived has waited; 0 when none.')
const FAILED = family(
  'probe_ops_wal_archive_failed_total',
  "Failed archive_command runs since PostgreSQL's statistics were reset (pg_stat_archiver.failed_count).",
  'counter',
)
const ARCHIVED_AT = family('probe_ops_wal_last_archived_timestamp_seconds', 'When PostgreSQL last archived a WAL file.')
const FAILED_AT = family('probe_ops_wal_last_failed_timestamp_seconds', 'When archive_command last failed.')
const LAG_LIMIT = family(
  'probe_ops_wal_archive_lag_limit_seconds',
  'How long WAL may wait to be archived: twice archive_timeout (backup.wal.archiveTimeoutSeconds when that is off).',
)

export const DIAGNOSE_FAMILIES = [UP, NEWEST, SIZE, VERIFIED_AT, VERIFIED_OK, PENDING, LAG, LAG_LIMIT, FAILED, ARCHIVED_AT, FAILED_AT] as const

function seconds(time: string): number {
  return Date.parse(time) / 1000
}

export function backupsSamples(report: Report): MetricSample[] {
  const found = stepData(report, 'backups', backupsData)
  if (!found) return []
  const samples: MetricSample[] = []
  for (const repository of found.data.repositories) {
    samples.push({ family: UP, labels: { repository: repository.name }, value: repository.reachable ? 1 : 0 })
    for (const kind of repository.kinds) {
      const labels = { kind: kind.kind, repository: repository.name }
      if (kind.newest) samples.push({ family: NEWEST, labels, value: seconds(kind.newest.takenAt) })
      if (kind.newest?.bytes !== undefined) samples.push({ family: SIZE, labels, value: kind.newest.bytes })
      if (kind.lastVerification)
        samples.push(
          { family: VERIFIED_AT, labels, value: seconds(kind.lastVerification.at) },
          { family: VERIFIED_OK, labels, value: kind.lastVerification.ok ? 1 : 0 },
        )
    }
  }
  const archiver = found.data.archiver
  if (archiver.read && archiver.archiveMode !== 'off') {
    samples.push({ family: FAILED, labels: {}, value: archiver.failedCount })
    if (archiver.lastArchivedAt) samples.push({ family: ARCHIVED_AT, labels: {}, value: seconds(archiver.lastArchivedAt) })
    if (archiver.lastFailedAt) samples.push({ family: FAILED_AT, labels: {}, value: seconds(archiver.lastFailedAt) })
    if (archiver.statusDirectory.read)
      samples.push(
        { family: PENDING, labels: {}, value: archiver.statusDirectory.pending },
        { family: LAG, labels: {}, value: archiver.statusDirectory.oldestPendingSeconds },
        { family: LAG_LIMIT, labels: {}, value: archiver.lagLimitSeconds },
      )
  }
  return samples
}

/** The repositories the backups step read, when it ran: kept series of any other are dropped. */
function currentRepositories(report: Report): { label: string; values: ReadonlySet<string> } | undefined {
  const found = stepData(report, 'backups', backupsData)
  return found ? { label: 'repository', values: new Set(found.data.repositories.map((r) => r.name)) } : undefined
}

export const diagnoseMetrics: JobMetrics = { families: DIAGNOSE_FAMILIES, samples: backupsSamples, current: currentRepositories }
