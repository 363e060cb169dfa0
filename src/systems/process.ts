import { accessSync, closeSync, constants, openSync, realpathSync, statSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { describeError } from '../errors.js'
import { makeDirectories, makeDirectoriesSync, writeFileAtomic } from '../lib/files.js'
import { clockTicksNow, isStoppedState, processIdentity, type ProcessIdentity } from '../lib/process.js'
import { sleep } from '../lib/time.js'
import { FileReadError, openRegularFile, readRegularFile } from '../lib/regular-file.js'
import { SystemError } from './errors.js'
import { fileErrorCode, fileReadErrorCode } from './files.js'

/**
 * A service run as a plain process that writes a pid file and a log file (the sandbox
 * platform; sites under supervisord and the like).
 *
 * Run as root, probe-ops signals only a process it can prove is the service: a pid file outlives
 * its process, and its pid may since belong to anything. When probe-ops starts the service it
 * records who the pid file then names (pid, start time, command line) in its own directory; a
 * pid file it did not see written is taken only for a process that was already running when
 * the file was written and that runs the configured start command.
 */
export interface ProcessService {
  name: string
  pidFile: string
  /** The configured start command, if any: what a process the service wrote its own pid for runs. */
  start?: string[]
  /** Where probe-ops keeps the record of the process it started (a directory of its own, not the service's). */
  recordFile: string
}

/** What probe-ops saw when it started the service. */
interface ProcessRecord {
  service: string
  pidFile: string
  pid: number
  start: string
  commandLine: string[]
  executable?: string
  recordedAt: string
}

/** What a pid file names, and whether that is provably the service. */
export type PidFileState =
  | { kind: 'no pid file' }
  | { kind: 'gone'; pid: number }
  /** Not the service: the pid was reused (`reused`), or the process runs another program. */
  | { kind: 'other'; pid: number; process: ProcessIdentity; reason: string; reused: boolean }
  /** The service; `proof` says why, and without one it may be looked at but never signalled. */
  | { kind: 'service'; pid: number; process: ProcessIdentity; proof?: string }

/** A stale pid file was written before the process now holding its pid started; this covers the clocks' granularity. */
const WRITTEN_BEFORE_START_SLACK_MS = 1000
const POLL_MS = 100

export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    // A pid file is a line; a FIFO or device there is refused, not waited on.
    const pid = Number((await readRegularFile(pidFile, 4096, 'pid file')).toString('utf8').split('\n')[0]!.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    if (error.code === 'missing') return undefined
    throw new SystemError('process', fileReadErrorCode(error.code), `pid file ${error.message}`, { cause: error, target: pidFile, data: { file: 'pid' } })
  }
}

/** The program a process runs, by name only: its arguments may hold another program's secrets. */
export function programName(identity: ProcessIdentity): string {
  return basename(identity.executable ?? identity.commandLine[0] ?? '?')
}

async function readRecord(service: ProcessService): Promise<ProcessRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(service.recordFile, 'utf8')) as ProcessRecord
    // A record of another configuration's service of the same name says nothing of this one.
    return record.pidFile === service.pidFile && Number.isInteger(record.pid) && typeof record.start === 'string' ? record : undefined
  } catch {
    return undefined
  }
}

function sameCommand(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((word, i) => word === b[i])
}

/** A word of a command as the file it names, resolved through PATH for a bare name; undefined if none. */
function resolveProgram(word: string): string | undefined {
  const candidates = word.includes('/')
    ? [resolve(word)]
    : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin')
        .split(delimiter)
        .filter(isAbsolute)
        .map((dir) => join(dir, word))
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return realpathSync(candidate)
    } catch {
      // not this one
    }
  }
  return undefined
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * Whether a process is what the start command runs: the command itself; a program it names
 * (through runuser, env and the like); or a process that names a directory the command gives it
 * (`pg_ctl start -D DIR` runs `postgres -D DIR`).
 */
