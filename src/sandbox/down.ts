import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { describeError } from '../errors.js'
import { stopCluster } from '../local-platform/postgres.js'
import { PlatformFailure, stopService } from '../local-platform/services.js'
import { COMPONENTS, SandboxError, type ComponentName, type Layout } from './layout.js'
import { componentPids, inspect, notASandbox, upProcessAlive, type SandboxState } from './state.js'

/** How long a service has to stop on SIGTERM (PostgreSQL: on a fast shutdown) before it is killed. */
const STOP_GRACE_MS = 10_000

export interface DownResult {
  dir: string
  /** Whether there was a sandbox directory at all. */
  existed: boolean
  stopped: ComponentName[]
  removed: boolean
}

/** Stops whatever of the sandbox still runs (only processes proven to be its own); returns the names of the components it stopped. */
export async function stopComponents(paths: Layout, state?: SandboxState): Promise<ComponentName[]> {
  const stopped = await Promise.all(
    COMPONENTS.map(async (component) => {
      const pids = await componentPids(component, paths, state)
      if (pids.length === 0) return undefined
      try {
        const gone =
          component === 'postgres'
            ? await stopCluster(paths.pgData, { pids })
            : (await Promise.all(pids.map((pid) => stopService({ pid }, [['SIGTERM', STOP_GRACE_MS]])))).every(Boolean)
        if (!gone) throw new SandboxError(`${component} survived SIGKILL`, `look at it with \`ps -o pid,stat,cmd -p ${pids.join(',')}\``)
      } catch (error) {
        if (error instanceof PlatformFailure) throw new SandboxError(error.message, 'run this as the user who ran `probe-ops sandbox up`')
        throw error
      }
      return component
    }),
  )
  return stopped.filter((c): c is ComponentName => c !== undefined)
}

export async function sandboxDown(dirOption: string): Promise<DownResult> {
  const dir = resolve(dirOption)
  const { paths, state, exists } = await inspect(dir)
  if (!exists) return { dir, existed: false, stopped: [], removed: false }
  if (!state) throw notASandbox(dir)
  if (state.status === 'starting' && upProcessAlive(state)) {
    throw new SandboxError(
      `\`probe-ops sandbox up\` (pid ${state.up.pid}) is still starting the sandbox in ${dir}`,
      'wait for it to finish, then run `sandbox down` again',
    )
  }
  const stopped = await stopComponents(paths, state)
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 })
  } catch (error) {
    throw new SandboxError(
      `stopped the sandbox, but cannot remove ${dir} (${(error as NodeJS.ErrnoException).code ?? describeError(error)})`,
      'remove it as the user who ran `probe-ops sandbox up`',
    )
  }
  return { dir, existed: true, stopped, removed: true }
}
