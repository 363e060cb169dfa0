import { describe, expect, it } from 'vitest'
import { planPrune } from '../../src/backups/prune.js'
import type { BackupManifest, StoredBackup } from '../../src/backups/store.js'

function backup(id: string, startedAt: string, kind: BackupManifest['kind'] = 'database', ok?: boolean, reason: BackupManifest['reason'] = 'scheduled'): StoredBackup {
  const verifications = ok === undefined ? [] : [{ at: startedAt, ok, method: 'checksum' as const, durationMs: 1, detail: '' }]
  return { path: `/b/${id}`, manifest: { manifestVersion: 1, id, kind, reason, format: 'custom', data: id, bytes: 1, sha256: 'x', host: 'h', toolVersion: '0', startedAt, finishedAt: startedAt, durationMs: 1, verifications } }
}

describe('backup retention', () => {
  it('keeps the newest of each of the last N days, weeks and months', () => {
    const backups = [
      backup('d-1125-b', '2026-11-25T03:00:00Z'),
      backup('d-1125-a', '2026-11-25T01:00:00Z'),
      backup('d-1124', '2026-11-24T03:00:00Z'),
      backup('d-1123', '2026-11-23T03:00:00Z'),
      backup('d-1115', '2026-11-15T03:00:00Z'),
      backup('d-1016', '2026-10-16T03:00:00Z'),
      backup('d-0916', '2026-09-16T03:00:00Z'),
    ]
    const plan = planPrune(backups, { daily: 2, weekly: 2, monthly: 2 }, new Date('2026-11-25T12:00:00Z'))
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup.manifest.id, k.reasons]))
    expect(Object.keys(kept).sort()).toEqual(['d-1016', 'd-1115', 'd-1124', 'd-1125-b'].sort())
    expect(kept['d-1125-b']).toEqual(['newest good database backup', 'daily 2026-11-25', 'weekly 2026-W48', 'monthly 2026-11'])
    expect(kept['d-1115']).toEqual(['weekly 2026-W46'])
    expect(plan.remove.map((b) => b.manifest.id).sort()).toEqual(['d-0916', 'd-1123', 'd-1125-a'])
  })

  it('never removes the newest good backup of a kind, nor the newest base backup, and skips failed ones', () => {
    const backups = [
      backup('bad', '2026-11-25T03:00:00Z', 'database', false),
      backup('good', '2026-11-01T03:00:00Z', 'database', true),
      backup('cfg', '2025-01-01T00:00:00Z', 'config'),
      backup('base-new', '2026-11-20T00:00:00Z', 'base'),
      backup('base-old', '2026-11-10T00:00:00Z', 'base'),
    ]
    const plan = planPrune(backups, { daily: 0, weekly: 0, monthly: 0 })
    expect(plan.keep.map((k) => k.backup.manifest.id).sort()).toEqual(['base-new', 'cfg', 'good'])
    expect(plan.remove.map((b) => b.manifest.id).sort()).toEqual(['bad', 'base-old'])
  })

  it("keeps a restore's safety backup on its own for keep.daily days, never in the place of the day's backup", () => {
    const backups = [
      backup('safety-new', '2026-11-25T14:00:00Z', 'database', undefined, 'safety'),
      backup('nightly', '2026-11-25T02:30:00Z'),
      backup('safety-old', '2026-11-20T14:00:00Z', 'database', undefined, 'safety'),
      backup('nightly-1120', '2026-11-20T02:30:00Z'),
    ]
    const plan = planPrune(backups, { daily: 2, weekly: 0, monthly: 0 }, new Date('2026-11-25T15:00:00Z'))
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup.manifest.id, k.reasons]))
    expect(kept['nightly']).toEqual(['newest good database backup', 'daily 2026-11-25'])
    expect(kept['nightly-1120']).toEqual(['daily 2026-11-20'])
    expect(kept['safety-new']).toEqual(["a restore's safety backup, kept 2 days"])
    expect(plan.remove.map((b) => b.manifest.id)).toEqual(['safety-old'])
  })
})