function runsStartCommand(identity: ProcessIdentity, start: string[]): boolean {
  if (sameCommand(identity.commandLine, start)) return true
  const words = start.filter((word) => !word.startsWith('-'))
  const executable = identity.executable && resolveProgram(identity.executable)
  if (executable && words.some((word) => resolveProgram(word) === executable)) return true
  const directories = words.filter((word) => isAbsolute(word) && resolve(word) !== '/' && isDirectory(word)).map((word) => resolve(word))
  return identity.commandLine.some((word) => isAbsolute(word) && directories.includes(resolve(word)))
}

/** What the pid file names, and whether it is provably the service (see the module's comment). */
export async function inspectPidFile(service: ProcessService): Promise<PidFileState> {
  const pid = await readPid(service.pidFile)
  if (pid === undefined) return { kind: 'no pid file' }
  const identity = processIdentity(pid)
  if (!identity) return { kind: 'gone', pid }
  const other = (reason: string, reused: boolean): PidFileState => ({ kind: 'other', pid, process: identity, reason, reused })
  const record = await readRecord(service)
  if (record?.pid === pid) {
    if (record.start !== identity.start)
      return other(`which started at ${identity.startedAt.toISOString()}, after the ${service.name} probe-ops started under that pid: the pid was reused`, true)
    if (record.executable !== identity.executable && !sameCommand(record.commandLine, identity.commandLine))
      return other(`which runs another program than the ${service.name} probe-ops started under that pid`, false)
    return { kind: 'service', pid, process: identity, proof: `probe-ops started it (${record.recordedAt})` }
  }
  let writtenAt: number
  try {
    writtenAt = (await stat(service.pidFile)).mtimeMs
  } catch (error) {
    const code = fileErrorCode((error as NodeJS.ErrnoException).code)
    throw new SystemError('process', code, `pid file ${service.pidFile} cannot be read (${describeError(error)})`, {
      cause: error,
      target: service.pidFile,
      data: { file: 'pid' },
    })
  }
  if (identity.startedAt.getTime() > writtenAt + WRITTEN_BEFORE_START_SLACK_MS) {
    return other(`which started after the pid file was written (${new Date(writtenAt).toISOString()}): the pid was reused`, true)
  }
  if (!service.start) return { kind: 'service', pid, process: identity }
  if (!runsStartCommand(identity, service.start)) return other(`which is not ${service.name}: it does not run ${service.name}'s start command`, false)
  return { kind: 'service', pid, process: identity, proof: `it runs ${service.name}'s start command` }
}

/** One line for an operator: what the pid file names, when that is not the service. */
export function describeOther(state: Extract<PidFileState, { kind: 'other' }>): string {
  return `its pid file names pid ${state.pid} (${programName(state.process)}), ${state.reason}`
}

async function writeRecord(service: ProcessService, identity: ProcessIdentity): Promise<void> {
  const record: ProcessRecord = {
    service: service.name,
    pidFile: service.pidFile,
    pid: identity.pid,
    start: identity.start,
    commandLine: identity.commandLine,
    executable: identity.executable,
    recordedAt: new Date().toISOString(),
  }
  // Root's own records: private, since a command line may carry more than it should.
  await makeDirectories(join(service.recordFile, '..'), 0o700)
  await writeFileAtomic(service.recordFile, `${JSON.stringify(record)}\n`, 0o600)
}

