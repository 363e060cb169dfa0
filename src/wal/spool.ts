import { watch, type FSWatcher } from 'node:fs'
import { chown, lstat, mkdir, open, readdir, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readOwnFile } from '../lib/files.js'
import { ownerLine, ownerLineRuns } from '../lib/process.js'
import type { OsUser } from '../systems/os-user.js'
import { removeOwnedTree } from '../systems/owned-tree.js'
import { oneLine } from './archive.js'
import { fetchOne, laterSegmentArchived, type FetchSource } from './fetch.js'
import { DEFAULT_SEGMENT_BYTES, nextSegment, parseSegmentName, segmentName, type Segment } from './names.js'

/**
 * The WAL spool of a restore (design-14 §6.3): PostgreSQL's restore_command is a small POSIX sh
 * script (fetch.sh) that takes each file from a directory, and this prefetcher, run as root in
 * the restore job, fills that directory from the repositories: `restore.walPrefetch` segments
 * ahead of the newest one PostgreSQL took, `restore.walFetchConcurrency` at once, each read,
 * decrypted, decompressed and checked by fetchOne (the reading `wal fetch` uses too), and any
 * other name (a history file, the next timeline, a .partial) on demand, when fetch.sh leaves a
 * `<name>.wanted` marker. No Node start per 16 MB segment, and the age identity stays root's.
 *
 * The directory speaks in file names:
 * - `<name>`: the file, whole (written under a temporary name, then renamed), PostgreSQL's user's;
 * - `<name>.missing`: every repository answered, none has it (fetch.sh exits 1: the end of the archive);
 * - `<name>.error`: one line, why it cannot be told (fetch.sh prints it and exits 128: recovery stops);
 * - `<name>.wanted`: fetch.sh waits for one of the three above.
 * fetch.sh removes what it copied, so the disk holds about walPrefetch segments.
 */

/** backup.dir or the side data directory's parent: `<parent>/.restore-spool-<stamp>`. */
export const SPOOL_PREFIX = '.restore-spool-'
export const FETCH_SCRIPT = 'fetch.sh'

/** How often the directory is read besides fs.watch's events (which may be missed, or not come at all). */
const POLL_MS = 100
/** fetch.sh waits this many 0.1 s ticks for an answer: a restore job that was killed answers nothing. */
export const SCRIPT_WAIT_TICKS = 6000

export function spoolDirectory(parent: string, stamp: string): string {
  return join(parent, `${SPOOL_PREFIX}${stamp}`)
}

/** A word for sh, in single quotes. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** PostgreSQL's restore_command for the spool: `'<spool>/fetch.sh' '%f' '%p'`. */
export function restoreCommand(dir: string): string {
  return `${shellQuote(join(dir, FETCH_SCRIPT))} '%f' '%p'`
}

/**
 * fetch.sh: run by PostgreSQL as its user, for each file recovery needs. Exit 0 restored, 1 not in
 * the archive (recovery ends there), 128 anything else, a bad name and no answer in time included
 * (PostgreSQL then stops instead of ending recovery early).
 */
export function fetchScript(dir: string): string {
  const seconds = SCRIPT_WAIT_TICKS / 10
  return `#!/bin/sh
# restore_command of a probe-ops restore: $1 = %f, $2 = %p. Exit 0 restored, 1 not in the archive,
# 128 anything else (PostgreSQL then stops instead of ending recovery early).
d=${shellQuote(dir)}; f=$1; p=$2; waited=0
case $f in *[!0-9A-Za-z.]*|.*|'') echo "probe-ops restore: bad WAL name $f" >&2; exit 128;; esac
[ -e "$d/$f" ] || [ -e "$d/$f.missing" ] || [ -e "$d/$f.error" ] || : > "$d/$f.wanted" || exit 128
while :; do
  if [ -e "$d/$f" ]; then cp "$d/$f" "$p.probe-ops" && mv "$p.probe-ops" "$p" && rm -f "$d/$f" "$d/$f.wanted" && exit 0; exit 128; fi
  if [ -e "$d/$f.missing" ]; then rm -f "$d/$f.missing" "$d/$f.wanted"; exit 1; fi
  if [ -e "$d/$f.error" ]; then cat "$d/$f.error" >&2; exit 128; fi
  [ -d "$d" ] || { echo "probe-ops restore: $d is gone (the restore ended)" >&2; exit 128; }
  [ "$waited" -ge ${SCRIPT_WAIT_TICKS} ] && { echo "probe-ops restore: no answer for $f in ${seconds} s (was the restore stopped?)" >&2; exit 128; }
  sleep 0.1; waited=$((waited+1))
done
`
}

