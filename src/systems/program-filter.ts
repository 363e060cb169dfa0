import { PassThrough, type Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { describeError } from '../errors.js'
import { startProgram } from './process-group.js'

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

export async function filterThroughProgram(file: string, args: readonly string[], input: Readable, options: FilterOptions): Promise<Readable> {
  const output = new PassThrough()
  const { subprocess } = await startProgram(file, args, {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    // stdout streams through; only stderr is kept, to say why it failed.
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: STDERR_MAX_BYTES },
    encoding: 'buffer',
    reject: false,
    env: { LC_ALL: 'C', LANG: 'C' },
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    forceKillAfterDelay: 2000,
  })
  let inputError: unknown
  let settled = false
  const stop = () => {
    if (!settled) subprocess.kill()
  }
  input.once('error', (error) => {
    inputError = error
    stop()
  })
  // A program that exits early (wrong key) closes its stdin: its exit status says why, not EPIPE.
  subprocess.stdin.on('error', () => undefined)
  input.pipe(subprocess.stdin)
  subprocess.stdout.pipe(output, { end: false })
  // The reader gave up (destroyed the stream): the program has no one to write to.
  output.once('close', stop)
  void (async () => {
    const result = await subprocess
    await finished(subprocess.stdout).catch(() => undefined)
    settled = true
    if (inputError !== undefined) output.destroy(inputError instanceof Error ? inputError : new Error(describeError(inputError)))
    else if (result.exitCode === 0 && !result.isCanceled) output.end()
    else {
      output.destroy(
        options.failure({
          ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }),
          ...(result.signal === undefined ? {} : { signal: result.signal }),
          stderr: Buffer.from(result.stderr ?? '').toString('utf8'),
          cancelled: result.isCanceled,
          ...(result.exitCode === undefined && !result.isCanceled && result.signal === undefined
            ? { startFailure: (result.shortMessage ?? '').split('\n')[0] }
            : {}),
        }),
      )
    }
  })()
  return output
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
