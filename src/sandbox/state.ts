import { readFile, stat } from 'node:fs/promises'
import { UsageError } from '../errors.js'
import { writeFileAtomic } from '../lib/files.js'
import { commandLine, isAlive, processStart } from '../lib/process.js'
import { readPid } from '../systems/process.js'
import { sandboxLayout, type ComponentName, type Layout } from './layout.js'

/** state.json: what `sandbox up` started and where, and which processes are the sandbox's own. */

const STATE_KIND = 'probe-ops-sandbox'

export interface ComponentState {
  pid?: number
  port: number
  /** The address a client uses: host:port or an http URL. */
  address: string
  pidFile: string
  logFile: string
  /** A stand-in rather than the real program (AlertManager when it is not installed). */
  standIn?: boolean
  /** The process's start (/proc/PID/stat), for one whose command line names nothing of the sandbox's. */
  processStart?: string
}

export interface SandboxState {
  kind: typeof STATE_KIND
  version: 1
  dir: string
  status: 'starting' | 'running' | 'failed'
  /** The `sandbox up` that wrote this, so a second one can tell it is still at work. */
  up: { pid: number; processStart?: string }
  createdAt: string
  readyAt?: string
  configFile: string
  postgres?: { dataDir: string; socketDir?: string; database: string; user: string; osUser?: string }
  data?: { days: number; rowsPerDay: number; rows: number; oldest: string | null; newest: string | null }
  /** The generated agents the `agents` component serves, each at http://127.0.0.1:PORT/metrics. */
  agents?: Array<{ id: string; state: string; port: number }>
  components: Partial<Record<ComponentName, ComponentState>>
  notes: string[]
  error?: string
}

/** The state of a new sandbox, written by this process. */
export function newState(paths: Layout, notes: string[]): SandboxState {
  return {
    kind: STATE_KIND,
    version: 1,
    dir: paths.dir,
    status: 'starting',
    up: { pid: process.pid, processStart: processStart(process.pid) },
    createdAt: new Date().toISOString(),
    configFile: paths.config,
    components: {},
    notes,
  }
}

async function readState(paths: Layout): Promise<SandboxState | undefined> {
  let text: string
  try {
    text = await readFile(paths.state, 'utf8')
  } catch {
    return undefined
  }
  try {
    const state = JSON.parse(text) as SandboxState | null
    return state?.kind === STATE_KIND && typeof state.components === 'object' ? state : undefined
  } catch {
    return undefined
  }
}

/** Writes state.json after every change, one write at a time. */
export class StateFile {
  #pending: Promise<void> = Promise.resolve()
  constructor(
    private readonly path: string,
    readonly state: SandboxState,
  ) {}

  save(): Promise<void> {
    const text = `${JSON.stringify(this.state, null, 2)}\n`
    this.#pending = this.#pending.then(() => writeFileAtomic(this.path, text, 0o644))
    return this.#pending
  }

  record(component: ComponentName, entry: ComponentState): Promise<void> {
    this.state.components[component] = entry
    return this.save()
  }
}

/** Whether the `sandbox up` that wrote the state still runs (and is not this process). */
export function upProcessAlive(state: SandboxState): boolean {
  const { pid, processStart: start } = state.up ?? {}
  if (!pid || pid === process.pid || !isAlive(pid)) return false
  return start === undefined || processStart(pid) === start
}

/** The sandbox in `dir`: its layout, its state when it has one, and whether the directory exists at all. */
export async function inspect(dir: string): Promise<{ paths: Layout; state?: SandboxState; exists: boolean }> {
  const paths = sandboxLayout(dir)
  let info
  try {
    info = await stat(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { paths, exists: false }
    throw new UsageError(`--dir ${dir} cannot be read (${(error as NodeJS.ErrnoException).code})`)
  }
  if (!info.isDirectory())
    throw new UsageError(`--dir ${dir} is a file, not a directory`, 'pass a directory for the sandbox (it is created when missing), e.g. --dir ./.sandbox')
  return { paths, state: await readState(paths), exists: true }
}

export function notASandbox(dir: string): UsageError {
  return new UsageError(
    `${dir} holds no state.json written by \`probe-ops sandbox up\`: it is not a sandbox`,
    'pass the --dir that `probe-ops sandbox up` used (default ./.sandbox)',
  )
}

/**
 * Whether `pid` is this sandbox's `component` and not a stranger that got a recycled pid: its
 * command line names the sandbox's files (redis-server rewrites its own to name its address).
 */
function isComponentProcess(component: ComponentName, pid: number | undefined, paths: Layout, state?: SandboxState): pid is number {
  if (pid === undefined || !isAlive(pid)) return false
  // The exporters' command lines hold only ports: the recorded pid with its recorded start is the proof.
  const recorded = state?.components[component]
  if (recorded?.processStart !== undefined && recorded.pid === pid) return processStart(pid) === recorded.processStart
  const words = commandLine(pid) ?? []
  const cmdline = words.join(' ')
  if (component === 'postgres') return words.includes(paths.pgData)
  if (component === 'redis') {
    const port = state?.components.redis?.port
    return cmdline.includes('redis-server') && (cmdline.includes(paths.redisConf) || (port !== undefined && cmdline.includes(`:${port}`)))
  }
  return cmdline.includes(`${paths.dir}/`)
}

/** The pids a component may run under: its pid file's (it may have been restarted) and the recorded one. */
export async function componentPids(component: ComponentName, paths: Layout, state?: SandboxState): Promise<number[]> {
  const fromFile = await readPid(paths.pidFiles[component]).catch(() => undefined)
  const recorded = state?.components[component]?.pid
  return [...new Set([fromFile, recorded])].filter((pid): pid is number => isComponentProcess(component, pid, paths, state))
}
