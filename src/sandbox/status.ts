import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { COMPONENTS, type ComponentName, type Layout } from './layout.js'
import { componentPids, inspect, notASandbox, upProcessAlive, type SandboxState } from './state.js'

export interface ComponentStatus {
  name: ComponentName
  running: boolean
  pid?: number
  port?: number
  address?: string
  standIn?: boolean
  logFile?: string
}

export interface SandboxStatus {
  dir: string
  /** absent: no directory; running: every component up; partial: some; stopped: none. */
  status: 'absent' | 'starting' | 'running' | 'partial' | 'stopped'
  configFile?: string
  components: ComponentStatus[]
  data?: SandboxState['data']
  notes: string[]
}

/** Each recorded component, and whether a process proven to be it runs. */
export async function componentStatuses(paths: Layout, state: SandboxState): Promise<ComponentStatus[]> {
  const names = COMPONENTS.filter((c) => state.components[c] !== undefined)
  return Promise.all(
    names.map(async (name) => {
      const recorded = state.components[name]!
      const [pid] = await componentPids(name, paths, state)
      return { name, running: pid !== undefined, pid, port: recorded.port, address: recorded.address, standIn: recorded.standIn, logFile: recorded.logFile }
    }),
  )
}

export async function sandboxStatus(dirOption: string): Promise<SandboxStatus> {
  const dir = resolve(dirOption)
  const { paths, state, exists } = await inspect(dir)
  if (!exists) return { dir, status: 'absent', components: [], notes: [] }
  if (!state) throw notASandbox(dir)
  const components = await componentStatuses(paths, state)
  const running = components.filter((c) => c.running).length
  const status =
    state.status === 'starting' && upProcessAlive(state)
      ? 'starting'
      : state.status === 'running' && running === components.length
        ? 'running'
        : running > 0
          ? 'partial'
          : 'stopped'
  return { dir, status, configFile: existsSync(paths.config) ? paths.config : undefined, components, data: state.data, notes: state.notes }
}
