import { StepFailure } from '../../errors.js'
import { formatDuration } from '../../lib/duration.js'
import { plural } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { redactUrl } from '../../lib/redact.js'
import { hintOf } from '../hints.js'
import { matcher, readLokiErrors } from '../shared/loki-errors.js'
import { stepBound, type AgentsContext } from './context.js'
import type { AgentLogsData, FleetData } from './data.js'
import { lookAtFleet } from './fleet.js'

/** Error groups shown, each with its count and newest time. */
const SHOWN_GROUPS = 10

export const fleet: StepDefinition<AgentsContext, FleetData> = {
  timeoutMs: stepBound,
  run: ({ config, agent, windowMs, timeoutMs }) => lookAtFleet({ config, agent, windowMs, timeoutMs, list: 'every' }),
}

export const logs: StepDefinition<AgentsContext, AgentLogsData> = {
  timeoutMs: (context) => stepBound({ timeoutMs: context.config.loki.timeoutMs }),
  async run({ config, agent, windowMs }) {
    if (agent === undefined) return { skipped: true, summary: 'only for one agent: --agent ID reads its errors through Loki' }
    if (!config.loki.url) return { skipped: true, summary: "loki.url is not set: the agent's log stays on its host" }
    const loki = redactUrl(config.loki.url)
    const read = await readLokiErrors(config.loki, {
      matchers: [matcher('job', 'agents'), matcher('agent_id', agent)],
      sinceMs: windowMs,
      timeoutMs: config.loki.timeoutMs,
      groupOf: () => agent,
    }).catch((error: unknown) => {
      throw new StepFailure((error as Error).message, hintOf(error))
    })
    const summary = read.groups.get(agent) ?? { errors: 0, warnings: 0, groups: [] }
    const window = formatDuration(windowMs)
    const entries = summary.groups.slice(0, SHOWN_GROUPS).map((g) => ({
      first: g.first,
      count: g.count,
      ...(g.newestAt !== undefined ? { newestAt: new Date(g.newestAt).toISOString() } : {}),
    }))
    return {
      summary: `${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')} of ${agent} in the last ${window}`,
      findings: [
        ...(summary.errors > 0
          ? [
              {
                id: `agent-log-errors:${agent}`,
                severity: 'medium' as const,
                subject: agent,
                message: `${plural(summary.errors, 'error')} (${plural(summary.groups.length, 'kind')}) in ${agent}'s log in the last ${window}`,
                fix: `read them in full: probe-ops agents --agent ${agent} --json, or in Grafana: {job="agents", agent_id="${agent}"}`,
              },
            ]
          : []),
        ...(read.limited
          ? [
              {
                id: `agent-log-limited:${agent}`,
                severity: 'info' as const,
                message: `Loki returned loki.lineLimit (${config.loki.lineLimit}) lines: older ones are not counted`,
              },
            ]
          : []),
      ],
      details: entries.map((e) => `${e.count}× ${e.first}${e.newestAt ? ` (newest ${e.newestAt.slice(11, 19)}Z)` : ''}`),
      data: { agent, loki, windowMs, lines: read.lines, errors: summary.errors, warnings: summary.warnings, entries },
    }
  },
}
