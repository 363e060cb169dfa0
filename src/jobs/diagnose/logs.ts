import { describeError } from '../../errors.js'
import { plural } from '../../lib/format.js'
import { summarizeLines, type ErrorGroup, type ErrorSummary } from '../../logs/errors.js'
import type { StepDefinition } from '../../report/outcome.js'
import { hintOf } from '../hints.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { LogsData } from './data.js'
import { formatUptime, logFindings } from './findings.js'
import { lokiServiceLogs } from './loki-logs.js'

/** Lines of one error shown under its first line: enough for a PostgreSQL STATEMENT or a traceback's end. */
const SHOWN_LINES = 4
/** Lines of one error kept in the report. */
const KEPT_LINES = 20
const LINE_CHARS = 240

type ServiceLogs = { service: string; read: true; summary: ErrorSummary } | { service: string; read: false; error: string; hint?: string }

function clip(line: string): string {
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)}…` : line
}

/** "300× <first line> (newest 10:04:59Z)", then the lines that continue it. */
function describeGroup(group: ErrorGroup): string[] {
  const newest = group.newestAt === undefined ? '' : ` (newest ${new Date(group.newestAt).toISOString().slice(11, 19)}Z)`
  const rest = group.lines.slice(1)
  const shown = rest.length > SHOWN_LINES ? [...rest.slice(0, SHOWN_LINES - 1), `… ${rest.length - SHOWN_LINES + 1} more lines`, rest.at(-1)!] : rest
  return [`  ${group.count}× ${clip(group.first)}${newest}`, ...shown.map((line) => `      ${clip(line.trim())}`)]
}

function groupData(group: ErrorGroup) {
  return {
    first: group.first,
    count: group.count,
    ...(group.newestAt !== undefined ? { newestAt: new Date(group.newestAt).toISOString() } : {}),
    lines: group.lines.slice(0, KEPT_LINES).map(clip),
    ...(group.lines.length > KEPT_LINES ? { moreLines: group.lines.length - KEPT_LINES } : {}),
  }
}

/** Each service's errors with its groups, then what was not read, for the terminal. */
function describeLogs(perService: ServiceLogs[], window: string, shownGroups: number): string[] {
  const details: string[] = []
  for (const s of perService) {
    if (!s.read) continue
    const { errors, warnings, groups } = s.summary
    const distinct = groups.length > 1 ? ` (${groups.length} distinct)` : ''
    details.push(`${s.service}: ${plural(errors, 'error')}${distinct}${warnings ? `, ${plural(warnings, 'warning')}` : ''} in the last ${window}`)
    for (const group of groups.slice(0, shownGroups)) details.push(...describeGroup(group))
    if (groups.length > shownGroups) details.push(`  … ${groups.length - shownGroups} more (diagnose.errorLines shows ${shownGroups})`)
  }
  return details
}

/** How many errors, and in whose logs when not every log could be read: never "0 errors" from logs not read. */
function summarize(perService: ServiceLogs[], window: string): string {
  const read = perService.filter((s) => s.read)
  const total = read.reduce((sum, s) => sum + s.summary.errors, 0)
  const notRead = perService.filter((s) => !s.read).map((s) => s.service)
  if (read.length === 0) return `no service log read (${notRead.join(', ')})`
  if (notRead.length === 0) return `${plural(total, 'error')} in the last ${window}`
  return `${plural(total, 'error')} in the last ${window} in the logs of ${read.map((s) => s.service).join(', ')}; not read: ${notRead.join(', ')}`
}

export const logs: StepDefinition<DiagnoseContext, LogsData> = {
  timeoutMs: checkBound,
  async run({ config, runtimes, sinceMs, checkTimeoutMs }) {
    const window = formatUptime(Math.round(sinceMs / 1000))
    const shownGroups = config.diagnose.errorLines
    const perService: ServiceLogs[] = config.loki.url
      ? await lokiServiceLogs(config, sinceMs, checkTimeoutMs)
      : await Promise.all(
          config.services.map(async (service): Promise<ServiceLogs> => {
            try {
              return { service: service.name, read: true, summary: summarizeLines(await runtimes.logs(service, sinceMs)) }
            } catch (error) {
              const hint = hintOf(error)
              return { service: service.name, read: false, error: describeError(error), ...(hint ? { hint } : {}) }
            }
          }),
        )
    return {
      summary: summarize(perService, window),
      findings: logFindings(
        perService.map((s) => (s.read ? { service: s.service, read: true, errors: s.summary.errors, distinct: s.summary.groups.length } : s)),
        window,
      ),
      details: describeLogs(perService, window, shownGroups),
      data: {
        window: sinceMs,
        services: perService.map((s) =>
          s.read
            ? {
                service: s.service,
                read: true,
                errors: s.summary.errors,
                distinct: s.summary.groups.length,
                warnings: s.summary.warnings,
                entries: s.summary.groups.slice(0, shownGroups).map(groupData),
              }
            : s,
        ),
      },
    }
  },
}
