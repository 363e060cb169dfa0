import { randomUUID } from 'node:crypto'
import { defineJob } from '../spec.js'
import type { AlertTestContext, AlertTestOptions } from './context.js'

/**
 * `alert test`: the guide's curl to AlertManager, end to end: sent, seen active, resolved. Each
 * step builds on the one before, so a failure skips the rest.
 */
export const alertTest = defineJob({
  id: 'alert-test',
  command: 'alert test',
  order: 'sequential',
  stopOnFailure: true,
  steps: [
    {
      id: 'send',
      title: 'Send a test alert to AlertManager (API v2)',
      summary: 'post ProbeOpsTestAlert, labelled with a unique test_id',
      load: async () => (await import('./steps.js')).send,
    },
    {
      id: 'confirm',
      title: 'See it active in AlertManager',
      summary: 'wait (up to 10 s) until AlertManager lists it; silenced or inhibited is a warning',
      load: async () => (await import('./steps.js')).confirm,
    },
    {
      id: 'resolve',
      title: 'Resolve the test alert',
      summary: 'post it again as ended, so that it resolves at once',
      load: async () => (await import('./steps.js')).resolve,
    },
  ],
  context: (config, options: AlertTestOptions): AlertTestContext => ({ config, testId: randomUUID(), severity: options.severity }),
})
