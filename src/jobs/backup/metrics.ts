/**
 * The last good backup of each kind, from the steps that take them: backup database, config and
 * base, and maintain weekly's own dump and archive. Kept through failed and skipped runs: the
 * backup-age alert must see the age grow while backups fail.
 */

import type { z } from 'zod'
import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { finishedSeconds, stepData } from '../shared/metrics.js'
import { archiveData, baseData, dumpData, restoreTestData } from './data.js'

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

export const backupVerifyMetrics: JobMetrics = { families: RESTORE_TEST_FAMILIES, samples: restoreTestSamples }
