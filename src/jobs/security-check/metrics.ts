import type { JobMetrics } from '../../report/job-metrics.js'
import { CERTIFICATE_FAMILIES, certificateSamples } from '../cert-check/metrics.js'

/** security-check's gauges: the certificates it looked at. */
export const securityCheckMetrics: JobMetrics = {
  families: CERTIFICATE_FAMILIES,
  samples: (report) => certificateSamples(report, 'certificates'),
}
