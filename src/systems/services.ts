import type Docker from 'dockerode'
import type { Config, ServiceConfig } from '../config/load.js'
import { SystemError } from './errors.js'
import { timedLines, withinWindow, type LogLine } from '../logs/entries.js'
import type { ContainerState } from './docker.js'
import { join } from 'node:path'
import { isStoppedState } from '../lib/process.js'
import type { ProcessService } from './process.js'

/**
 * Each runtime's module, loaded when a service on that runtime is first looked at: a platform
 * all in Docker never loads the systemd and pid-file code, one without Docker not the Docker code.
 */
const runtime = {
  docker: () => import('./docker.js'),
  systemd: () => import('./systemd.js'),
  process: () => import('./process.js'),
}

/** A configured service seen through its runtime, whichever that is. */
export interface ServiceStatus {
  name: string
  runtime: ServiceConfig['runtime']
  /** What the runtime calls it: container, unit or pid file. */
  target: string
  found: boolean
  running: boolean
  state: string
  health?: string
  restarts?: number
  startedAt?: string
  uptimeSeconds?: number
  /** A process service's pid, when its pid file names it. */
  pid?: number
  /** A process stopped by a signal (/proc state T): it holds its port and answers nothing. */
  stoppedBySignal?: boolean
}

/** Opens the runtimes' clients once per job and only when a service needs them. */
export class ServiceRuntimes {
  #docker?: Promise<Docker>

  constructor(private readonly config: Config) {}

  docker(): Promise<Docker> {
    this.#docker ??= runtime.docker().then(({ connectDocker }) => connectDocker(this.config.docker))
    // A failed connection is not cached as a success: every caller sees the same failure.
    return this.#docker
  }

  async status(service: ServiceConfig): Promise<ServiceStatus> {
    const now = Date.now()
    const uptime = (since?: string) => (since ? Math.max(0, Math.round((now - Date.parse(since)) / 1000)) : undefined)
    if (service.runtime === 'docker') {
      const { findContainer, inspectContainer } = await runtime.docker()
      const docker = await this.docker()
      const id = await findContainer(docker, service, this.config.docker.composeProject)
      if (!id) return { name: service.name, runtime: 'docker', target: service.container, found: false, running: false, state: 'missing' }
      const c = await inspectContainer(docker, id)
      const running = c.state === 'running'
      return {
        name: service.name,
        runtime: 'docker',
        target: c.name,
        found: true,
        running,
        state: running ? c.state : `${c.state}${c.exitCode !== undefined ? ` (exit ${c.exitCode})` : ''}`,
        health: c.health,
        restarts: c.restartCount,
        startedAt: c.startedAt,
        uptimeSeconds: running ? uptime(c.startedAt) : undefined,
      }
    }
    if (service.runtime === 'systemd') {
      const { unitState } = await runtime.systemd()
      const unit = await unitState(service, this.config.systemd.timeoutMs)
      const found = unit.loadState !== 'not-found'
      const running = unit.activeState === 'active'
      return {
        name: service.name,
        runtime: 'systemd',
        target: unit.unit,
        found,
        running,
        state: found ? `${unit.activeState} (${unit.subState})` : 'missing',
        restarts: unit.restarts,
        startedAt: unit.activeSince,
        uptimeSeconds: running ? uptime(unit.activeSince) : undefined,
      }
    }
    const { describeOther, inspectPidFile } = await runtime.process()
    const found = await inspectPidFile(this.#processService(service))
    const base = { name: service.name, runtime: 'process' as const, target: service.pidFile!, found: true }
    // A process service is deployed by its configuration; a missing pid file means stopped.
    if (found.kind === 'no pid file') return { ...base, running: false, state: 'no pid file' }
    if (found.kind === 'gone') return { ...base, running: false, state: `stopped (pid ${found.pid} gone)` }
    if (found.kind === 'other') return { ...base, running: false, state: `not running: ${describeOther(found)}` }
    const startedAt = found.process.startedAt.toISOString()
    const stoppedBySignal = isStoppedState(found.process.state)
    return {
      ...base,
      pid: found.pid,
      running: true,
      state: stoppedBySignal ? `stopped by a signal (pid ${found.pid}, /proc state ${found.process.state})` : 'running',
      startedAt,
      uptimeSeconds: uptime(startedAt),
      ...(stoppedBySignal ? { stoppedBySignal } : {}),
    }
  }

  /** A process service as the process module sees it; probe-ops' records live in its lock directory. */
  #processService(service: ServiceConfig): ProcessService {
    return { name: service.name, pidFile: service.pidFile!, start: service.start, recordFile: join(this.config.lock.dir, 'processes', `${service.name}.json`) }
  }

