import { pickRepositories, readCatalog, unreachableMessage, withIncompleteUploads, type BackupCopy, type Catalog } from '../../backups/catalog.js'
import { planPrune, type PrunePlan } from '../../backups/prune.js'
import { removeBackup } from '../../backups/store.js'
import type { RepositoryConfig } from '../../config/repositories.js'
import { describeError } from '../../errors.js'
import { formatSize, plural } from '../../lib/format.js'
import { dataKeys, manifestKey } from '../../repositories/layout.js'
import type { Repository } from '../../repositories/repository.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import { copyOptions } from '../../backups/copy.js'
import { basesWithWal, readWalInventory, windowsOf, type WalInventory } from '../../backups/wal-inventory.js'
import { describeWalRemoval, planWalExpiry } from '../../wal/expire.js'
import { windowFindings, windowsData } from './wal-window.js'
import type { CatalogContext } from './context.js'
import type { PruneData } from './data.js'

/**
 * Backups past their retention (backups/prune.ts decides which), per repository: its own `keep`
 * (else backup.keep), nothing where `prune: false` (a bucket lifecycle rule keeps retention), the
 * manifest removed before the data (data without a manifest is a leftover, never a backup that
 * looks whole), then S3 data without a manifest older than 24 h. A repository that refuses to
 * delete is a finding, never a crash; what was refused on the way is left alone and reported.
 */

type Planned = PrunePlan['keep'][number]['backup'] & { copy: BackupCopy }
type RepositoryPrune = PruneData['repositories'][number]

/** Removes one backup from one repository; undefined when done, else why not. */
async function removeCopy(repository: Repository, config: RepositoryConfig, copy: BackupCopy, signal: AbortSignal): Promise<string | undefined> {
  if (config.type === 'local') {
    try {
      await removeBackup(config.path, { manifest: copy.manifest, path: copy.path! })
      return undefined
    } catch (error) {
      return describeError(error)
    }
  }
  const manifest = await repository.remove([manifestKey(copy.manifest.id)], { signal })
  if (manifest.failed.length) return manifest.failed[0]!.error
  const data = await repository.remove(dataKeys(copy.manifest.data, copy.manifest.files), { signal })
  return data.failed.length ? `its manifest is removed, not its data: ${data.failed[0]!.error} (a leftover now; prune removes it later)` : undefined
}

function refusedDelete(repository: Repository, why: string): Finding {
  const denied = /AccessDenied|permission|HTTP 403/i.test(why)
  return {
    id: `delete-refused:${repository.name}`,
    severity: 'medium',
    subject: repository.where,
    message: `${repository.name} refused to delete: ${why}`,
    fix: denied
      ? `set prune: false on repository ${repository.name} if a bucket lifecycle rule keeps its retention`
      : 'check the repository, then run probe-ops backup prune again',
  }
}

/**
 * S3 multipart uploads over 24 h old that never completed (a killed writer's): aborted, which frees
 * their parts. A server that cannot list them is a low finding: that some are left is unknown.
 */
async function abortIncompleteUploads(
  repository: Repository,
  catalog: Catalog,
  run: { signal: AbortSignal; dryRun: boolean },
  result: RepositoryPrune,
  findings: Finding[],
): Promise<void> {
  const { incompleteUploads } = withIncompleteUploads(catalog, repository.name)
  const found = catalog.incompleteUploads.find((u) => u.repository === repository.name)
  if (!incompleteUploads || !found) return
  if ('unchecked' in found) {
    result.incompleteUploads = incompleteUploads
    findings.push({
      id: `uploads-unchecked:${repository.name}`,
      severity: 'low',
      subject: repository.where,
      message: found.unchecked,
      fix: 'a bucket lifecycle rule (AbortIncompleteMultipartUpload after 1 day) removes them where the server cannot list them',
    })
    return
  }
  const aborted = new Set<string>()
  for (const upload of found.uploads) {
    if (run.dryRun || !repository.abortUpload) continue
    try {
      await repository.abortUpload(upload, { signal: run.signal })
      aborted.add(upload.uploadId)
    } catch (error) {
      run.signal.throwIfAborted()
      result.failed.push({ id: `upload ${upload.uploadId} of ${upload.key}`, error: describeError(error) })
    }
  }
  result.incompleteUploads = { ...incompleteUploads, uploads: incompleteUploads.uploads.filter((u) => run.dryRun || aborted.has(u.uploadId)) }
}

function withWal(result: RepositoryPrune, wal: RepositoryPrune['wal']): RepositoryPrune {
  return wal ? { ...result, wal } : result
}

