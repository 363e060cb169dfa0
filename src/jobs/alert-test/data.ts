import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'

export const sendData = z.strictObject({
  testId: z.string().describe("The test_id label that tells this run's alert from every other."),
  url: z.string().describe('alertmanager.url, credentials redacted.'),
})
export type SendData = z.infer<typeof sendData>

export const confirmData = z.strictObject({
  state: z.enum(['active', 'suppressed', 'unprocessed']).describe('The state AlertManager listed the test alert in; suppressed: silenced or inhibited.'),
})
export type ConfirmData = z.infer<typeof confirmData>

export const resolveData = z.strictObject({})
export type ResolveData = z.infer<typeof resolveData>

export const dataSchemas = {
  'alert-test': { send: sendData, confirm: confirmData, resolve: resolveData },
} satisfies JobDataSchemas
