import { Flags } from '@oclif/core'
import { defineJobCommand } from '../cli/define-job-command.js'
import { durationFlag, durationOf } from '../cli/duration-flag.js'
import { RANGES } from '../config/ranges.js'
import { agents } from '../jobs/agents/spec.js'

export default defineJobCommand(agents, {
  summary: 'Every probe agent through Prometheus (and the agents table): connection, heartbeat, tasks, resources and a verdict.',
  description: {
    intro:
      "One line per agent Prometheus scrapes in the agents job (agents.job), down ones included with their scrape error, and per agent the agents table lists (agents.databaseQuery): connection state, time since the last heartbeat, tasks per second and failure rate over the window, CPU, memory and disk, and a verdict against the guide's thresholds (failures above 10 %, CPU above 80 %, memory above 85 %, disk above 90 %). Where Prometheus and the table disagree, it says so. A handful of aggregate queries, whatever the size of the fleet. Changes nothing.",
    outro: 'With --agent ID: that agent alone, its tasks by protocol, and its recent errors through Loki when loki.url is set.',
  },
  examples: ['<%= config.bin %> agents', '<%= config.bin %> agents --agent agent-007 --window 1h', '<%= config.bin %> agents --json > agents.json'],
  flags: {
    agent: Flags.string({ description: 'only this agent: its agent_id label (or instance), or its name in the agents table', helpValue: 'ID' }),
    window: durationFlag('the window of task throughput, failure rate and heartbeats: 5m, 1h, 1d (default: agents.window, 5m)'),
  },
  options: ({ flags }) => {
    const windowMs = durationOf(flags.window, 'window', RANGES.window)
    return { ...(flags.agent !== undefined ? { agent: flags.agent } : {}), ...(windowMs !== undefined ? { windowMs } : {}) }
  },
})