export type EntryKind = 'file' | 'wanted' | 'missing' | 'error'

/** What a name in the spool is; undefined for fetch.sh, temporary files and anything else. */
export function classifyEntry(entry: string): { name: string; kind: EntryKind } | undefined {
  if (entry.startsWith('.') || entry === FETCH_SCRIPT) return undefined
  for (const kind of ['wanted', 'missing', 'error'] as const) if (entry.endsWith(`.${kind}`)) return { name: entry.slice(0, -kind.length - 1), kind }
  return { name: entry, kind: 'file' }
}

/** Where prefetching stands: the next segment to read, and whether it stopped at a segment the archive does not give. */
export interface PrefetchLine {
  next?: Segment
  /** At a segment that was missing or could not be read: nothing past it until PostgreSQL asks for more. */
  stopped: boolean
}

/**
 * The line after PostgreSQL asked for (or took) `segment`: prefetching goes on from the segment
 * after it when it is past the line's next one or on another timeline (PostgreSQL followed a
 * history file), and a line stopped at or before it goes on.
 */
export function afterAsked(line: PrefetchLine, segment: Segment): PrefetchLine {
  const { next } = line
  if (next && next.timeline === segment.timeline && segment.number < next.number) return line
  return { next: nextSegment(segment), stopped: false }
}

/**
 * The segments to start reading now: from the line's next one, while fewer than `prefetch` are
 * ready or being read ahead of the newest one PostgreSQL took, and fewer than `concurrency` reads
 * run. `ahead` counts the segments ready (not yet taken) past it and those being prefetched.
 */
export function segmentsToStart(line: PrefetchLine, ahead: number, running: number, limits: { prefetch: number; concurrency: number }): Segment[] {
  const started: Segment[] = []
  let next = line.next
  if (!next || line.stopped) return started
  while (ahead + started.length < limits.prefetch && running + started.length < limits.concurrency) {
    started.push(next)
    next = nextSegment(next)
  }
  return started
}

/**
 * How many of the segments `ready` are ahead of the newest one PostgreSQL took: on its timeline,
 * past it. Those left behind (PostgreSQL went on on another timeline) are not, and are not removed
 * either: fetch.sh may be copying one. They go with the spool.
 */
export function segmentsAhead(ready: Iterable<string>, taken: Segment | undefined, segmentBytes = DEFAULT_SEGMENT_BYTES): number {
  let ahead = 0
  for (const name of ready) {
    const segment = parseSegmentName(name, segmentBytes)
    if (segment && (!taken || (segment.timeline === taken.timeline && segment.number > taken.number))) ahead++
  }
  return ahead
}

export interface SpoolOptions {
  dir: string
  /** PostgreSQL's OS user: the answers are its (fetch.sh copies and removes them). */
  user?: OsUser
  /** Where prefetching starts (the base's manifest.wal.start); without it, at the first segment asked. */
  start?: string
  segmentBytes?: number
  prefetch: number
  concurrency: number
  /** The repositories and the identity, as `wal fetch` reads them. */
  source: Omit<FetchSource, 'name' | 'signal'>
  /** The bound on each file's reading (backup.wal.pushTimeoutSeconds, as wal fetch). */
  fetchTimeoutMs: number
}

export interface SpoolCounts {
  /** Files written ahead of PostgreSQL's asking. */
  prefetched: number
  /** Files PostgreSQL asked for that were not ready. */
  onDemand: number
  missing: number
  errors: number
  bytes: number
}

/** Who made the spool (pid and start): `restore --cleanup` leaves a live run's alone (a restore test may hold another lock). */
const OWNER_FILE = '.owner'

