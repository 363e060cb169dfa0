/**
 * The test bed's plumbing, from the local-platform toolkit (src/local-platform): services started
 * with their output in a log file, readiness waits, stops, OS users; and a service in a temp dir
 * of its own, tracked for the emergency cleanup (./cleanup.ts) until it is stopped.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { childPids, pidsWithCommandLine, processTree } from '../../src/lib/process.js'
import {
  GiveUp,
  PlatformFailure,
  logTail,
  startService,
  stopService as stopToolkitService,
  waitUntilReady,
  type RunningService,
  type StopSteps,
} from '../../src/local-platform/services.js'
import { lookupUser, type OsAccount } from '../../src/systems/os-user.js'
import { track } from './cleanup.js'

export { childPids, GiveUp, logTail, processTree }
export { emergencyCleanupSync, track, type EmergencyCleanup } from './cleanup.js'

export type OsUser = OsAccount

/** An OS user from /etc/passwd; the bed cannot run without it. */
export function osUser(name: string): OsUser {
  const user = lookupUser(name)
  if (!user) throw new Error(`test bed: OS user "${name}" not found in /etc/passwd (is the package that creates it installed?)`)
  return user
}

/** Pids of processes whose command line contains `needle` (used to reap leftovers of a private dockerd). */
export const pidsWithCmdline = pidsWithCommandLine

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 })
}

export type Service = RunningService

export interface SpawnServiceOptions {
  name: string
  command: string
  args: string[]
  logFile: string
  cwd?: string
  env?: NodeJS.ProcessEnv
  uid?: number
  gid?: number
}

/** Start a long-running process with stdout+stderr appended to a log file. */
export async function spawnService(options: SpawnServiceOptions): Promise<Service> {
  const user = options.uid === undefined ? undefined : { uid: options.uid, gid: options.gid ?? options.uid }
  return bedError(() => startService({ ...options, cwd: options.cwd ?? process.cwd(), user }))
}

/** Poll `probe` until it returns true; fails early if `service` exits, and with the log's tail on timeout. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; service?: Service },
): Promise<void> {
  await bedError(() => waitUntilReady(what, probe, options))
}

/** Send each signal in turn, waiting up to its timeout for the process to exit, then SIGKILL (SIGCONT first). */
export async function stopService(service: Service, steps: StopSteps): Promise<void> {
  await stopToolkitService(service, steps)
}

/** A toolkit failure as the bed reports it: prefixed, with the tail of the log it names. */
export async function bedError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (!(error instanceof PlatformFailure)) throw error
    const log = error.logFile ? `\n--- ${error.logFile} ---\n${await logTail(error.logFile)}` : ''
    throw new Error(`test bed: ${error.message}${log}`)
  }
}

/** An HTTP service of the bed (AlertManager, Prometheus). */
export interface HttpServiceInfo {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string
  host: string
  port: number
  pid: number
  configFile: string
  logFile: string
}

/** A started bed service: where it is, and how to stop it and remove its files. */
export interface BedService<Info> {
  info: Info
  stop(): Promise<void>
}

/**
 * Runs `start` in a temp dir of its own, tracked for the emergency cleanup; `stop()` stops the
 * service (with `steps`) and removes the dir, and so does a failed start. `start` reports the
 * service's pid through `started` as soon as it runs.
 */
export async function serviceInTempDir<Info>(
  prefix: string,
  steps: StopSteps,
  start: (dir: string, started: (service: Service) => void) => Promise<{ service: Service; info: Info }>,
): Promise<BedService<Info>> {
  const dir = await makeTempDir(prefix)
  const tracked = track({ dirs: [dir] })
  const release = async (): Promise<void> => {
    await removeDir(dir)
    tracked.untrack()
  }
  try {
    const { service, info } = await bedError(() => start(dir, (started) => void tracked.entry.pids.push(started.pid)))
    const stop = async (): Promise<void> => {
      await stopService(service, steps)
      await release()
    }
    return { info, stop }
  } catch (error) {
    await release()
    throw error
  }
}
