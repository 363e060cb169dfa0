import { describeError } from '../errors.js'
import { isLegacyWalKey, parseWalKey, WAL_DIRECTORY } from '../repositories/layout.js'
import { readSmall, type Repository } from '../repositories/repository.js'
import type { AgeRunner } from '../systems/age.js'
import { decodeWal } from '../wal/codec.js'
import type { WalObject } from '../wal/expire.js'
import { parseHistoryFile, parseWalFileName, type HistoryEntry } from '../wal/names.js'
import { recoverableWindows, type BaseWal, type Recoverable, type TimelineHistory } from '../wal/timeline.js'
import type { Config } from '../config/load.js'
import { readCatalog, type BackupCopy } from './catalog.js'

/**
 * What a repository's WAL archive holds, read for prune's expiry and for the recoverable windows
 * of `backup list`, `verify` and `prune` (design-14 §4.4, §4.5): one listing of wal/ (27 pages of
 * 1,000 keys per day of WAL at 5 MB/s) and the history files' contents, which recovery follows
 * from one timeline to the next. A key that is not a WAL file's is neither counted nor removed.
 */

export interface WalHistory {
  /** undefined: a legacy plain copy in wal/, which counts in every archive. */
  archiveId?: string
  timeline: number
  entries: HistoryEntry[]
}

export interface WalInventory {
  objects: WalObject[]
  histories: WalHistory[]
  /** History files that could not be read (encrypted with no identity here, damaged): the windows then stop at a timeline switch. */
  unreadHistories: string[]
}

export interface InventoryOptions {
  identityFile?: string | undefined
  runner?: AgeRunner | undefined
  signal: AbortSignal
}

/** A history file is a few lines per timeline switch: one bigger is not PostgreSQL's. */
const MAX_HISTORY_BYTES = 1024 * 1024

async function readHistory(repository: Repository, object: WalObject, options: InventoryOptions): Promise<HistoryEntry[]> {
  const stored = await readSmall(repository, object.key, MAX_HISTORY_BYTES, options.signal)
  const parsed = parseWalKey(object.key)
  const plain = parsed
    ? await decodeWal(stored, {
        compression: parsed.compression,
        encrypted: parsed.encrypted,
        ...(options.identityFile === undefined ? {} : { identityFile: options.identityFile }),
        ...(options.runner ? { runner: options.runner } : {}),
        signal: options.signal,
        what: `${object.key} in ${repository.name}`,
        maxBytes: MAX_HISTORY_BYTES,
      })
    : stored
  return parseHistoryFile(plain.toString('utf8'))
}

export async function readWalInventory(repository: Repository, options: InventoryOptions): Promise<WalInventory> {
  const inventory: WalInventory = { objects: [], histories: [], unreadHistories: [] }
  for await (const object of repository.list(`${WAL_DIRECTORY}/`, { signal: options.signal })) {
    const parsed = parseWalKey(object.key)
    const name = parsed?.name ?? (isLegacyWalKey(object.key) ? object.key.slice(WAL_DIRECTORY.length + 1) : undefined)
    if (name === undefined) continue
    inventory.objects.push({
      ...(parsed ? { archiveId: parsed.archiveId } : {}),
      name,
      key: object.key,
      bytes: object.bytes,
      archivedAt: object.modifiedAt,
    })
  }
  for (const object of inventory.objects) {
    const file = parseWalFileName(object.name)
    if (file?.kind !== 'history') continue
    try {
      const entries = await readHistory(repository, object, options)
      inventory.histories.push({ ...(object.archiveId ? { archiveId: object.archiveId } : {}), timeline: file.timeline, entries })
    } catch (error) {
      options.signal.throwIfAborted()
      inventory.unreadHistories.push(`${object.key}: ${describeError(error)}`)
    }
  }
  return inventory
}

/** The base backups among a repository's copies that record their WAL (v2 manifests), as the window computation takes them. */
export function basesWithWal(copies: readonly Pick<BackupCopy, 'manifest'>[]): BaseWal[] {
  return copies.flatMap(({ manifest }) =>
    manifest.kind === 'base' && manifest.wal && manifest.consistentAt ? [{ id: manifest.id, consistentAt: manifest.consistentAt, wal: manifest.wal }] : [],
  )
}

/** The windows and gaps of a repository; a legacy plain history file counts in every archive, as its segments do. */
export function windowsOf(inventory: WalInventory, bases: readonly BaseWal[]): Recoverable {
  const archives = [...new Set(bases.map((base) => base.wal.archiveId))]
  const histories: TimelineHistory[] = inventory.histories.flatMap((history) =>
    history.archiveId !== undefined ? [{ ...history, archiveId: history.archiveId }] : archives.map((archiveId) => ({ ...history, archiveId })),
  )
  return recoverableWindows(inventory.objects, histories, bases)
}

/**
 * What every repository together holds of the WAL, and each base backup's window over it: `wal
 * fetch` takes a segment from the first repository that has it, so a segment missing in one and
 * there in another is no hole for a recovery. Undefined when some repository, or a history file,
 * could not be read: what recovery would find is then unknown.
 */
export async function windowsAcrossRepositories(backup: Config['backup'], options: InventoryOptions): Promise<Recoverable | undefined> {
  const catalog = await readCatalog(backup, { signal: options.signal })
  if (catalog.unreachable.length > 0) return undefined
  const union: WalInventory = { objects: [], histories: [], unreadHistories: [] }
  for (const repository of catalog.repositories) {
    let inventory: WalInventory
    try {
      inventory = await readWalInventory(repository, options)
    } catch {
      options.signal.throwIfAborted()
      return undefined
    }
    // A timeline history not read: where recovery goes after a switch is unknown.
    if (inventory.unreadHistories.length > 0) return undefined
    union.objects.push(...inventory.objects)
    union.histories.push(...inventory.histories)
  }
  const bases = new Map(basesWithWal(catalog.entries.flatMap((entry) => entry.copies)).map((base) => [base.id, base]))
  return windowsOf(union, [...bases.values()])
}
