/** Gauges of the certificates a run looked at: cert check's, and the certificates steps of maintain weekly and security-check. */

import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { stepData } from '../shared/metrics.js'
import { certificatesData } from './data.js'

const EXPIRY: MetricFamily = {
  name: 'probe_ops_certificate_expiry_timestamp_seconds',
  help: 'When the certificate expires (its notAfter): alert on this minus time(), which stays right between runs.',
}
const DAYS_LEFT: MetricFamily = {
  name: 'probe_ops_certificate_days_left',
  help: 'Whole days until the certificate expires as the last run counted them (negative once expired): what cert check rates.',
}

export const CERTIFICATE_FAMILIES = [EXPIRY, DAYS_LEFT] as const

/** One sample of each family per certificate the step could read; an unreachable endpoint has none (its finding says why). */
export function certificateSamples(report: Report, stepId: string): MetricSample[] {
  const found = stepData(report, stepId, certificatesData)
  if (!found) return []
  return found.data.certificates.flatMap((checked) => {
    const facts = checked.certificate
    if (!facts) return []
    const labels = { target: checked.target, kind: checked.kind, subject: facts.commonName ?? facts.subject }
    const expiry = Date.parse(facts.notAfter) / 1000
    return [...(Number.isFinite(expiry) ? [{ family: EXPIRY, labels, value: expiry }] : []), { family: DAYS_LEFT, labels, value: facts.daysLeft }]
  })
}

export const certCheckMetrics: JobMetrics = {
  families: CERTIFICATE_FAMILIES,
  samples: (report) => [...certificateSamples(report, 'files'), ...certificateSamples(report, 'endpoints')],
}
