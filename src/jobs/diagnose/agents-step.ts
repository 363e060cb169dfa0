import type { StepDefinition } from '../../report/outcome.js'
import type { FleetData } from '../agents/data.js'
import { lookAtFleet } from '../agents/fleet.js'
import { checkTimeout, type PlatformCheckContext } from './monitoring-step.js'

/** diagnose's agents step: the `agents` command's look at the fleet, listing only the agents in trouble. */
export const agents: StepDefinition<PlatformCheckContext, FleetData> = {
  timeoutMs: (context) => 2 * checkTimeout(context) + 1000,
  run: (context) => lookAtFleet({ config: context.config, windowMs: context.config.agents.windowMs, timeoutMs: checkTimeout(context), list: 'troubled' }),
}
