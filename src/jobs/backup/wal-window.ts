import { readCatalog, type BackupCopy } from '../../backups/catalog.js'
import { copyOptions } from '../../backups/copy.js'
import { basesWithWal, readWalInventory, windowsOf, type WalInventory } from '../../backups/wal-inventory.js'
import { describeGap, describeWindows } from '../../wal/window-text.js'
import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { plural } from '../../lib/format.js'
import type { Repository } from '../../repositories/repository.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { parseSegmentName, segmentName } from '../../wal/names.js'
import type { Recoverable } from '../../wal/timeline.js'
import type { VerifyContext } from './context.js'
import type { WalChainData, WalWindowsData } from './data.js'

/**
 * The recoverable windows and WAL gaps of a repository as the backup jobs report them (design-14
 * §4.5): `backup list` for every repository that holds a base backup, `backup verify <base>` for
 * the repositories that hold it, with the check that the WAL it was taken over is archived, and
 * `backup prune` with what it keeps. A gap is a high finding: nothing recovers across it.
 */

export const TAKE_BASE_NOW = 'take a base backup now (probe-ops backup base) to start an unbroken window'

/** The report's form of a repository's windows. */
export function windowsData(inventory: WalInventory, recoverable: Recoverable): WalWindowsData {
  return {
    windows: recoverable.windows.map((window) => ({ ...window })),
    gaps: recoverable.gaps,
    ...(recoverable.newest ? { newest: recoverable.newest } : {}),
    files: inventory.objects.length,
    bytes: inventory.objects.reduce((sum, object) => sum + object.bytes, 0),
    unreadHistories: inventory.unreadHistories,
  }
}

/** A high finding per gap, naming how far the base backups before it recover; a low one for history files not read. */
export function windowFindings(repository: Pick<Repository, 'name' | 'where'>, recoverable: WalWindowsData): Finding[] {
  const findings: Finding[] = recoverable.gaps.map((gap) => {
    const stopped = recoverable.windows.filter((window) => window.endsAtGap?.first === gap.first && window.endsAtGap.timeline === gap.timeline)
    const reach = stopped.length
      ? `; ${plural(stopped.length, 'base backup')} before it (${stopped.map((window) => window.base).join(', ')}) ${stopped.length === 1 ? 'recovers' : 'recover'} only up to ${stopped.map((window) => window.to).sort()[0]}`
      : ''
    return {
      id: `wal-gap:${repository.name}:${gap.first}`,
      severity: 'high' as const,
      subject: repository.where,
      message: `${repository.name}: WAL ${describeGap(gap)} is missing from the archive: point-in-time recovery cannot cross it${reach}`,
      fix: TAKE_BASE_NOW,
    }
  })
  if (recoverable.unreadHistories.length)
    findings.push({
      id: `wal-history-unread:${repository.name}`,
      severity: 'low',
      subject: repository.where,
      message: `${repository.name}: ${plural(recoverable.unreadHistories.length, 'timeline history file')} could not be read (the first: ${recoverable.unreadHistories[0]}): the windows stop where the timeline changed`,
      fix: 'run this where backup.encryption.identityFile is set (the host that restores)',
    })
  return findings
}

/**
 * A repository's windows, read only when it holds a base backup that records its WAL: a
 * repository of dumps alone is never paged through for its WAL. A wal/ that cannot be read is a
 * high finding, never "no gap".
 */
export async function readWindows(
  config: Readonly<Config>,
  repository: Repository,
  copies: readonly BackupCopy[],
  signal: AbortSignal,
): Promise<{ data?: WalWindowsData; findings: Finding[]; inventory?: WalInventory }> {
  const bases = basesWithWal(copies.filter((copy) => copy.repository === repository))
  if (bases.length === 0) return { findings: [] }
  try {
    const inventory = await readWalInventory(repository, copyOptions(config, signal))
    const data = windowsData(inventory, windowsOf(inventory, bases))
    return { data, findings: windowFindings(repository, data), inventory }
  } catch (error) {
    signal.throwIfAborted()
    return {
      findings: [
        {
          id: `wal-unreadable:${repository.name}`,
          severity: 'high',
          subject: repository.where,
          message: `${repository.name}: its WAL could not be read: ${describeError(error)}; whether point-in-time recovery can reach anything is unknown`,
          fix: `check the repository, then run probe-ops backup list --repository ${repository.name}`,
        },
      ],
    }
  }
}