/**
 * The WAL no kept base backup of the repository needs (design-14 §4.4, wal/expire.ts decides),
 * removed where the repository is pruned and this is no --dry-run; and the recoverable windows
 * with what stays. A kept base backup that does not record its WAL (taken before probe-ops
 * recorded it) may need any of it: then nothing goes. A wal/ that cannot be read is a finding.
 */
async function expireWal(
  context: CatalogContext,
  picked: { repository: Repository; config: RepositoryConfig },
  kept: PrunePlan['keep'],
  run: { signal: AbortSignal; dryRun: boolean },
  findings: Finding[],
): Promise<RepositoryPrune['wal']> {
  const { repository } = picked
  let inventory: WalInventory
  try {
    inventory = await readWalInventory(repository, copyOptions(context.config, run.signal))
  } catch (error) {
    run.signal.throwIfAborted()
    findings.push({
      id: `wal-unreadable:${repository.name}`,
      severity: 'high',
      subject: repository.where,
      message: `${repository.name}: its WAL could not be read: ${describeError(error)}; no WAL removed there`,
      fix: 'check the repository, then run probe-ops backup prune again',
    })
    return undefined
  }
  const keptBases = kept.map((k) => k.backup.manifest).filter((manifest) => manifest.kind === 'base')
  const unrecorded = keptBases.filter((manifest) => !manifest.wal || !manifest.consistentAt)
  const bases = basesWithWal(keptBases.map((manifest) => ({ manifest })))
  const expiry = planWalExpiry({ repository: repository.name, listing: inventory.objects, keptBases: bases, prune: picked.config.prune })
  if (expiry.finding)
    findings.push({
      id: `wal-without-base:${repository.name}`,
      severity: 'medium',
      subject: repository.where,
      message: expiry.finding,
      fix: 'take one: probe-ops backup base',
    })
  if (unrecorded.length && expiry.deletes) {
    expiry.deletes = false
    expiry.note = `${unrecorded.map((m) => m.id).join(', ')} ${unrecorded.length === 1 ? 'does' : 'do'} not record the WAL ${unrecorded.length === 1 ? 'it needs' : 'they need'} (taken before probe-ops recorded it): WAL is kept until ${unrecorded.length === 1 ? 'it is' : 'they are'} pruned`
  }
  const removing = expiry.deletes && !run.dryRun && expiry.remove.length > 0
  const removed = removing
    ? await repository.remove(
        expiry.remove.map((object) => object.key),
        { signal: run.signal },
      )
    : { removed: [], failed: [] }
  // The windows as they are (or, with --dry-run, will be) once the expired WAL is gone.
  const gone = new Set(removing ? removed.removed : expiry.deletes ? expiry.remove.map((object) => object.key) : [])
  const remaining = { ...inventory, objects: inventory.objects.filter((object) => !gone.has(object.key)) }
  const after = bases.length ? windowsData(remaining, windowsOf(remaining, bases)) : undefined
  if (after) findings.push(...windowFindings(repository, after))
  return {
    ...(expiry.floor ? { floor: expiry.floor } : {}),
    files: expiry.remove.length,
    bytes: expiry.removeBytes,
    archivesRemoved: expiry.archivesRemoved,
    removed: removed.removed.length,
    failed: removed.failed,
    ...(expiry.note ? { note: expiry.note } : {}),
    ...(after ? { after } : {}),
  }
}

/** What the summary says of a repository's WAL. */
function describeWal(name: string, wal: NonNullable<RepositoryPrune['wal']>, dryRun: boolean): string[] {
  // No base kept: nothing goes, and WAL without a base is a finding of its own.
  if (!wal.floor) return []
  const verb = dryRun || wal.note ? 'would remove' : 'removed'
  const line = describeWalRemoval({ repository: name, floor: wal.floor, files: wal.files, bytes: wal.bytes, archivesRemoved: wal.archivesRemoved }, verb)
  return [wal.note ? `${line} (${wal.note})` : line]
}

