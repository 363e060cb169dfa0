import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

export const sendData = z
  .object({
    testId: z.string().describe("The test_id label that tells this run's alert from every other."),
    url: z.string().describe('alertmanager.url, credentials redacted.'),
  })
  .strict()
export type SendData = z.infer<typeof sendData>

export const confirmData = z
  .object({
    state: z.enum(['active', 'suppressed', 'unprocessed']).describe('The state AlertManager listed the test alert in; suppressed: silenced or inhibited.'),
  })
  .strict()
export type ConfirmData = z.infer<typeof confirmData>

export const resolveData = z.object({}).strict()
export type ResolveData = z.infer<typeof resolveData>

export const dataSchemas = {
  'alert-test': { send: sendData, confirm: confirmData, resolve: resolveData },
} satisfies JobDataSchemas