/** Makes the spool directory with fetch.sh in it, both PostgreSQL's user's (0700). */
export async function createSpool(dir: string, user: OsUser | undefined): Promise<void> {
  await mkdir(dir, { mode: 0o700 })
  await writeFile(join(dir, OWNER_FILE), ownerLine(), { flag: 'wx', mode: 0o644 })
  const script = await open(join(dir, FETCH_SCRIPT), 'wx', 0o700)
  try {
    await script.writeFile(fetchScript(dir))
    if (user && process.getuid?.() === 0) await script.chown(user.uid, user.gid)
  } finally {
    await script.close()
  }
  if (user && process.getuid?.() === 0) await chown(dir, user.uid, user.gid)
}

/**
 * The prefetcher: reads the directory on each fs.watch event and every 100 ms, answers every
 * `.wanted` marker, and keeps the line of segments ahead full. stop() ends it and waits for
 * the reads under way.
 */
export class WalSpool {
  readonly counts: SpoolCounts = { prefetched: 0, onDemand: 0, missing: 0, errors: 0, bytes: 0 }
  private line: PrefetchLine
  private readonly segmentBytes: number
  /** Segments written and not yet taken by fetch.sh. */
  private readonly ready = new Set<string>()
  /** Reads under way: by name, and whether PostgreSQL is waiting for it. */
  private readonly reading = new Map<string, { promise: Promise<void>; prefetch: boolean }>()
  private newestTaken?: Segment
  private readonly stopping = new AbortController()
  private watcher?: FSWatcher
  private timer?: NodeJS.Timeout
  private ticking = false
  private again = false

  constructor(private readonly options: SpoolOptions) {
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    const start = options.start === undefined ? undefined : parseSegmentName(options.start, this.segmentBytes)
    this.line = { ...(start ? { next: start } : {}), stopped: false }
  }

  start(): void {
    try {
      this.watcher = watch(this.options.dir, () => this.tick())
      this.watcher.on('error', () => undefined)
    } catch {
      // The poll alone answers then.
    }
    this.timer = setInterval(() => this.tick(), POLL_MS)
    this.tick()
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    this.watcher?.close()
    clearInterval(this.timer)
    await Promise.allSettled([...this.reading.values()].map((read) => read.promise))
  }

  /** One look at the directory; a look asked for while one runs comes right after it. */
  private tick(): void {
    if (this.stopping.signal.aborted) return
    if (this.ticking) {
      this.again = true
      return
    }
    this.ticking = true
    this.look()
      .catch(() => undefined)
      .finally(() => {
        this.ticking = false
        if (this.again) {
          this.again = false
          this.tick()
        }
      })
  }

  private async look(): Promise<void> {
    const entries = await readdir(this.options.dir)
    const present = new Set(entries)
    for (const name of [...this.ready]) {
      if (present.has(name)) continue
      // fetch.sh took it.
      this.ready.delete(name)
      this.asked(name)
    }
    for (const entry of entries) {
      const found = classifyEntry(entry)
      if (found?.kind !== 'wanted' || this.reading.has(found.name)) continue
      const { name } = found
      if (present.has(name) || present.has(`${name}.missing`) || present.has(`${name}.error`)) continue
      this.asked(name)
      this.read(name, false)
    }
    this.fillLine()
  }

  private asked(name: string): void {
    const segment = parseSegmentName(name, this.segmentBytes)
    if (!segment) return
    if (!this.newestTaken || segment.timeline !== this.newestTaken.timeline || segment.number > this.newestTaken.number) this.newestTaken = segment
    this.line = afterAsked(this.line, segment)
  }

  private fillLine(): void {
    const ahead = segmentsAhead(this.ready, this.newestTaken, this.segmentBytes) + [...this.reading.values()].filter((read) => read.prefetch).length
    for (const segment of segmentsToStart(this.line, ahead, this.reading.size, this.options)) {
      const name = segmentName(segment, this.segmentBytes)
      this.line = { next: nextSegment(segment), stopped: false }
      if (!this.reading.has(name)) this.read(name, true)
    }
  }

  private read(name: string, prefetch: boolean): void {
    const promise = this.answer(name, prefetch)
      .catch((error: unknown) => {
        if (!this.stopping.signal.aborted) return this.fail(name, `${name}: ${oneLine(error)}`)
      })
      .catch(() => undefined)
      .finally(() => {
        this.reading.delete(name)
        this.tick()
      })
    this.reading.set(name, { promise, prefetch })
  }

