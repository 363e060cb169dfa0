/**
 * The last good backup of each kind, from the steps that take them: backup database, config and
 * base, and maintain weekly's own dump and archive. Kept through failed and skipped runs: the
 * backup-age alert must see the age grow while backups fail.
 */

import type { z } from 'zod'
import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { finishedSeconds, stepData } from '../shared/metrics.js'
import { archiveData, baseData, dumpData } from './data.js'

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
