import type { StepDefinition } from '../../report/outcome.js'
import type { FleetData } from '../agents/data.js'
import { lookAtFleet } from '../agents/fleet.js'
import { checkBound, type DiagnoseContext } from './context.js'

/** diagnose's agents step: the `agents` command's look at the fleet, listing only the agents in trouble. */
export const agents: StepDefinition<DiagnoseContext, FleetData> = {
  // The sources at once, then each one's figures: two rounds.
  timeoutMs: (context) => checkBound(context) + context.checkTimeoutMs,
  async run({ config, checkTimeoutMs }) {
    // No Prometheus is the user's choice: the fleet is not looked at, which is not "no agents in trouble".
    if (!config.prometheus.url) return { skipped: true, summary: 'not configured: prometheus.url is empty' }
    return lookAtFleet({ config, windowMs: config.agents.windowMs, timeoutMs: checkTimeoutMs, list: 'troubled' })
  },
}
