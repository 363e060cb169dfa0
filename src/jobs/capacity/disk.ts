import { lstat, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Config } from '../../config/load.js'
import { fillForecast } from '../../lib/forecast.js'
import { formatDelta } from '../../lib/format.js'
import { diskUsage } from '../../systems/host.js'
import type { CapacityHistory, DatabaseFacts, DiskFacts, GrowthFacts, MountCapacity, SeriesGrowth } from './facts.js'
import { describeSource, seriesGrowth } from './growth.js'

/**
 * The disks the platform lives on: PostgreSQL's data, the backups, the logs and the
 * configured paths, one entry per mount, each with the day it fills. The growth is the
 * mount's own history line when there is enough; before that, the growth of what is known
 * to live there (the database, the backups). The backup directory's size is measured too.
 */

type Role = MountCapacity['paths'][number]['role']

const MAX_ENTRIES = 200_000

/** Bytes and files under a directory, without following symlinks. */
export async function directoryBytes(root: string): Promise<{ exists: boolean; bytes: number; files: number; truncated: boolean }> {
  const info = await lstat(root).catch(() => undefined)
  if (!info?.isDirectory()) return { exists: Boolean(info), bytes: info?.size ?? 0, files: info ? 1 : 0, truncated: false }
  let bytes = 0
  let files = 0
  let seen = 0
  const stack = [root]
  while (stack.length > 0 && seen < MAX_ENTRIES) {
    const dir = stack.pop()!
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      seen++
      const path = join(dir, entry.name)
      if (entry.isDirectory()) stack.push(path)
      else if (entry.isFile()) {
        const stat = await lstat(path).catch(() => undefined)
        if (stat) {
          bytes += stat.size
          files++
        }
      }
    }
  }
  return { exists: true, bytes, files, truncated: seen >= MAX_ENTRIES }
}

/** The nearest existing directory at or above `path`: where a directory not made yet will live. */
async function existingAncestor(path: string): Promise<string> {
  let current = path
  for (;;) {
    if (
      await lstat(current).then(
        () => true,
        () => false,
      )
    )
      return current
    const parent = dirname(current)
    if (parent === current) return current
    current = parent
  }
}

export function diskPaths(config: Readonly<Config>, dataDirectory: string | null): { path: string; role: Role }[] {
  const paths: { path: string; role: Role }[] = []
  if (dataDirectory) paths.push({ path: dataDirectory, role: 'data' })
  paths.push({ path: config.backup.dir, role: 'backups' })
  if (config.log.file) paths.push({ path: dirname(config.log.file), role: 'logs' })
  for (const p of config.disk.paths) paths.push({ path: p, role: 'disk' })
  return paths
}

export async function gatherDisks(
  config: Readonly<Config>,
  now: Date,
  history: CapacityHistory,
  database: DatabaseFacts | undefined,
  growth: GrowthFacts | undefined,
  why: string | undefined,
): Promise<DiskFacts> {
  const at = now.getTime()
  const notes: string[] = []
  const dataDirectory = database?.dataDirectory?.path ?? null
  if (database && !dataDirectory)
    notes.push(
      "PostgreSQL's data directory is not on this host as far as probe-ops can see: set capacity.dataPath for the database's growth to count on its disk",
    )
  if (!database) notes.push(`database growth unknown (${why ?? 'not measured'}): disks forecast from their own history only`)

  const backupSize = await directoryBytes(config.backup.dir)
  const backups: DiskFacts['backups'] = {
    path: config.backup.dir,
    ...backupSize,
    growth: seriesGrowth(history.backupBytes, backupSize.exists ? { at, value: backupSize.bytes } : undefined, null, config.capacity),
  }

  type Measured = Omit<MountCapacity, 'growth' | 'forecast'>
  const byMount = new Map<string, Measured>()
  const unmeasured: DiskFacts['unmeasured'] = []
  for (const { path, role } of diskPaths(config, dataDirectory)) {
    const existing = await existingAncestor(path)
    const usage = await diskUsage(existing)
    if (usage.error || usage.sizeBytes === undefined || usage.freeBytes === undefined) {
      unmeasured.push({ path, role, error: usage.error ?? 'no figures' })
      continue
    }
    const mount = usage.mount ?? existing
    const entry = byMount.get(mount)
    const where = { path, role, exists: existing === path }
    if (entry) {
      if (!entry.paths.some((p) => p.path === path && p.role === role)) entry.paths.push(where)
      continue
    }
    const used = usage.sizeBytes - usage.freeBytes
    byMount.set(mount, {
      mount,
      paths: [where],
      sizeBytes: usage.sizeBytes,
      usedBytes: used,
      freeBytes: usage.freeBytes,
      usedPercent: usage.usedPercent ?? 0,
    })
  }

  const disks = [...byMount.values()].map((disk): MountCapacity => {
    // What is known to grow on this mount, when its own history is too short.
    const components: string[] = []
    const parts: { perDay: number; error: number }[] = []
    const add = (what: string, g: SeriesGrowth) => {
      if (g.perDay === null) return
      components.push(`${what} ${formatDelta(g.perDay)}/day`)
      parts.push({ perDay: g.perDay, error: g.slopeError ?? 0 })
    }
    if (disk.paths.some((p) => p.role === 'data') && growth) add(`database (${describeSource(growth.database)})`, growth.database)
    if (disk.paths.some((p) => p.role === 'backups') && backups.growth.source === 'history') add('backups (history)', backups.growth)
    const measured =
      parts.length === 0 ? null : { perDay: parts.reduce((a, p) => a + p.perDay, 0), error: Math.sqrt(parts.reduce((a, p) => a + p.error ** 2, 0)) }
    const own = seriesGrowth(history.diskUsed.get(disk.mount) ?? [], { at, value: disk.usedBytes }, measured, config.capacity)
    return {
      ...disk,
      growth: { ...own, components: own.source === 'history' ? [] : components },
      forecast:
        own.perDay === null
          ? {
              state: 'unknown',
              reason: `no growth known: ${own.history.points} of the ${config.capacity.minHistoryPoints} measurements over ${config.capacity.minHistoryDays} days a history line needs, and nothing measured lives here`,
            }
          : fillForecast({ capacity: disk.sizeBytes, used: disk.usedBytes, perDay: own.perDay, slopeError: own.slopeError, now: at }),
    }
  })
  return { disks, backups, unmeasured, notes }
}
