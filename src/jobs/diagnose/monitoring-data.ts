import { z } from 'zod'

/** The data of diagnose's monitoring step (its agents step's is the `agents` command's fleetData). */

const reached = {
  url: z.string().describe('Its address, credentials redacted.'),
  ready: z.boolean().describe('It answered its readiness check.'),
  error: z.string().optional().describe('Why it is not ready, or could not be read.'),
}

export const monitoringData = z
  .object({
    prometheus: z
      .object({
        ...reached,
        targets: z.number().optional().describe('Active scrape targets.'),
        downTargets: z.array(z.object({ job: z.string(), instance: z.string(), error: z.string() }).strict()).optional(),
        ruleGroups: z.number().optional(),
        rules: z.number().optional(),
        failingRules: z.array(z.object({ group: z.string(), rule: z.string(), error: z.string() }).strict()).optional(),
        exporters: z
          .array(
            z
              .object({
                name: z.enum(['node', 'postgres', 'redis']),
                job: z.string(),
                state: z.enum(['up', 'down', 'absent']).describe('absent: Prometheus has no target in that job.'),
                reaches: z.boolean().optional().describe('pg_up / redis_up: the exporter reaches its server.'),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .optional()
      .describe('Absent when prometheus.url is empty.'),
    alertmanager: z
      .object({
        ...reached,
        receivers: z.array(z.object({ name: z.string(), integrations: z.array(z.string()) }).strict()).optional(),
      })
      .strict(),
    loki: z
      .object({ ...reached, detail: z.string().optional() })
      .strict()
      .optional()
      .describe("Absent when loki.url is ''."),
  })
  .strict()
export type MonitoringData = z.infer<typeof monitoringData>
