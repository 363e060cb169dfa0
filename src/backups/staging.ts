import { lstat, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { readOwnFile } from '../lib/files.js'
import { formatSize } from '../lib/format.js'
import { ownerLine, ownerLineRuns } from '../lib/process.js'
import { diskUsage } from '../systems/host.js'
import type { BackupCopy } from './catalog.js'
import { checkIdentity, copyFailure, copyObjects, openCopy, type CopyOptions } from './copy.js'
import { prepareBackupDir, type StoredBackup } from './store.js'

/**
 * A copy that pg_restore cannot read where it is (in S3, or encrypted) is staged in backup.dir as
 * `.restore-staging-<id>`: pg_restore --jobs needs a seekable file, and a restore must know the
 * whole copy is good (`done`) before it touches anything. Host state, never a repository key (a
 * dotfile); removed when the run ends, and by `restore --cleanup` when a run was killed.
 */

export const STAGING_PREFIX = '.restore-staging-'

export function stagingPath(backupDir: string, id: string): string {
  return join(backupDir, `${STAGING_PREFIX}${id}`)
}

/** Beside a staged copy, root's note of the run staging it: restore and backup verify hold different locks. */
const OWNER_SUFFIX = '.run'

async function stagerRuns(path: string): Promise<boolean> {
  const owner = await lstat(`${path}${OWNER_SUFFIX}`).catch(() => undefined)
  if (!owner?.isFile() || owner.uid !== 0) return false
  return ownerLineRuns(await readOwnFile(`${path}${OWNER_SUFFIX}`, 256).catch(() => ''))
}

/** The staged copies runs left in backup.dir (files or directories, never links), and lone owner notes; a live run's are not. */
export async function abandonedStagings(backupDir: string): Promise<string[]> {
  const names = await readdir(backupDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[]
    throw error
  })
  const found: string[] = []
  for (const name of names.filter((n) => n.startsWith(STAGING_PREFIX))) {
    const path = join(backupDir, name)
    if (name.endsWith(OWNER_SUFFIX)) {
      // Killed after noting itself, before staging anything.
      const stem = name.slice(0, -OWNER_SUFFIX.length)
      if (!names.includes(stem) && !(await stagerRuns(join(backupDir, stem)))) found.push(path)
      continue
    }
    const info = await lstat(path).catch(() => undefined)
    if (info && (info.isFile() || info.isDirectory()) && !(await stagerRuns(path))) found.push(path)
  }
  return found
}

/** Removes a staged copy and its owner note: only files or directories under our own name (a link is left alone). */
export async function removeStaging(path: string): Promise<void> {
  for (const target of path.endsWith(OWNER_SUFFIX) ? [path] : [path, `${path}${OWNER_SUFFIX}`]) {
    const info = await lstat(target).catch(() => undefined)
    if (info && (info.isFile() || info.isDirectory())) await rm(target, { recursive: true, force: true })
  }
}

/** Room in backup.dir for `bytes` of what `what` writes there, and restore.reserveBytes left after it. */
export async function checkRoomInBackupDir(config: Readonly<Config>, what: string, bytes: number): Promise<void> {
  const disk = await diskUsage(config.backup.dir)
  if (disk.freeBytes === undefined) return
  const reserve = config.restore.reserveBytes
  if (disk.freeBytes < bytes + reserve)
    throw new StepFailure(
      `${what} needs ${formatSize(bytes)} in ${config.backup.dir}, which has ${formatSize(disk.freeBytes)} free and must keep ${formatSize(reserve)}`,
      'free space there, point backup.dir at a bigger disk, or lower restore.reserveBytes; the live database was not touched',
    )
}

async function writeFileFrom(path: string, stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
  // 'wx': never through what someone else put at the name.
  const handle = await open(path, 'wx', 0o600)
  await pipeline(stream, handle.createWriteStream({ flush: true }), { signal })
}

/**
 * The copy as a file (or directory) pg_restore can read: the local data itself when it is plain,
 * else staged and checked whole. `staged` is what the caller removes when done with it.
 */
export async function readableCopy(config: Readonly<Config>, copy: BackupCopy, options: CopyOptions): Promise<{ backup: StoredBackup; staged?: string }> {
  const { manifest } = copy
  if (copy.path !== undefined && !manifest.encryption) return { backup: { manifest, path: copy.path } }
  await checkIdentity(copy.repository, manifest, options.identityFile)
  await prepareBackupDir(config.backup.dir)
  const path = stagingPath(config.backup.dir, manifest.id)
  // A restore and a backup verify may stage the same copy at once (they hold different locks).
  if (await stagerRuns(path))
    throw new StepFailure(
      `another run is staging ${manifest.id} in ${config.backup.dir} now (${path}${OWNER_SUFFIX})`,
      'wait for it to end (probe-ops backup list shows what runs), then run this again; nothing was changed',
    )
  // Its run is gone: an abandoned copy of this host's.
  await removeStaging(path)
  await checkRoomInBackupDir(config, `staging ${manifest.id}`, manifest.bytes)
  await writeFile(`${path}${OWNER_SUFFIX}`, ownerLine(), { flag: 'wx', mode: 0o600 })
  try {
    const objects = copyObjects(manifest)
    if (manifest.files?.length) {
      await mkdir(path, { mode: 0o700 })
      for (const [index, object] of objects.entries()) {
        const single = { ...manifest, files: undefined, data: object.key, bytes: object.bytes, sha256: object.sha256, stored: manifest.files[index]!.stored }
        const opened = await openCopy(copy.repository, single, options)
        await writeFileFrom(join(path, manifest.files[index]!.name), opened.stream, options.signal)
        await opened.done
      }
    } else {
      const opened = await openCopy(copy.repository, manifest, options)
      await writeFileFrom(path, opened.stream, options.signal)
      await opened.done
    }
  } catch (error) {
    await removeStaging(path)
    throw copyFailure(copy.repository, error)
  }
  return { backup: { manifest, path }, staged: path }
}
