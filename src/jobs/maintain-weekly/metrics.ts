import type { JobMetrics } from '../../report/job-metrics.js'
import { BACKUP_FAMILIES, backupSamples } from '../backup/metrics.js'
import { CERTIFICATE_FAMILIES, certificateSamples } from '../cert-check/metrics.js'

/** maintain weekly's gauges: the backups it took and the certificates it looked at. */
export const maintainWeeklyMetrics: JobMetrics = {
  families: [...BACKUP_FAMILIES, ...CERTIFICATE_FAMILIES],
  samples: (report) => [
    ...backupSamples(report, 'backup-database', 'database'),
    ...backupSamples(report, 'backup-config', 'config'),
    ...certificateSamples(report, 'certificates'),
  ],
}
