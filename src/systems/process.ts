import { open, readFile } from 'node:fs/promises'
import { StepFailure } from '../errors.js'

/**
 * A service run as a plain process that writes a pid file and a log file (the sandbox
 * platform; sites under supervisord and the like).
 */

export interface ProcessState {
  pid?: number
  running: boolean
  startedAt?: string
}

export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]!.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StepFailure(`pid file ${pidFile} cannot be read (${(error as NodeJS.ErrnoException).code})`)
  }
}

async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // A zombie is a process that is gone.
    if (state[0] === 'Z') return undefined
    const ticks = Number(state[19])
    const boot = /btime (\d+)/.exec(await readFile('/proc/stat', 'utf8'))
    if (!boot) return undefined
    // USER_HZ is 100 on every Linux this runs on.
    return new Date((Number(boot[1]) + ticks / 100) * 1000).toISOString()
  } catch {
    return undefined
  }
}

export async function processState(pidFile: string): Promise<ProcessState> {
  const pid = await readPid(pidFile)
  if (pid === undefined) return { running: false }
  const startedAt = await startTime(pid)
  return { pid, running: startedAt !== undefined, startedAt }
}

/** The last lines of a log file, reading at most its last 1 MiB. */
export async function tailFile(path: string, maxBytes = 1024 * 1024): Promise<string[]> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new StepFailure(`log file ${path} cannot be read (${(error as NodeJS.ErrnoException).code})`)
  }
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split(/\r?\n/).filter(Boolean)
    return size > maxBytes ? lines.slice(1) : lines
  } finally {
    await handle.close()
  }
}
