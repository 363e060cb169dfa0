/**
 * The last good backup of each kind, from the steps that take them: backup database, config and
 * base, and maintain weekly's own dump and archive. Kept through failed and skipped runs: the
 * backup-age alert must see the age grow while backups fail.
 */

import type { z } from 'zod'
import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { finishedSeconds, stepData } from '../shared/metrics.js'
import { archiveData, baseData, dumpData, listData, pruneData, restoreTestData, walChainData, type WalWindowsData } from './data.js'

const LAST_SUCCESS: MetricFamily = {
  name: 'probe_ops_backup_last_success_timestamp_seconds',
  help: 'When the last good backup of this kind was taken (the end of the run that took it); failed runs keep it.',
  kept: true,
}
const SIZE: MetricFamily = {
  name: 'probe_ops_backup_size_bytes',
  help: 'The size of the last good backup of this kind; failed runs keep it.',
  kept: true,
}

export const BACKUP_FAMILIES = [LAST_SUCCESS, SIZE] as const

export type BackupKind = 'database' | 'config' | 'base'

const SCHEMAS: Record<BackupKind, z.ZodTypeAny> = { database: dumpData, config: archiveData, base: baseData }

/** The backup a step took, when it took one (a failed step's data names the disk failure instead). */
export function backupSamples(report: Report, stepId: string, kind: BackupKind): MetricSample[] {
  const found = stepData(report, stepId, SCHEMAS[kind])
  if (!found || found.step.status === 'failed') return []
  const taken = found.data as { bytes?: number }
  if (typeof taken.bytes !== 'number') return []
  const labels = { kind }
  return [
    { family: LAST_SUCCESS, labels, value: finishedSeconds(report) },
    { family: SIZE, labels, value: taken.bytes },
  ]
}

function backupMetrics(stepId: string, kind: BackupKind): JobMetrics {
  return { families: BACKUP_FAMILIES, samples: (report) => backupSamples(report, stepId, kind) }
}

export const backupDatabaseMetrics = backupMetrics('dump', 'database')
export const backupConfigMetrics = backupMetrics('archive', 'config')
export const backupBaseMetrics = backupMetrics('base', 'base')

/**
 * backup verify's restore test (design-14 §7.3), per kind and repository: when it last ran, whether
 * it passed, the achieved restore time and data-loss window, and the objectives they were held to
 * (NaN when none is set: a comparison with it never fires). Only backup verify writes these names,
 * so each has one label set in one file (node_exporter refuses one name with two). Kept through
 * runs that did not rehearse that kind: the staleness alert needs the time of the last one.
 */
const restoreTestFamily = (name: string, help: string): MetricFamily => ({ name: `probe_ops_restore_test_${name}`, help, kept: true })
const RESTORE_TEST = {
  at: restoreTestFamily('timestamp_seconds', 'When the last restore test of this kind of backup from this repository ran.'),
  ok: restoreTestFamily('ok', 'Whether that restore test passed: 1 yes, 0 no.'),
  rto: restoreTestFamily('rto_seconds', 'The restore time it achieved: from reading the copy until the data was restored and checked.'),
  rpo: restoreTestFamily(
    'rpo_seconds',
    'The data-loss window it found: what a loss at the start of the test would have lost (since the dump, or the newest WAL replayed).',
  ),
  rtoObjective: restoreTestFamily('rto_objective_seconds', 'backup.objectives.rtoSeconds that test was held to (NaN: none).'),
  rpoObjective: restoreTestFamily('rpo_objective_seconds', 'backup.objectives.rpoSeconds that test was held to (NaN: none).'),
}

export const RESTORE_TEST_FAMILIES = Object.values(RESTORE_TEST)

