import type { Config } from '../../config/load.js'

export interface SecurityContext {
  config: Readonly<Config>
  /** Fixed at the start of the run: every window is measured from it. */
  now: Date
}
