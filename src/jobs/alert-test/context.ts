import type { Config } from '../../config/load.js'

/** `alert test --severity`: what the command's flags ask of the job. */
export interface AlertTestOptions {
  severity: string
}

export interface AlertTestContext {
  config: Readonly<Config>
  /** Tells this run's test alert from every other. */
  testId: string
  severity: string
}

export const TEST_ALERT = 'ProbeOpsTestAlert'
