import { spawn } from 'node:child_process'
import { PassThrough, type Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { describeError } from '../errors.js'
import { endsWithUs } from './process-group.js'

/**
 * A program as a filter between two streams (age, zstd): the input goes to its stdin, and its
 * stdout is the stream returned, with backpressure both ways and nothing held in memory.
 *
 * The returned stream ends only once the program has exited 0. A program that fails half way
 * (age meeting a damaged chunk, zstd a truncated frame) has already written out what came
 * before, so ending the stream when its stdout ends would hand the reader a clean end of data
 * that is not one: the stream errors instead, with the caller's error for that exit.
 */

/** How a filter program ended, for the caller to turn into its own error. */
export interface FilterExit {
  exitCode?: number
  signal?: string
  /** Its stderr, whole (bounded): the caller picks the line it shows. */
  stderr: string
  cancelled: boolean
  /** Why it could not run at all (spawn failed), one line. */
  startFailure?: string
}

export interface FilterOptions {
  /** Stops the program (SIGTERM to its group, then SIGKILL after 2 s): the stream errors. */
  signal?: AbortSignal
  /** The error the stream fails with when the program exits other than 0. */
  failure: (exit: FilterExit) => Error
}

const STDERR_MAX_BYTES = 1024 * 1024
/** After SIGTERM to its group, how long a program has before SIGKILL. */
const KILL_AFTER_MS = 2000

/**
 * node:child_process rather than execa: a filter sits on `wal push`'s path, where loading execa
 * would take 200 ms of a 0.5 s budget (bench/wal-segment.ts), and it needs none of execa's
 * buffering. It runs in a group of its own and ends with probe-ops, as every program does
 * (process-group.ts).
 */
export async function filterThroughProgram(file: string, args: readonly string[], input: Readable, options: FilterOptions): Promise<Readable> {
  const output = new PassThrough()
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } })
  endsWithUs(child)
  const stderr: Buffer[] = []
  let stderrBytes = 0
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderrBytes >= STDERR_MAX_BYTES) return
    stderr.push(chunk)
    stderrBytes += chunk.length
  })
  let inputError: unknown
  let cancelled = false
  let exited = false
  const killGroup = (signal: NodeJS.Signals) => {
    if (exited || child.pid === undefined) return
    try {
      process.kill(-child.pid, signal)
    } catch {
      // gone meanwhile
    }
  }
  const stop = () => {
    killGroup('SIGTERM')
    setTimeout(() => killGroup('SIGKILL'), KILL_AFTER_MS).unref()
  }
  const cancel = () => {
    cancelled = true
    stop()
  }
  if (options.signal?.aborted) cancel()
  options.signal?.addEventListener('abort', cancel, { once: true })
  input.once('error', (error) => {
    inputError = error
    stop()
  })
  // A program that exits early (wrong key) closes its stdin: its exit status says why, not EPIPE.
  child.stdin.on('error', () => undefined)
  input.pipe(child.stdin)
  child.stdout.pipe(output, { end: false })
  // The reader gave up (destroyed the stream): the program has no one to write to.
  output.once('close', stop)
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; startFailure?: string }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, startFailure: describeError(error) }))
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  void (async () => {
    const exit = await ended
    exited = true
    options.signal?.removeEventListener('abort', cancel)
    await finished(child.stdout).catch(() => undefined)
    if (inputError !== undefined) output.destroy(inputError instanceof Error ? inputError : new Error(describeError(inputError)))
    else if (exit.code === 0 && !cancelled) output.end()
    else {
      output.destroy(
        options.failure({
          ...(exit.code === null ? {} : { exitCode: exit.code }),
          ...(exit.signal === null ? {} : { signal: exit.signal }),
          stderr: Buffer.concat(stderr).toString('utf8'),
          cancelled,
          ...(exit.startFailure === undefined ? {} : { startFailure: exit.startFailure }),
        }),
      )
    }
  })()
  return Promise.resolve(output)
}

/**
 * `source` relayed through a stream whose errors are `map` of its own (a library's "invalid
 * tag" said as a damaged backup); the reader giving up destroys the source.
 */
export function relayErrors(source: Readable, map: (error: unknown) => Error): Readable {
  const output = new PassThrough()
  source.once('error', (error) => output.destroy(map(error)))
  output.once('close', () => source.destroy())
  source.pipe(output)
  return output
}
