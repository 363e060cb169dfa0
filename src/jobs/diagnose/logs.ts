import { describeError } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { errorLines } from '../../systems/services.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'
import { formatUptime } from './services.js'

export const logsStep: Step<DiagnoseContext> = {
  id: 'logs',
  title: 'Recent errors in service logs',
  async run({ config, runtimes }) {
    const window = formatUptime(Math.round(config.diagnose.sinceMs / 1000))
    const perService = await Promise.all(
      config.services.map(async (service) => {
        try {
          const errors = errorLines(await runtimes.logs(service, config.diagnose.sinceMs))
          return { service: service.name, count: errors.length, newest: errors.slice(-config.diagnose.errorLines) }
        } catch (error) {
          return { service: service.name, count: 0, newest: [], error: describeError(error), hint: (error as { hint?: string }).hint }
        }
      }),
    )
    const problems: Problem[] = []
    const details: string[] = []
    const unread = new Map<string, { names: string[]; hint?: string }>()
    for (const s of perService) {
      if (s.error) {
        const entry = unread.get(s.error) ?? { names: [], hint: s.hint }
        entry.names.push(s.service)
        unread.set(s.error, entry)
        continue
      }
      details.push(`${s.service}: ${s.count} error line${s.count === 1 ? '' : 's'} in the last ${window}`)
      for (const line of s.newest) details.push(`  ${line.slice(0, 240)}`)
      if (s.count > 0) problems.push({ severity: 'warning', message: `${s.service}: ${s.count} error lines in the last ${window}`, next: `read them in full: probe-ops diagnose --only logs --json, or the service's own logs` })
    }
    for (const [message, { names, hint }] of unread) {
      problems.push({ severity: 'warning', message: `logs of ${names.join(', ')} not read: ${message}`, next: hint ?? 'check the service runtime' })
    }
    const total = perService.reduce((a, s) => a + s.count, 0)
    return verdict(`${total} error line${total === 1 ? '' : 's'} in the last ${window}`, details, problems, { window: config.diagnose.sinceMs, services: perService })
  },
}