/** The last lines of a log file, reading at most its last 1 MiB. */
export async function tailFile(path: string, maxBytes = 1024 * 1024): Promise<string[]> {
  let opened
  try {
    opened = await openRegularFile(path)
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    const options = { cause: error, target: path, data: { file: 'log' } }
    if (error.code === 'missing') throw new SystemError('process', 'not-found', `log file ${path} does not exist`, options)
    throw new SystemError('process', fileReadErrorCode(error.code), `log file ${error.message}`, options)
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
 * log file. The command is an argument array, never a shell string. Once the pid file names a
 * process started since (the command itself, or the daemon it forks), that process is recorded
 * as the service; the readiness wait that follows judges whether it serves.
 */
export async function startProcess(service: ProcessService & { start: string[] }, logFile: string | undefined, timeoutMs: number): Promise<void> {
  const { spawn } = await import('node:child_process')
  const command = service.start
  let fd: number | 'ignore' = 'ignore'
  if (logFile) {
    makeDirectoriesSync(dirname(logFile))
    fd = openSync(logFile, 'a')
  }
  // A tick early: a process started after this has a start time at least this.
  const since = clockTicksNow() - 1
  let failure: SystemError | undefined
  try {
    // From /, which every user may enter (PostgreSQL's user may not read our working directory).
    const child = spawn(command[0]!, command.slice(1), { detached: true, cwd: '/', stdio: ['ignore', fd, fd] })
    // A command that fails at once (not found, bad arguments) is reported here; one that runs
    // on, or daemonises and exits, has its pid file waited for.
    child.once('error', (error) => {
      const errno = (error as NodeJS.ErrnoException).code
      failure = new SystemError('process', errno === 'ENOENT' ? 'not-installed' : 'failed', `cannot start ${command[0]}: ${errno ?? error.message}`, {
        cause: error,
        target: service.name,
        data: { action: 'start', spawned: false },
      })
    })
    child.once('exit', (code) => {
      if (code !== 0)
        failure = new SystemError('process', 'failed', `${command.join(' ')} exited with code ${code}`, {
          target: service.name,
          data: { action: 'start', spawned: true, ...(logFile ? { logFile } : {}) },
        })
    })
    child.unref()
  } finally {
    if (typeof fd === 'number') closeSync(fd)
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    await sleep(POLL_MS)
    if (failure) throw failure
    const pid = await readPid(service.pidFile).catch(() => undefined)
    const started = pid === undefined ? undefined : processIdentity(pid)
    if (started && Number(started.start) >= since) return writeRecord(service, started)
    // No pid file naming a new process: nothing is recorded, and readiness will say it is not up.
    if (Date.now() >= deadline) return
  }
}

/**
 * The stop signal, then SIGKILL after the grace period; resolves once the process is gone.
 * Only a process proven to be the service is signalled: a pid file naming a reused pid means
 * the service is not running, and one naming a process that cannot be proven is refused.
 */
export async function stopProcess(service: ProcessService, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const found = await inspectPidFile(service)
  if (found.kind === 'no pid file' || found.kind === 'gone' || (found.kind === 'other' && found.reused)) return
  // Not provably the service: another process (or one that runs another program) or, with no
  // start command to compare with, one probe-ops did not start.
  if (found.kind === 'other') {
    throw new SystemError(
      'process',
      'failed',
      `${service.name} not stopped: ${describeOther(found)}; a process that is not provably ${service.name} is never signalled`,
      { target: service.name, data: { action: 'stop', unproven: 'other', pidFile: service.pidFile } },
    )
  }
  if (!found.proof) {
    throw new SystemError(
      'process',
      'failed',
      `${service.name} not stopped: its pid file names pid ${found.pid} (${programName(found.process)}), which probe-ops did not start and has no start command to compare with; it is never signalled unproven`,
      { target: service.name, data: { action: 'stop', unproven: 'no-start-command' } },
    )
  }
  const { pid, process: identity } = found
  // The same process, never the next one to get its pid; a zombie is gone.
  const alive = () => processIdentity(pid)?.start === identity.start
  const send = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name)
    } catch (error) {
      // Gone since it was looked at: stopped, as asked.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
  send(signal)
  // A process stopped by SIGSTOP acts on the signal only once continued.
  if (isStoppedState(identity.state)) send('SIGCONT')
  const deadline = Date.now() + graceMs
  while (alive() && Date.now() < deadline) await sleep(POLL_MS)
  if (alive()) send('SIGKILL')
}
