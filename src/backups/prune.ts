import type { Config } from '../config/load.js'
import { plural } from '../lib/format.js'
import { isGood, type StoredBackup } from './store.js'

/**
 * Which backups a prune keeps: per kind, the newest `last` whatever their day, the newest of
 * each of the last N days, ISO weeks and months that have one (grandfather-father-son), always
 * the newest good backup of each kind, and never the newest base backup, which WAL-based
 * recovery starts from. Backups that failed their last verification fill no place.
 */
export interface PrunePlan {
  keep: { backup: StoredBackup; reasons: string[] }[]
  remove: StoredBackup[]
}

function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()))
  const day = d.getUTCDay() || 7
  d.setUTCDate(d.getUTCDate() + 4 - day)
  const yearStart = new Date(Date.UTC(d.getUTCFullYear(), 0, 1))
  const week = Math.ceil(((d.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7)
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
}

export function planPrune(backups: StoredBackup[], keep: Config['backup']['keep'], now = new Date()): PrunePlan {
  const reasons = new Map<StoredBackup, string[]>()
  const mark = (b: StoredBackup, why: string) => reasons.set(b, [...(reasons.get(b) ?? []), why])
  // A restore's safety backup holds the state just before that restore, often a damaged one: it
  // must not take the day's (or week's, month's) place from the backup the restore came from. It
  // is kept for backup.keep.daily days on its own.
  const safetyDays = Math.max(keep.daily, 1)
  for (const b of backups.filter((x) => x.manifest.reason === 'safety')) {
    if (now.getTime() - Date.parse(b.manifest.startedAt) < safetyDays * 86_400_000) mark(b, `a restore's safety backup, kept ${plural(safetyDays, 'day')}`)
  }
  const regular = backups.filter((b) => b.manifest.reason !== 'safety')
  const kinds = new Set(regular.map((b) => b.manifest.kind))
  for (const kind of kinds) {
    const ofKind = regular.filter((b) => b.manifest.kind === kind).sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt))
    const newestGood = ofKind.find((b) => isGood(b.manifest))
    if (newestGood) mark(newestGood, `newest good ${kind} backup`)
    if (kind === 'base' && ofKind[0]) mark(ofKind[0], 'newest base backup: point-in-time recovery starts from it')
    // Two in one day (one by hand before an upgrade, then the nightly) are two restore points.
    const newest = keep.last === 1 ? 'the newest' : `one of the newest ${keep.last}`
    for (const b of ofKind.filter((x) => isGood(x.manifest)).slice(0, keep.last)) mark(b, newest)
    const buckets: [string, number, (d: Date) => string][] = [
      ['daily', keep.daily, (d) => d.toISOString().slice(0, 10)],
      ['weekly', keep.weekly, isoWeek],
      ['monthly', keep.monthly, (d) => d.toISOString().slice(0, 7)],
    ]
    for (const [name, count, bucketOf] of buckets) {
      const seen = new Set<string>()
      for (const b of ofKind.filter((x) => isGood(x.manifest))) {
        const bucket = bucketOf(new Date(b.manifest.startedAt))
        if (seen.has(bucket)) continue
        if (seen.size >= count) break
        seen.add(bucket)
        mark(b, `${name} ${bucket}`)
      }
    }
  }
  return {
    keep: backups.filter((b) => reasons.has(b)).map((b) => ({ backup: b, reasons: reasons.get(b)! })),
    remove: backups.filter((b) => !reasons.has(b)),
  }
}
