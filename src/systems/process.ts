import { readFile } from 'node:fs/promises'
import { StepFailure } from '../errors.js'
import { makeDirectoriesSync } from '../lib/files.js'
import { FileReadError, openRegularFile, readRegularFile } from '../lib/regular-file.js'

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
    // A pid file is a line; a FIFO or device there is refused, not waited on.
    const pid = Number((await readRegularFile(pidFile, 4096, 'pid file')).toString('utf8').split('\n')[0]!.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    if (error.code === 'missing') return undefined
    throw new StepFailure(`pid file ${error.message}`)
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
  let opened
  try {
    opened = await openRegularFile(path)
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    if (error.code === 'missing') return []
    throw new StepFailure(`log file ${error.message}`)
  }
  const { handle, size } = opened
  try {
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split(/\r?\n/).filter(Boolean)
    return size > maxBytes ? lines.slice(1) : lines
  } finally {
    await handle.close()
  }
}

/**
 * Starts a process service by its configured command, detached, its output appended to its
 * log file. The command is an argument array, never a shell string.
 */
export async function startProcess(command: string[], logFile: string | undefined, timeoutMs: number): Promise<void> {
  const { spawn } = await import('node:child_process')
  const { openSync, closeSync } = await import('node:fs')
  const { dirname } = await import('node:path')
  let fd: number | 'ignore' = 'ignore'
  if (logFile) {
    makeDirectoriesSync(dirname(logFile))
    fd = openSync(logFile, 'a')
  }
  try {
    // From /, which every user may enter (PostgreSQL's user may not read our working directory).
    const child = spawn(command[0]!, command.slice(1), { detached: true, cwd: '/', stdio: ['ignore', fd, fd] })
    // A command that fails at once (not found, bad arguments) is reported here; one that runs
    // on, or daemonises and exits later, is judged by the readiness wait that follows.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => resolve(), Math.min(timeoutMs, 300))
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(new StepFailure(`cannot start ${command[0]}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, 'fix the service start command in the configuration'))
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        if (code === 0) resolve()
        else reject(new StepFailure(`${command.join(' ')} exited with code ${code}`, logFile ? `read ${logFile}` : undefined))
      })
    })
    child.unref()
  } finally {
    if (typeof fd === 'number') closeSync(fd)
  }
}

/** The stop signal, then SIGKILL after the grace period; resolves once the process is gone. */
export async function stopProcess(pidFile: string, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pid = await readPid(pidFile)
  if (pid === undefined) return
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (!alive()) return
  process.kill(pid, signal)
  const deadline = Date.now() + graceMs
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  if (alive()) process.kill(pid, 'SIGKILL')
}
