import { statSync } from 'node:fs'
import type { ServiceConfig } from '../config/load.js'
import type { LogLine } from '../logs/entries.js'
import { SystemError } from './errors.js'
import { journalLine, journalLines } from './journal.js'
import { ProgramError, findExecutable, runProgram, type ProgramResult } from './programs.js'

/**
 * systemd units through systemctl and journalctl (programs.ts, argument arrays), each call bounded
 * by its caller (systemd.timeoutSeconds, a service's readiness and stop bounds).
 */

export interface UnitState {
  unit: string
  loadState: string
  activeState: string
  subState: string
  restarts: number
  activeSince?: string
  mainPid?: number
}

/** Whether systemd is this host's init: sd_booted(3) asks whether /run/systemd/system is a directory. */
function bootedWithSystemd(): boolean {
  try {
    return statSync('/run/systemd/system').isDirectory()
  } catch {
    return false
  }
}

/** The first line systemctl wrote to stderr, else its exit code. */
function said(result: ProgramResult): string {
  return result.stderr.split('\n')[0] || `exit code ${result.exitCode}`
}

/**
 * systemctl with these arguments, bounded, as a ProgramResult; a SystemError of systemd when it is
 * not installed, could not run or ran past `timeoutMs`. `action` names the call in what it throws.
 */
async function systemctl(args: string[], timeoutMs: number, action: string, target: string): Promise<ProgramResult> {
  const file = await findExecutable('systemctl')
  if (!file) throw new SystemError('systemd', 'not-installed', 'systemctl is not installed here', { target, data: { action } })
  try {
    return await runProgram(file, args, { timeoutMs })
  } catch (error) {
    if (!(error instanceof ProgramError)) throw error
    const call = action === 'show' ? 'systemctl show' : `systemctl ${action} ${target}`
    const options = { cause: error, target, data: { action } }
    if (error.kind === 'timeout') throw new SystemError('systemd', 'timeout', `${call} did not finish within ${timeoutMs} ms`, options)
    throw new SystemError('systemd', 'failed', `${call}: ${error.message}`, options)
  }
}

export async function unitState(service: Pick<ServiceConfig, 'unit'>, timeoutMs: number): Promise<UnitState> {
  const result = await systemctl(
    ['show', service.unit, '--property=LoadState,ActiveState,SubState,NRestarts,ActiveEnterTimestamp,MainPID'],
    timeoutMs,
    'show',
    service.unit,
  )
  // Output with a failure is still the unit's properties; a failure with none says why.
  if (result.exitCode !== 0 && !result.stdout) {
    const booted = bootedWithSystemd()
    throw new SystemError('systemd', booted ? 'failed' : 'refused', `systemctl: ${said(result)}`, { target: service.unit, data: { action: 'show', booted } })
  }
  const out = result.stdout
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
  const result = await systemctl([action, service.unit], timeoutMs, action, service.unit)
  if (result.exitCode !== 0)
    throw new SystemError('systemd', 'failed', `systemctl ${action} ${service.unit}: ${said(result)}`, { target: service.unit, data: { action } })
}