/** The segments from the base's first to its last, on its timeline, that its archive lacks. */
export function missingChain(inventory: WalInventory, manifest: NonNullable<BackupCopy['manifest']['wal']>): string[] {
  const { archiveId, start, stop, segmentBytes } = manifest
  const first = parseSegmentName(start, segmentBytes)
  const last = parseSegmentName(stop, segmentBytes)
  if (!first || !last) return [start]
  const present = new Set(inventory.objects.filter((object) => object.archiveId === undefined || object.archiveId === archiveId).map((object) => object.name))
  const missing: string[] = []
  for (let number = first.number; number <= last.number; number++) {
    const name = segmentName({ timeline: first.timeline, number }, segmentBytes)
    if (!present.has(name)) missing.push(name)
  }
  return missing
}

/** `backup verify <base>`: the WAL it was taken over is in each repository that holds it, and the windows and gaps there. */
export const walChainStep: StepDefinition<VerifyContext, WalChainData> = {
  async run(context, run) {
    const { manifest } = context.entry
    if (manifest.kind !== 'base') return { skipped: true, summary: `a ${manifest.kind} backup needs no WAL` }
    if (!manifest.wal) return { skipped: true, summary: `${manifest.id} does not record its WAL (taken before probe-ops recorded it): it holds its own` }
    const names = [...new Set(context.copies.map((copy) => copy.repository.name))]
    const catalog = await readCatalog(context.config.backup, { names, signal: run.signal })
    const all = catalog.entries.flatMap((entry) => entry.copies)
    const findings: Finding[] = []
    const repositories: WalChainData['repositories'] = []
    const lines: string[] = []
    for (const repository of catalog.repositories) {
      const read = await readWindows(context.config, repository, all, run.signal)
      findings.push(...read.findings)
      if (!read.data || !read.inventory) continue
      const missing = missingChain(read.inventory, manifest.wal)
      repositories.push({ name: repository.name, missing, recoverable: read.data })
      lines.push(describeWindows(repository.name, read.data))
      if (missing.length)
        findings.push({
          id: `wal-chain-incomplete:${repository.name}`,
          severity: 'medium',
          subject: repository.where,
          message: `${repository.name}: ${plural(missing.length, 'segment')} of the WAL ${manifest.id} was taken over (${manifest.wal.start} .. ${manifest.wal.stop}) ${missing.length === 1 ? 'is' : 'are'} not archived (the first: ${missing[0]}): it becomes consistent from the WAL it holds itself, but point-in-time recovery from it cannot go past its end`,
          fix: `${TAKE_BASE_NOW}; check WAL archiving (probe-ops diagnose --only backups)`,
        })
    }
    for (const unreachable of catalog.unreachable) {
      findings.push({
        id: `wal-unreadable:${unreachable.repository}`,
        severity: 'high',
        subject: unreachable.where,
        message: `${unreachable.repository}: could not be read: ${describeError(unreachable.error)}`,
        fix: `check the repository, then run probe-ops backup verify ${manifest.id} --repository ${unreachable.repository}`,
      })
    }
    const chained = repositories.filter((r) => r.missing.length === 0).map((r) => r.name)
    const summary = [`${manifest.wal.start} .. ${manifest.wal.stop} archived in ${chained.length ? chained.join(', ') : 'no repository'}`, ...lines].join('; ')
    return {
      summary,
      findings,
      data: {
        base: manifest.id,
        wal: { archiveId: manifest.wal.archiveId, timeline: manifest.wal.timeline, start: manifest.wal.start, stop: manifest.wal.stop },
        repositories,
      },
    }
  },
}
