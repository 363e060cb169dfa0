/** Gauges of the certificates a run looked at: cert check's, and the certificates steps of maintain weekly and security-check. */

import type { JobMetrics, MetricFamily, MetricSample } from '../../report/job-metrics.js'
import type { Report } from '../../report/model.js'
import { stepData } from '../shared/metrics.js'
import { certificatesData } from './data.js'

/**
 * The time rather than days left: the days left are (this - time()) / 86400, right between runs
 * too (and promtool wants seconds as the unit); cert check rates fewer than N whole days left, so
 * `< N * 86400` is its threshold exactly.
 */
const EXPIRY: MetricFamily = {
  name: 'probe_ops_certificate_expiry_timestamp_seconds',
  help: 'When the certificate expires (its notAfter); days left: (this - time()) / 86400.',
}

export const CERTIFICATE_FAMILIES = [EXPIRY] as const

/** A sample per certificate the step could read; an unreachable endpoint has none (its finding says why). */
export function certificateSamples(report: Report, stepId: string): MetricSample[] {
  const found = stepData(report, stepId, certificatesData)
  if (!found) return []
  return found.data.certificates.flatMap((checked) => {
    const facts = checked.certificate
    if (!facts) return []
    const labels = { target: checked.target, kind: checked.kind, subject: facts.commonName ?? facts.subject }
    const expiry = Date.parse(facts.notAfter) / 1000
    return Number.isFinite(expiry) ? [{ family: EXPIRY, labels, value: expiry }] : []
  })
}

export const certCheckMetrics: JobMetrics = {
  families: CERTIFICATE_FAMILIES,
  samples: (report) => [...certificateSamples(report, 'files'), ...certificateSamples(report, 'endpoints')],
}
