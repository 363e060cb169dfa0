import { z } from 'zod'
import { archiveData, dumpData } from '../backup/data.js'
import { certificatesData } from '../cert-check/data.js'
import { cacheData, connectionsData, prometheusData, statementsData, tablesData } from '../performance-report/data.js'
import { packageUpdatesData } from '../shared/data.js'
import type { JobDataSchemas } from '../spec.js'

const finding = z.strictObject({
  id: z.string(),
  severity: z.enum(['info', 'low', 'medium', 'high', 'critical']),
  subject: z.string().optional(),
  message: z.string(),
  fix: z.string().optional(),
})

/** A step of the performance report, as that report has it: its data held to its own schema. */
function performanceStep<Id extends string>(id: Id, data: z.ZodTypeAny) {
  return z.strictObject({
    id: z.literal(id),
    title: z.string(),
    status: z.enum(['ok', 'warning', 'failed', 'skipped']),
    durationMs: z.number(),
    summary: z.string(),
    findings: z.array(finding).optional(),
    details: z.array(z.string()).optional(),
    data: data.optional(),
    error: z.strictObject({ message: z.string(), hint: z.string().optional() }).optional(),
    undone: z.string().optional(),
  })
}

export const performanceReportData = z.strictObject({
  status: z.enum(['ok', 'warning', 'failed']).describe("The performance report's own status."),
  savedTo: z.string().nullable().describe('Where it was kept (reports.dir/performance-YYYY-MM-DD.json); null when it was not.'),
  steps: z
    .array(
      z.discriminatedUnion('id', [
        performanceStep('statements', statementsData),
        performanceStep('cache', cacheData),
        performanceStep('connections', connectionsData),
        performanceStep('tables', tablesData),
        performanceStep('prometheus', prometheusData),
      ]),
    )
    .describe('The steps of the performance report, as `report performance` reports them.'),
})
export type PerformanceReportData = z.infer<typeof performanceReportData>

export const dataSchemas = {
  'maintain-weekly': {
    'backup-database': dumpData,
    'backup-config': archiveData,
    'package-updates': packageUpdatesData,
    certificates: certificatesData,
    'performance-report': performanceReportData,
  },
} satisfies JobDataSchemas
