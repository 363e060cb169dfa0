import { z } from 'zod'
import { serviceRuntime } from '../diagnose/data.js'
import type { JobDataSchemas } from '../spec.js'

const action = z.enum(['start', 'restart'])

export const recoveryData = z.strictObject({
  service: z.string(),
  runtime: serviceRuntime,
  timeline: z
    .array(
      z.strictObject({
        at: z.string(),
        elapsedMs: z.number().describe("Since the service's recovery began."),
        event: z.string().describe('look, silence, plan, start, restart, retry, ready or failed.'),
        detail: z.string(),
      }),
    )
    .describe('What recover did and saw, each with its time.'),
  before: z
    .strictObject({
      state: z.string(),
      running: z.boolean(),
      restarts: z.number().optional(),
      ready: z.boolean(),
      readiness: z.string(),
      recentErrors: z.number().optional().describe('Errors in its logs of the last 15 min; absent when they could not be read.'),
    })
    .optional()
    .describe('What the look found before anything was done.'),
  plan: action.optional().describe('A dry run: what it would do.'),
  action: action.optional(),
  attempts: z.number().optional(),
  readyAfterMs: z.number().optional(),
  state: z.string().optional().describe("The runtime's state after a recovery that failed."),
  runtimeError: z.string().optional(),
  logTail: z.array(z.string()).optional().describe('The last lines of its log, when it could not be recovered.'),
})
export type RecoveryData = z.infer<typeof recoveryData>

/** recover's steps are the services it recovers, one schema for each. */
export const dataSchemas = { recover: { '*': recoveryData } } satisfies JobDataSchemas
