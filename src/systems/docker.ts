import { existsSync } from 'node:fs'
import type Docker from 'dockerode'
import type { ServiceConfig } from '../config/load.js'
import { TimeoutError, describeError } from '../errors.js'
import { withTimeout } from '../lib/time.js'
import type { LogLine } from '../logs/entries.js'
import { SystemError, errorCode, isSystemError, networkErrorCode, type SystemErrorCode } from './errors.js'
import { loadDockerode } from './libraries.js'

/** The Docker engine through dockerode (loaded only by the commands that talk to Docker). */

export interface DockerSettings {
  host: string
  composeProject?: string
  timeoutMs: number
}

export async function connectDocker(settings: DockerSettings): Promise<Docker> {
  const DockerClient = loadDockerode()
  const url = settings.host
  let docker: Docker
  if (url.startsWith('unix://') || url.startsWith('/')) {
    const socketPath = url.replace(/^unix:\/\//, '')
    if (!existsSync(socketPath)) {
      throw new SystemError('docker', 'not-found', `the Docker socket ${socketPath} does not exist`, { target: socketPath, data: { missing: 'socket' } })
    }
    docker = new DockerClient({ socketPath, timeout: settings.timeoutMs })
  } else {
    let parsed: URL
    try {
      parsed = new URL(url.replace(/^tcp:/, 'http:'))
    } catch {
      throw new SystemError('docker', 'bad-setting', `DOCKER_HOST "${url}" is not a unix:// or tcp:// address`, { target: url })
    }
    docker = new DockerClient({
      host: parsed.hostname,
      port: Number(parsed.port || 2375),
      protocol: parsed.protocol === 'https:' ? 'https' : 'http',
      timeout: settings.timeoutMs,
    })
  }
  try {
    await withTimeout(`the Docker engine at ${url}`, settings.timeoutMs, docker.ping())
  } catch (error) {
    throw dockerFailure(error, url)
  }
  return docker
}

/** What a Docker error says, by its code: the engine's HTTP status, else the socket's errno. */
export function dockerErrorCode(error: unknown): SystemErrorCode {
  if (isSystemError(error)) return error.code
  if (error instanceof TimeoutError) return 'no-answer'
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode
  if (typeof status === 'number') return status === 404 ? 'not-found' : 'bad-answer'
  return networkErrorCode(errorCode(error)) ?? 'failed'
}

/** The engine's failure, said of the engine at its address. */
export function dockerFailure(error: unknown, url: string): SystemError {
  if (isSystemError(error, 'docker')) return error
  const code = dockerErrorCode(error)
  const options = { cause: error, target: url }
  if (code === 'refused') return new SystemError('docker', code, `the Docker engine refused the connection at ${url}`, options)
  if (code === 'permission') return new SystemError('docker', code, `no permission to use the Docker socket at ${url}`, options)
  if (code === 'no-answer') return new SystemError('docker', code, `the Docker engine at ${url} did not answer in time`, options)
  return new SystemError('docker', code, `Docker at ${url}: ${describeError(error)}`, options)
}

export interface ContainerState {
  id: string
  name: string
  image: string
  /** created, running, paused, restarting, removing, exited, dead */
  state: string
  /** healthy, unhealthy, starting, or undefined when the image has no health check */
  health?: string
  restartCount: number
  startedAt?: string
  finishedAt?: string
  exitCode?: number
  error?: string
  mounts: { source: string; destination: string }[]
}

/** The service's container: by name first, then by compose labels. Undefined when there is none. */
export async function findContainer(
  docker: Docker,
  service: Pick<ServiceConfig, 'container' | 'composeService'>,
  composeProject?: string,
): Promise<string | undefined> {
  const byName = await docker.listContainers({ all: true, filters: { name: [`^/${service.container}$`] } })
  if (byName[0]) return byName[0].Id
  const labels = [`com.docker.compose.service=${service.composeService}`]
  if (composeProject) labels.push(`com.docker.compose.project=${composeProject}`)
  const byLabel = await docker.listContainers({ all: true, filters: { label: labels } })
  return byLabel[0]?.Id
}

export async function inspectContainer(docker: Docker, id: string): Promise<ContainerState> {
  const info = await docker.getContainer(id).inspect()
  const state = info.State as typeof info.State & { Health?: { Status?: string } }
  const zeroTime = (t?: string) => (!t || t.startsWith('0001-') ? undefined : t)
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    state: state.Status,
    health: state.Health?.Status,
    restartCount: info.RestartCount ?? 0,
    startedAt: zeroTime(state.StartedAt),
    finishedAt: zeroTime(state.FinishedAt),
    exitCode: state.ExitCode,
    error: state.Error || undefined,
    mounts: (info.Mounts ?? []).map((m) => ({ source: m.Source, destination: m.Destination })),
  }
}

/**
 * Log lines since a time, stdout and stderr merged, each with the time the engine received it
 * (so a traceback's lines have one too); the engine's multiplexed frames are unpacked.
 */
export async function containerLogs(docker: Docker, id: string, sinceMs: number, tail = 2000): Promise<LogLine[]> {
  const container = docker.getContainer(id)
  const info = await container.inspect()
  const raw = await container.logs({
    stdout: true,
    stderr: true,
    follow: false,
    since: Math.floor((Date.now() - sinceMs) / 1000),
    tail,
    timestamps: true,
  })
  const text = info.Config.Tty ? raw.toString('utf8') : demultiplex(raw)
  return text
    .split(/\r?\n/)
    .map(stampedLine)
    .filter((line) => line.text.length > 0)
}

/** `2026-11-25T10:00:00.123456789Z text`, as the engine writes a line with timestamps on. */
export function stampedLine(line: string): LogLine {
  const space = line.indexOf(' ')
  const at = space > 0 ? Date.parse(line.slice(0, space)) : NaN
  return Number.isNaN(at) ? { text: line } : { text: line.slice(space + 1), at }
}

export function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = []
  let offset = 0
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4)
    parts.push(buffer.subarray(offset + 8, offset + 8 + size))
    offset += 8 + size
  }
  return Buffer.concat(parts).toString('utf8')
}

/** Starts a stopped container; an already running one is left as it is. */
export async function startContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).start()
  } catch (error) {
    // 304: already started.
    if ((error as { statusCode?: number }).statusCode !== 304) throw error
  }
}

/** Stops a container, giving it `graceSeconds` before the engine kills it. */
export async function stopContainer(docker: Docker, id: string, graceSeconds: number): Promise<void> {
  try {
    await docker.getContainer(id).stop({ t: graceSeconds })
  } catch (error) {
    // 304: already stopped.
    if ((error as { statusCode?: number }).statusCode !== 304) throw error
  }
}

export async function restartContainer(docker: Docker, id: string, graceSeconds: number): Promise<void> {
  await docker.getContainer(id).restart({ t: graceSeconds })
}

/** Runs a program in a running container (docker exec) and waits for it, bounded: its exit code and the end of its output. */
export async function execInContainer(docker: Docker, id: string, command: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
  const exec = await docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, Tty: false })
  const stream = await exec.start({ hijack: true, stdin: false })
  let output = ''
  stream.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4096)
  })
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', reject)
  })
  try {
    await withTimeout(`docker exec ${command[0]}`, timeoutMs, ended)
  } finally {
    stream.destroy()
  }
  const inspected = await exec.inspect()
  // The stream's frames carry an 8-byte header each: only the printable text is kept.
  return { exitCode: inspected.ExitCode ?? 1, output: output.replace(/[^\x20-\x7e\n]/g, '').trim() }
}
