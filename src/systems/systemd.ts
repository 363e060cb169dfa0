import type { ServiceConfig } from '../config/load.js'
import { StepFailure, describeError } from '../errors.js'
import type { LogLine } from '../logs/entries.js'
import { journalLine, journalLines } from './journal.js'
import { runInOwnGroup } from './process-group.js'

/** systemd units through systemctl and journalctl (execa, argument arrays). */

export interface UnitState {
  unit: string
  loadState: string
  activeState: string
  subState: string
  restarts: number
  activeSince?: string
  mainPid?: number
}

async function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const result = await runInOwnGroup(command, args, { timeout: timeoutMs, reject: false, stdin: 'ignore' })
    if (result.timedOut)
      throw new StepFailure(`${command} ${args[0]} did not finish within ${timeoutMs} ms`, 'systemd is slow to answer: check `systemctl status`')
    if (result.failed && result.exitCode === undefined) throw new Error(result.shortMessage)
    if (result.failed && !result.stdout) {
      const why = String(result.stderr).split('\n')[0] || `exit code ${result.exitCode}`
      throw new StepFailure(
        `${command}: ${why}`,
        /booted with systemd|Failed to connect to bus/.test(String(result.stderr))
          ? 'this host does not run systemd: set the service runtime to docker or process'
          : undefined,
      )
    }
    return result.stdout
  } catch (error) {
    if (error instanceof StepFailure) throw error
    const code = (error as { code?: string }).code
    if (code === 'ENOENT') throw new StepFailure(`${command} is not installed here`, 'this host does not run systemd: set the service runtime to docker')
    throw new StepFailure(`${command} ${args[0]}: ${describeError(error)}`)
  }
}

export async function unitState(service: Pick<ServiceConfig, 'unit'>, timeoutMs: number): Promise<UnitState> {
  const out = await run('systemctl', ['show', service.unit, '--property=LoadState,ActiveState,SubState,NRestarts,ActiveEnterTimestamp,MainPID'], timeoutMs)
  const props: Record<string, string> = {}
  for (const line of out.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) props[line.slice(0, at)] = line.slice(at + 1)
  }
  const since = props.ActiveEnterTimestamp ? Date.parse(props.ActiveEnterTimestamp.replace(/^\w{3} /, '')) : NaN
  return {
    unit: service.unit,
    loadState: props.LoadState ?? 'unknown',
    activeState: props.ActiveState ?? 'unknown',
    subState: props.SubState ?? 'unknown',
    restarts: Number(props.NRestarts ?? 0) || 0,
    activeSince: Number.isNaN(since) ? undefined : new Date(since).toISOString(),
    mainPid: Number(props.MainPID) || undefined,
  }
}

/** The unit's journal entries of the last `sinceMs`, each with its time. */
export async function unitLogs(service: Pick<ServiceConfig, 'unit'>, sinceMs: number, timeoutMs: number, lines = 2000): Promise<LogLine[]> {
  return (await journalLines(['--unit', service.unit], { sinceMs, timeoutMs, lines })).map(journalLine)
}

/** systemctl start|stop|restart, bounded. */
export async function controlUnit(service: Pick<ServiceConfig, 'unit'>, action: 'start' | 'stop' | 'restart', timeoutMs: number): Promise<void> {
  const result = await runInOwnGroup('systemctl', [action, service.unit], { timeout: timeoutMs, reject: false, stdin: 'ignore' })
  if (result.timedOut)
    throw new StepFailure(`systemctl ${action} ${service.unit} did not finish within ${timeoutMs} ms`, `see \`systemctl status ${service.unit}\``)
  if (result.failed) {
    const why = String(result.stderr).split('\n')[0] || result.shortMessage
    throw new StepFailure(`systemctl ${action} ${service.unit}: ${why}`, `see \`journalctl -u ${service.unit} -n 50\``)
  }
}