  /** Reads one file from the repositories and writes what fetch.sh is to find: the file, `.missing` or `.error`. */
  private async answer(name: string, prefetch: boolean): Promise<void> {
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.fetchTimeoutMs)])
    const source = { ...this.options.source, name, signal }
    const fetched = await fetchOne(source)
    if (this.stopping.signal.aborted) return
    if (fetched.status === 'restored') {
      await this.write(name, fetched.plain)
      if (parseSegmentName(name, this.segmentBytes)) this.ready.add(name)
      this.counts[prefetch ? 'prefetched' : 'onDemand']++
      this.counts.bytes += fetched.plain.length
      return
    }
    if (prefetch) this.line = { ...this.line, stopped: true }
    if (fetched.status === 'absent') {
      // "Not in the archive" ends recovery: said only at the end of the archive, never at a hole in it.
      const later = await laterSegmentArchived(source)
      if (later === undefined) {
        this.counts.missing++
        return this.write(`${name}.missing`, '')
      }
      return this.fail(name, `${name} is not in the archive, but ${later} is: a hole in the WAL; recovery stops here instead of ending early`)
    }
    const cut = signal.aborted ? ` (cut at ${this.options.fetchTimeoutMs / 1000} s)` : ''
    return this.fail(name, `cannot tell whether ${name} is archived${cut}: ${fetched.reasons.join('; ')}`)
  }

  private async fail(name: string, message: string): Promise<void> {
    this.counts.errors++
    await this.write(`${name}.error`, `probe-ops restore: ${message}\n`)
  }

  /**
   * A whole file under `name`, PostgreSQL's user's: written under a temporary name that is created
   * new (never through what was put there), then renamed.
   */
  private async write(name: string, data: string | Buffer): Promise<void> {
    const { dir, user } = this.options
    const temporary = join(dir, `.${name}.${process.pid}.tmp`)
    const handle = await open(temporary, 'wx', 0o600)
    try {
      await handle.writeFile(data)
      if (user && process.getuid?.() === 0) await handle.chown(user.uid, user.gid)
    } catch (error) {
      await handle.close()
      await unlink(temporary).catch(() => undefined)
      throw error
    }
    await handle.close()
    await rename(temporary, join(dir, name))
  }
}

/** Whether the run that made the spool still runs (its .owner file; one that cannot be read says no). */
async function ownerRuns(dir: string): Promise<boolean> {
  return ownerLineRuns(await readOwnFile(join(dir, OWNER_FILE), 256).catch(() => ''))
}

/**
 * Whether a directory under the spool's name was a run's spool that has ended: its owner file is
 * root's and names a run that is gone, or it is empty (killed between making it and writing that
 * file). Anything else under that name is not proven ours, and is left alone.
 */
async function abandoned(dir: string): Promise<boolean> {
  const owner = await lstat(join(dir, OWNER_FILE)).catch(() => undefined)
  if (owner?.isFile() && owner.uid === 0) return !(await ownerRuns(dir))
  return owner === undefined && (await readdir(dir).catch(() => ['?'])).length === 0
}

/** The spools runs left in these directories: directories under the spool's name (never links) whose run has ended. */
export async function abandonedSpools(parents: readonly string[]): Promise<string[]> {
  const found: string[] = []
  for (const parent of new Set(parents)) {
    const names = await readdir(parent).catch(() => [] as string[])
    for (const name of names.filter((n) => n.startsWith(SPOOL_PREFIX))) {
      const path = join(parent, name)
      const info = await lstat(path).catch(() => undefined)
      if (info?.isDirectory() && (await abandoned(path))) found.push(path)
    }
  }
  return found
}

/**
 * Removes a spool and what is in it, as the directory's owner (see removeOwnedTree: never
 * through a link PostgreSQL's user put there); root's own (made, not yet given) as root.
 */
export async function removeSpool(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined)
  if (!info?.isDirectory()) return
  await removeOwnedTree(dir, info.uid === 0 ? undefined : { uid: info.uid, gid: info.gid })
}
