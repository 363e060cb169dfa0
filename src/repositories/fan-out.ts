import { PassThrough, Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { PutOptions, Repository, Written } from './repository.js'

/**
 * One stream, produced (and encrypted) once, written to every repository at the pace of the
 * slowest: each repository reads a branch of its own, and the next chunk is taken from the source
 * only when every live branch has room. A repository that fails is dropped without holding the
 * others (a dead off-site target must not stop the local backup); the source is stopped only when
 * no repository is left to write to. Each repository settles on its own.
 */

export type Settlement = { ok: true; written: Written } | { ok: false; error: unknown }

/** What each branch may hold before the source waits: a few chunks, not a part of a backup. */
const BRANCH_BUFFER_BYTES = 1024 * 1024

interface Branch {
  name: string
  stream: PassThrough
  settled: boolean
}

function live(branch: Branch): boolean {
  return !branch.settled && !branch.stream.destroyed
}

/** Room in the branch again, or the branch gone (its repository failed or finished). */
function roomIn(stream: PassThrough): Promise<void> {
  if (stream.destroyed || !stream.writableNeedDrain) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
  })
}

/** The error the source is stopped with when no repository is left. */
export class NoRepositoryLeft extends Error {
  constructor() {
    super('no repository is left to write to')
    this.name = 'NoRepositoryLeft'
  }
}

/** The writer at the end of the source: every chunk into every live branch, waiting for the slowest. */
function teeInto(branches: readonly Branch[]): Writable {
  return new Writable({
    highWaterMark: 0,
    write(chunk: Buffer, _encoding, callback) {
      const targets = branches.filter(live)
      if (targets.length === 0) return callback(new NoRepositoryLeft())
      for (const branch of targets) branch.stream.write(chunk)
      Promise.all(targets.map((branch) => roomIn(branch.stream))).then(
        () => callback(branches.some(live) ? null : new NoRepositoryLeft()),
        (error: Error) => callback(error),
      )
    },
    final(callback) {
      for (const branch of branches.filter(live)) branch.stream.end()
      callback()
    },
    destroy(error, callback) {
      // The source failed or was aborted: every repository still writing gets that error.
      if (error) for (const branch of branches.filter(live)) branch.stream.destroy(error)
      callback(error)
    },
  })
}

/**
 * Writes `source` to `key` in every repository in `targets` and settles each: a map from the
 * repository's name to what it stored, or why it did not.
 */
export async function putEverywhere(targets: readonly Repository[], key: string, source: Readable, options: PutOptions): Promise<Map<string, Settlement>> {
  const branches: Branch[] = targets.map((target) => {
    const stream = new PassThrough({ highWaterMark: BRANCH_BUFFER_BYTES })
    // A write into a branch whose repository has just failed must not become an uncaught error.
    stream.on('error', () => undefined)
    return { name: target.name, stream, settled: false }
  })
  const settlements = targets.map((target, index) => {
    const branch = branches[index]!
    return target
      .put(key, branch.stream, options)
      .then(
        (written): Settlement => ({ ok: true, written }),
        (error: unknown): Settlement => ({ ok: false, error }),
      )
      .then((settlement) => {
        branch.settled = true
        // Unblocks the tee if this repository stopped reading (failed, or finished early).
        branch.stream.destroy()
        return settlement
      })
  })
  let sourceError: unknown
  await pipeline(source, teeInto(branches), { signal: options.signal }).catch((error: unknown) => {
    if (!(error instanceof NoRepositoryLeft)) sourceError = error
  })
  const outcomes = await Promise.all(settlements)
  const result = new Map<string, Settlement>()
  outcomes.forEach((outcome, index) => {
    // A repository that stored something from a source that then failed stored a part: never ok.
    const settled = sourceError !== undefined && outcome.ok ? { ok: false as const, error: sourceError } : outcome
    result.set(branches[index]!.name, settled)
  })
  return result
}
