import { describeError } from '../../errors.js'
import { summarizeLines, type ErrorGroup, type ErrorSummary } from '../../logs/errors.js'
import type { Step } from '../../report/runner.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'
import { lokiServiceLogs } from './loki-logs.js'
import { formatUptime } from './services.js'
import { plural } from '../../lib/words.js'
import { hintOf } from '../hints.js'

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

export const logsStep: Step<DiagnoseContext> = {
  id: 'logs',
  title: 'Recent errors in service logs',
  async run({ config, runtimes }) {
    const window = formatUptime(Math.round(config.diagnose.sinceMs / 1000))
    const shownGroups = config.diagnose.errorLines
    const perService: ServiceLogs[] = config.loki.url
      ? await lokiServiceLogs(config, config.diagnose.sinceMs, config.diagnose.checkTimeoutMs)
      : await Promise.all(
          config.services.map(async (service): Promise<ServiceLogs> => {
            try {
              return { service: service.name, read: true, summary: summarizeLines(await runtimes.logs(service, config.diagnose.sinceMs)) }
            } catch (error) {
              return { service: service.name, read: false, error: describeError(error), hint: hintOf(error) }
            }
          }),
        )
    const problems: Problem[] = []
    const details: string[] = []
    // One problem per reason, naming every source it kept unread (Docker down is one reason for all).
    const unread = new Map<string, { names: string[]; hint?: string }>()
    for (const s of perService) {
      if (!s.read) {
        const entry = unread.get(s.error) ?? { names: [], hint: s.hint }
        entry.names.push(s.service)
        unread.set(s.error, entry)
        continue
      }
      const { errors, warnings, groups } = s.summary
      const distinct = groups.length > 1 ? ` (${groups.length} distinct)` : ''
      details.push(`${s.service}: ${plural(errors, 'error')}${distinct}${warnings ? `, ${plural(warnings, 'warning')}` : ''} in the last ${window}`)
      for (const group of groups.slice(0, shownGroups)) details.push(...describeGroup(group))
      if (groups.length > shownGroups) details.push(`  … ${groups.length - shownGroups} more (diagnose.errorLines shows ${shownGroups})`)
      if (errors > 0)
        problems.push({
          severity: 'warning',
          message: `${s.service}: ${plural(errors, 'error')}${distinct} in the last ${window}`,
          next: `read them in full: probe-ops diagnose --only logs --json, or the service's own logs`,
        })
    }
    // What was not read comes first: a count that leaves sources out must not look like the whole.
    const unreadProblems: Problem[] = [...unread].map(([message, { names, hint }]) => ({
      severity: 'warning',
      message: `logs of ${names.join(', ')} not read: ${message}`,
      next: hint ?? 'check the service runtime',
    }))
    for (const p of unreadProblems) details.push(p.message)

    const read = perService.filter((s) => s.read)
    const total = read.reduce((sum, s) => sum + s.summary.errors, 0)
    const notRead = perService.filter((s) => !s.read).map((s) => s.service)
    const summary =
      read.length === 0
        ? `no service log read (${notRead.join(', ')})`
        : notRead.length === 0
          ? `${plural(total, 'error')} in the last ${window}`
          : `${plural(total, 'error')} in the last ${window} in the logs of ${read.map((s) => s.service).join(', ')}; not read: ${notRead.join(', ')}`
    const data = {
      window: config.diagnose.sinceMs,
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
          : { service: s.service, read: false, error: s.error, ...(s.hint ? { hint: s.hint } : {}) },
      ),
    }
    return verdict(summary, details, [...unreadProblems, ...problems], data)
  },
}