export function restoreTestSamples(report: Report): MetricSample[] {
  const found = stepData(report, 'restore-test', restoreTestData)
  if (!found) return []
  const tested = found.data
  const labels = { kind: tested.kind, repository: tested.repository }
  const samples: MetricSample[] = [{ family: RESTORE_TEST.at, labels, value: finishedSeconds(report) }]
  if ('failed' in tested) return [...samples, { family: RESTORE_TEST.ok, labels, value: 0 }]
  return [
    ...samples,
    { family: RESTORE_TEST.ok, labels, value: 1 },
    { family: RESTORE_TEST.rto, labels, value: tested.rtoSeconds },
    { family: RESTORE_TEST.rpo, labels, value: tested.rpoSeconds },
    { family: RESTORE_TEST.rtoObjective, labels, value: tested.objectives.rtoSeconds ?? Number.NaN },
    { family: RESTORE_TEST.rpoObjective, labels, value: tested.objectives.rpoSeconds ?? Number.NaN },
  ]
}

/**
 * The recoverable window and the WAL gaps of each repository, as the last backup list, verify or
 * prune read them (design-14 §7.2): one file for the three (see JobMetrics.shared), kept through
 * runs that read no WAL. Named apart from the backup jobs' probe_ops_backup_*{kind}: node_exporter
 * refuses one name with other labels in another file.
 */
const WINDOW_START: MetricFamily = {
  name: 'probe_ops_backup_recoverable_window_start_timestamp_seconds',
  help: 'The earliest moment point-in-time recovery from the repository reaches: when its oldest base backup that records its WAL became consistent.',
  kept: true,
}
const WINDOW_END: MetricFamily = {
  name: 'probe_ops_backup_recoverable_window_end_timestamp_seconds',
  help: 'The latest moment point-in-time recovery from the repository reaches: the archived time of the last WAL segment a base backup chains to without a gap.',
  kept: true,
}
const WAL_GAPS: MetricFamily = {
  name: 'probe_ops_wal_gaps',
  help: 'Runs of WAL segments missing from the repository between its oldest base backup and its newest segment: point-in-time recovery cannot cross them.',
  kept: true,
}

export const WINDOW_FAMILIES = [WINDOW_START, WINDOW_END, WAL_GAPS] as const

/** The shared file the three jobs write (its `job` label: "backups"). */
export const WINDOW_METRICS_FILE = 'probe_ops_backups.prom'

export function windowSamples(repositories: readonly { name: string; recoverable: WalWindowsData | undefined }[]): MetricSample[] {
  return repositories.flatMap(({ name, recoverable }) => {
    if (!recoverable) return []
    const labels = { repository: name }
    const samples: MetricSample[] = [{ family: WAL_GAPS, labels, value: recoverable.gaps.length }]
    const from = recoverable.windows.map((w) => Date.parse(w.from))
    const to = recoverable.windows.map((w) => Date.parse(w.to))
    if (from.length)
      samples.push({ family: WINDOW_START, labels, value: Math.min(...from) / 1000 }, { family: WINDOW_END, labels, value: Math.max(...to) / 1000 })
    return samples
  })
}

/** A job's metrics with the windows it read in their shared file; its own families besides, when it has some. */
function windowMetrics(
  read: (report: Report) => { name: string; recoverable: WalWindowsData | undefined }[],
  own: Pick<JobMetrics, 'families' | 'samples'> = { families: [], samples: () => [] },
): JobMetrics {
  return {
    ...own,
    shared: { file: WINDOW_METRICS_FILE, job: 'backups', metrics: { families: WINDOW_FAMILIES, samples: (report) => windowSamples(read(report)) } },
  }
}

export const backupListMetrics = windowMetrics(
  (report) => stepData(report, 'list', listData)?.data.repositories.map((r) => ({ name: r.name, recoverable: r.wal })) ?? [],
)
export const backupVerifyMetrics = windowMetrics((report) => stepData(report, 'wal', walChainData)?.data.repositories ?? [], {
  families: RESTORE_TEST_FAMILIES,
  samples: restoreTestSamples,
})
export const backupPruneMetrics = windowMetrics(
  (report) => stepData(report, 'prune', pruneData)?.data.repositories.map((r) => ({ name: r.name, recoverable: r.wal?.after })) ?? [],
)