async function pruneRepository(
  context: CatalogContext,
  catalog: Catalog,
  picked: { repository: Repository; config: RepositoryConfig },
  run: { signal: AbortSignal; dryRun: boolean },
  findings: Finding[],
): Promise<RepositoryPrune> {
  const { repository, config } = picked
  const policy = { ...context.config.backup.keep, ...config.keep }
  const copies: Planned[] = catalog.entries.flatMap((entry) =>
    entry.copies.filter((c) => c.repository === repository).map((copy) => ({ manifest: copy.manifest, path: copy.location, copy })),
  )
  const plan = planPrune(copies, policy)
  const result: RepositoryPrune = {
    name: repository.name,
    pruned: config.prune,
    policy,
    keep: plan.keep.map((k) => ({ id: k.backup.manifest.id, reasons: k.reasons })),
    remove: config.prune ? plan.remove.map((b) => b.manifest.id) : [],
    failed: [],
    leftoversRemoved: [],
  }
  if (!config.prune) return withWal(result, await expireWal(context, picked, plan.keep, run, findings))
  await abortIncompleteUploads(repository, catalog, run, result, findings)
  // In S3 only: a local leftover may be a live writer's on this host, and restore --cleanup knows that.
  const leftovers = repository.kind === 's3' ? catalog.leftovers.filter((l) => l.repository === repository.name && l.key !== undefined) : []
  if (run.dryRun) return withWal({ ...result, leftoversRemoved: leftovers.map((l) => l.key!) }, await expireWal(context, picked, plan.keep, run, findings))
  const stillThere: PrunePlan['keep'] = []
  for (const planned of plan.remove as Planned[]) {
    const failed = await removeCopy(repository, config, planned.copy, run.signal)
    if (failed) {
      result.failed.push({ id: planned.manifest.id, error: failed })
      // Still listed: the WAL it needs stays with it.
      stillThere.push({ backup: planned, reasons: ['its removal failed'] })
    }
  }
  result.wal = await expireWal(context, picked, [...plan.keep, ...stillThere], run, findings)
  for (const failure of result.wal?.failed ?? []) result.failed.push({ id: failure.key, error: failure.error })
  if (leftovers.length) {
    const removed = await repository.remove(
      leftovers.map((l) => l.key!),
      { signal: run.signal },
    )
    result.leftoversRemoved = removed.removed
    for (const failure of removed.failed) result.failed.push({ id: failure.key, error: failure.error })
  }
  if (result.failed.length) findings.push(refusedDelete(repository, result.failed[0]!.error))
  return result
}

export const pruneStep: StepDefinition<CatalogContext, PruneData> = {
  async run(context, run) {
    const { config } = context
    const catalog = await readCatalog(config.backup, { names: context.repositories, signal: run.signal, incompleteUploads: true })
    const findings: Finding[] = [...refusedFindings(catalog.unreadable)]
    for (const u of catalog.unreachable)
      findings.push({
        id: `repository-unreadable:${u.repository}`,
        severity: 'high',
        subject: u.where,
        message: `${unreachableMessage(u)}: nothing pruned there`,
        fix: 'check the repository (credentials, endpoint, bucket), then run probe-ops backup prune again',
      })
    const repositories: RepositoryPrune[] = []
    for (const picked of pickRepositories(config.backup, context.repositories)) {
      if (catalog.unreachable.some((u) => u.repository === picked.repository.name)) continue
      repositories.push(await pruneRepository(context, catalog, picked, run, findings))
    }
    const removed = new Set(repositories.flatMap((r) => r.remove))
    const kept = new Map(repositories.flatMap((r) => r.keep.map((k) => [k.id, k.reasons] as const)).reverse())
    const bytes = catalog.entries.filter((e) => removed.has(e.manifest.id)).reduce((sum, e) => sum + e.manifest.bytes, 0)
    const notPruned = repositories.filter((r) => !r.pruned).map((r) => r.name)
    const did = run.dryRun
      ? `would remove ${plural(removed.size, 'backup')} (${formatSize(bytes)}), keep`
      : `removed ${plural(removed.size, 'backup')} (${formatSize(bytes)}), kept`
    const leftovers = repositories.reduce((sum, r) => sum + r.leftoversRemoved.length, 0)
    const uploads = repositories.reduce((sum, r) => sum + (r.incompleteUploads?.uploads.length ?? 0), 0)
    const tail = [
      ...(leftovers ? [`${run.dryRun ? 'would remove' : 'removed'} ${plural(leftovers, 'leftover')}`] : []),
      ...(uploads ? [`${run.dryRun ? 'would abort' : 'aborted'} ${plural(uploads, 'incomplete upload')}`] : []),
      ...(notPruned.length ? [`${notPruned.join(', ')} left alone (prune: false)`] : []),
      ...repositories.flatMap((r) => (r.wal ? describeWal(r.name, r.wal, run.dryRun) : [])),
    ]
    return {
      summary: withRefusedNote(`${did} ${kept.size}${tail.length ? `; ${tail.join('; ')}` : ''}`, catalog.unreadable),
      findings,
      data: {
        keep: [...kept].map(([id, reasons]) => ({ id, reasons })),
        remove: [...removed],
        bytes,
        policy: { ...config.backup.keep },
        repositories,
      },
    }
  },
}
