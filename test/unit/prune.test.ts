import { describe, expect, it } from 'vitest'
import { planPrune } from '../../src/backups/prune.js'
import type { BackupManifest, StoredBackup } from '../../src/backups/store.js'
import { parseConfigText, resolveConfig } from '../../src/config/load.js'

function backup(
  id: string,
  startedAt: string,
  kind: BackupManifest['kind'] = 'database',
  ok?: boolean,
  reason: BackupManifest['reason'] = 'scheduled',
): StoredBackup {
  const verifications = ok === undefined ? [] : [{ at: startedAt, ok, method: 'checksum' as const, durationMs: 1, detail: '' }]
  return {
    path: `/b/${id}`,
    manifest: {
      manifestVersion: 1,
      id,
      kind,
      reason,
      format: 'custom',
      data: id,
      bytes: 1,
      sha256: 'x',
      host: 'h',
      toolVersion: '0',
      startedAt,
      finishedAt: startedAt,
      durationMs: 1,
      verifications,
    },
  }
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
    const plan = planPrune(backups, { last: 0, daily: 2, weekly: 2, monthly: 2 }, new Date('2026-11-25T12:00:00Z'))
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
    const plan = planPrune(backups, { last: 0, daily: 0, weekly: 0, monthly: 0 })
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
    const plan = planPrune(backups, { last: 0, daily: 2, weekly: 0, monthly: 0 }, new Date('2026-11-25T15:00:00Z'))
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup.manifest.id, k.reasons]))
    expect(kept['nightly']).toEqual(['newest good database backup', 'daily 2026-11-25'])
    expect(kept['nightly-1120']).toEqual(['daily 2026-11-20'])
    expect(kept['safety-new']).toEqual(["a restore's safety backup, kept 2 days"])
    expect(plan.remove.map((b) => b.manifest.id)).toEqual(['safety-old'])
  })

  it("keeps the newest keep.last of each kind whatever their day: a dump taken by hand before an upgrade outlives that night's", () => {
    const backups = [
      backup('nightly-1126', '2026-11-26T03:00:00Z'),
      backup('nightly-1125', '2026-11-25T03:00:00Z'),
      backup('before-upgrade', '2026-11-25T01:10:00Z', 'database', undefined, 'manual'),
      backup('nightly-1124', '2026-11-24T03:00:00Z'),
      backup('cfg-b', '2026-11-25T03:05:00Z', 'config'),
      backup('cfg-a', '2026-11-25T03:01:00Z', 'config'),
    ]
    const now = new Date('2026-11-26T05:30:00Z')
    // The day buckets alone keep one dump per day: the one before the upgrade goes.
    const buckets = planPrune(backups, { last: 0, daily: 7, weekly: 0, monthly: 0 }, now)
    expect(buckets.remove.map((b) => b.manifest.id)).toEqual(['before-upgrade', 'cfg-a'])
    const plan = planPrune(backups, { last: 3, daily: 7, weekly: 0, monthly: 0 }, now)
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup.manifest.id, k.reasons]))
    expect(kept['before-upgrade']).toEqual(['one of the newest 3'])
    expect(kept['nightly-1126']).toEqual(['newest good database backup', 'one of the newest 3', 'daily 2026-11-26'])
    expect(kept['nightly-1124']).toEqual(['daily 2026-11-24'])
    // Counted per kind: the configuration archives have places of their own.
    expect(kept['cfg-a']).toEqual(['one of the newest 3'])
    expect(plan.remove).toEqual([])
  })

  it('fills the keep.last places with good backups only, never with a failed one or a safety backup', () => {
    const backups = [
      backup('safety', '2026-11-25T14:00:00Z', 'database', undefined, 'safety'),
      backup('failed', '2026-11-25T12:00:00Z', 'database', false),
      backup('third', '2026-11-25T09:00:00Z'),
      backup('second', '2026-11-25T06:00:00Z'),
      backup('first', '2026-11-25T03:00:00Z'),
    ]
    const plan = planPrune(backups, { last: 2, daily: 0, weekly: 0, monthly: 0 }, new Date('2026-11-25T15:00:00Z'))
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup.manifest.id, k.reasons]))
    expect(kept['third']).toEqual(['newest good database backup', 'one of the newest 2'])
    expect(kept['second']).toEqual(['one of the newest 2'])
    expect(kept['safety']).toEqual(["a restore's safety backup, kept 1 day"])
    expect(plan.remove.map((b) => b.manifest.id)).toEqual(['failed', 'first'])
  })

  it('says its reasons in words that agree with their numbers: 1 day, the newest', () => {
    const backups = [backup('safety', '2026-11-25T14:00:00Z', 'database', undefined, 'safety'), backup('only', '2026-11-25T09:00:00Z')]
    const plan = planPrune(backups, { last: 1, daily: 0, weekly: 0, monthly: 0 }, new Date('2026-11-25T15:00:00Z'))
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup.manifest.id, k.reasons]))
    expect(kept['safety']).toEqual(["a restore's safety backup, kept 1 day"])
    expect(kept['only']).toEqual(['newest good database backup', 'the newest'])
  })

  it('keeps the newest 3 unless configured: a config without keep.last keeps more than before, never less', () => {
    expect(resolveConfig(parseConfigText('backup:\n  keep:\n    daily: 2\n', 'test.yaml'), 'test.yaml', {}).backup.keep).toEqual({
      last: 3,
      daily: 2,
      weekly: 4,
      monthly: 6,
    })
    expect(resolveConfig(parseConfigText('backup:\n  keep:\n    last: 0\n', 'test.yaml'), 'test.yaml', {}).backup.keep.last).toBe(0)
  })
})
