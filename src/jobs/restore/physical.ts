import { existsSync } from 'node:fs'
import { chown } from 'node:fs/promises'
import { dirname } from 'node:path'
import { checkIdentity, copyOptions, openCopy } from '../../backups/copy.js'
import { StepFailure, describeError } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import { formatSize } from '../../lib/format.js'
import { diskUsage } from '../../systems/host.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { pgCtl, unpackBaseStream } from '../../systems/pg-tools.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { PitrContext, SideCluster } from './context.js'
import type { PitrVerifyData } from './data.js'
import { physicalDiskNeeds, physicalDiskRefusal, physicalRefusal, programsMajor, replayEnd } from './planning.js'
import { liveDataDir } from './switch-repair.js'

/**
 * The physical full restore (design-14 §6): the point-in-time recovery's steps (pitr.ts), with the
 * base backup read from the first repository whose copy is whole, through openCopy (stored
 * checksum, age decryption, plain checksum), straight into `tar --zstd -x` run as PostgreSQL's OS
 * user in the side data directory. The copy's `done` is awaited before anything goes on: a copy
 * that differs from its manifest is emptied out of the side directory and the next repository is
 * tried; the live data directory is never touched until the switch.
 */

/** What `pg_ctl --version` says of the PostgreSQL programs that will run the restored cluster. */
export async function programsVersion(context: PitrContext): Promise<number | undefined> {
  const version = await pgCtl(context.config, ['--version'], { timeoutMs: 10_000 })
  return version.ok ? programsMajor(version.output) : undefined
}

/**
 * Before anything is downloaded or changed: a base of these programs' major, a target it can
 * reach, and the copies this host can decrypt (the identity against the manifest's recipients).
 */
export const verifyPhysical: StepDefinition<PitrContext, PitrVerifyData> = {
  async run(context) {
    const { base, target, unreadable, config } = context
    const manifest = base.manifest
    const refusal = physicalRefusal(manifest, await programsVersion(context), target)
    if (refusal) throw refusal
    const failures: string[] = []
    const readable = []
    for (const copy of context.copies ?? []) {
      try {
        await checkIdentity(copy.repository, manifest, config.backup.encryption?.identityFile)
        readable.push(copy)
      } catch (error) {
        failures.push(`${copy.repository.name}: ${describeError(error)}`)
      }
    }
    if (readable.length === 0) throw new StepFailure(`no copy of ${manifest.id} can be read here: ${failures.join('; ')}`, 'the live cluster was not touched')
    const room = await checkRoom(context)
    context.copies = readable
    const names = readable.map((copy) => copy.repository.name)
    const findings: Finding[] = [
      ...refusedFindings(unreadable),
      ...failures.map((failure, index) => ({
        id: `copy-failed:${index}`,
        severity: 'medium' as const,
        message: `a copy cannot be used: ${failure}`,
        fix: 'set backup.encryption.identityFile to an identity of its recipients',
      })),
    ]
    return {
      summary: withRefusedNote(
        `${manifest.id} (consistent from ${manifest.consistentAt}), read from ${names.join(', then ')}; WAL replayed to ${replayEnd(target)}; ${room}`,
        unreadable,
      ),
      findings,
      data: { base: manifest.id, ...(target ? { target: target.toISOString() } : {}), repositories: names },
    }
  },
}

/** The nearest directory on the way to `path` that exists (a fresh host may have no backup.dir yet). */
function nearestExisting(path: string): string {
  for (let dir = path; ; dir = dirname(dir)) if (existsSync(dir) || dirname(dir) === dir) return dir
}

/**
 * Room on the disk the base is unpacked to (beside the live data directory, or in backup.dir on a
 * fresh host) for it and the WAL spool, restore.reserveBytes kept: refused before anything is
 * read or changed. Says what it found.
 */
async function checkRoom(context: PitrContext): Promise<string> {
  const { config, runtimes, base } = context
  const live = await liveDataDir(config, runtimes).catch(() => undefined)
  const target = nearestExisting(live && existsSync(live) ? dirname(live) : config.backup.dir)
  const needs = physicalDiskNeeds(base.manifest, config.restore.walPrefetch)
  const disk = await diskUsage(target)
  if (disk.freeBytes === undefined) return `free space on ${target} not checked (${disk.error ?? 'unknown'})`
  const refusal = physicalDiskRefusal(base.manifest.id, needs, { path: target, freeBytes: disk.freeBytes }, config.restore.reserveBytes)
  if (refusal) throw refusal
  return `needs about ${formatSize(needs.dataBytes + needs.spoolBytes)}${needs.estimated ? ' (estimated)' : ''} on ${target}, ${formatSize(disk.freeBytes)} free`
}

/**
 * Unpacks the first copy that reads whole into the side directory, as PostgreSQL's user; says
 * which repository it came from (and which were passed over). `empty` clears what a bad copy left.
 */
export async function unpackFirstCopy(context: PitrContext, side: SideCluster, signal: AbortSignal, empty: () => Promise<void>): Promise<string> {
  const { config, base } = context
  const { user } = side
  if (user && process.getuid?.() === 0) {
    await chown(side.dataDir, user.uid, user.gid)
    side.given = true
  }
  const failures: string[] = []
  for (const copy of context.copies ?? []) {
    try {
      const opened = await openCopy(copy.repository, base.manifest, copyOptions(config, signal))
      const unpacking = unpackBaseStream(opened.stream, side.dataDir, { user, signal })
      // Reached while tar reads the copy: a kill here leaves a half-unpacked side directory.
      await failpoint('physical-unpacking')
      const [unpacked, read] = await Promise.allSettled([unpacking, opened.done])
      // The copy's own verdict first: a tar that stopped on a corrupt stream says less.
      if (read.status === 'rejected') throw read.reason
      if (unpacked.status === 'rejected') throw unpacked.reason
      return failures.length ? `from ${copy.repository.name}; passed over ${failures.join('; ')}` : `from ${copy.repository.name}`
    } catch (error) {
      if (signal.aborted) throw error
      failures.push(describeError(error))
      await empty()
    }
  }
  throw new StepFailure(
    `no copy of ${base.manifest.id} could be unpacked: ${failures.join('; ')}`,
    'the live cluster was not touched; choose another base backup (probe-ops backup list)',
  )
}