  /** The service's container, or a failure that says it is gone and will not be recreated silently. */
  async container(service: ServiceConfig): Promise<{ docker: Docker; id: string; state: ContainerState }> {
    const { findContainer, inspectContainer } = await runtime.docker()
    const docker = await this.docker()
    const id = await findContainer(docker, service, this.config.docker.composeProject)
    if (!id) {
      throw new SystemError(
        'docker',
        'not-found',
        `there is no container for ${service.name} (name ${service.container}, compose service ${service.composeService}); it is not recreated silently`,
        { target: service.name, data: { missing: 'container', composeService: service.composeService } },
      )
    }
    return { docker, id, state: await inspectContainer(docker, id) }
  }

  async start(service: ServiceConfig): Promise<void> {
    if (service.runtime === 'docker') {
      const { startContainer } = await runtime.docker()
      const { docker, id } = await this.container(service)
      return startContainer(docker, id)
    }
    if (service.runtime === 'systemd') return (await runtime.systemd()).controlUnit(service, 'start', service.readinessTimeoutMs)
    if (!service.start)
      throw new SystemError('process', 'bad-setting', `${service.name} has no start command`, { target: service.name, data: { setting: 'start' } })
    const { startProcess } = await runtime.process()
    return startProcess({ ...this.#processService(service), start: service.start }, service.logFile, service.readinessTimeoutMs)
  }

  async stop(service: ServiceConfig): Promise<void> {
    if (service.runtime === 'docker') {
      const { stopContainer } = await runtime.docker()
      const { docker, id } = await this.container(service)
      return stopContainer(docker, id, service.stopGraceSeconds)
    }
    if (service.runtime === 'systemd') return (await runtime.systemd()).controlUnit(service, 'stop', (service.stopGraceSeconds + 30) * 1000)
    const { stopProcess } = await runtime.process()
    return stopProcess(this.#processService(service), service.stopGraceSeconds * 1000, service.stopSignal)
  }

  async restart(service: ServiceConfig): Promise<void> {
    if (service.runtime === 'docker') {
      const { restartContainer } = await runtime.docker()
      const { docker, id } = await this.container(service)
      return restartContainer(docker, id, service.stopGraceSeconds)
    }
    if (service.runtime === 'systemd')
      return (await runtime.systemd()).controlUnit(service, 'restart', service.readinessTimeoutMs + service.stopGraceSeconds * 1000)
    await this.stop(service)
    return this.start(service)
  }

  /**
   * The service's log lines of the last `sinceMs`, oldest first. A log that cannot be read is a
   * failure that says why, never an empty log.
   */
  async logs(service: ServiceConfig, sinceMs: number): Promise<LogLine[]> {
    if (service.runtime === 'docker') {
      const { containerLogs, findContainer } = await runtime.docker()
      const docker = await this.docker()
      const id = await findContainer(docker, service, this.config.docker.composeProject)
      if (!id) throw new SystemError('docker', 'not-found', `no container for ${service.name}`, { target: service.name, data: { missing: 'container' } })
      return containerLogs(docker, id, sinceMs)
    }
    if (service.runtime === 'systemd') return (await runtime.systemd()).unitLogs(service, sinceMs, this.config.systemd.timeoutMs)
    if (!service.logFile)
      throw new SystemError('process', 'bad-setting', `no log file is configured for ${service.name}`, { target: service.name, data: { setting: 'logFile' } })
    const { tailFile } = await runtime.process()
    return withinWindow(timedLines(await tailFile(service.logFile)), sinceMs)
  }
}
