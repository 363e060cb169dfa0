import { describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.js'
import { restoreOptions, type RestoreFlags } from '../../src/jobs/restore/options.js'

function refusal(flags: RestoreFlags): { message: string; hint?: string } {
  try {
    restoreOptions(flags)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return { message: (error as UsageError).message, hint: (error as UsageError).hint }
  }
  throw new Error(`accepted: ${JSON.stringify(flags)}`)
}

describe("restore's flags as the options of a mode", () => {
  it('are a full restore by default, with owners and privileges unless told otherwise', () => {
    expect(restoreOptions({ backup: 'latest', mode: 'full' })).toEqual({ mode: 'full', backup: 'latest', noOwner: false, noPrivileges: false })
    expect(restoreOptions({ backup: 'b', mode: 'full', 'no-owner': true, 'no-privileges': true })).toMatchObject({ noOwner: true, noPrivileges: true })
  })

  it('are a partial restore of the tables given, beside the live ones with --into-schema', () => {
    expect(restoreOptions({ backup: 'b', mode: 'partial', table: ['tasks', 'users'] })).toEqual({ mode: 'partial', backup: 'b', tables: ['tasks', 'users'] })
    expect(restoreOptions({ backup: 'b', mode: 'partial', table: ['tasks'], 'into-schema': 'compare' })).toMatchObject({ intoSchema: 'compare' })
  })

  it('are a recovery to the moment given, in ISO 8601 or as PostgreSQL prints now()', () => {
    expect(restoreOptions({ backup: 'latest', mode: 'pitr', 'target-time': '2026-11-25T03:15:00Z', 'side-only': true })).toEqual({
      mode: 'pitr',
      backup: 'latest',
      target: new Date('2026-11-25T03:15:00Z'),
      sideOnly: true,
    })
    const printed = restoreOptions({ backup: 'latest', mode: 'pitr', 'target-time': '2026-11-25 03:15:00.123456+00' })
    expect(printed.mode === 'pitr' && printed.target.toISOString()).toBe('2026-11-25T03:15:00.123Z')
  })

  it('are a cleanup with --cleanup, whatever else is given', () => {
    expect(restoreOptions({ mode: 'full', cleanup: true })).toEqual({ mode: 'cleanup', dropPreRestore: false })
    expect(restoreOptions({ backup: 'b', mode: 'pitr', cleanup: true, 'drop-pre-restore': true })).toEqual({ mode: 'cleanup', dropPreRestore: true })
  })

  it('refuse a restore without a backup, saying where the ids are', () => {
    expect(refusal({ mode: 'full' })).toEqual({ message: 'which backup? give its id', hint: 'probe-ops backup list shows them' })
  })

  it("refuse a flag that does not go with the mode, in the mode's words", () => {
    expect(refusal({ backup: 'b', mode: 'full', 'into-schema': 'x' }).message).toBe('--into-schema goes with --mode partial')
    expect(refusal({ backup: 'b', mode: 'partial', table: ['t'], 'no-owner': true })).toEqual({
      message: '--no-owner goes with --mode full',
      hint: 'partial restores only rows; pitr restores the cluster as it was',
    })
    expect(refusal({ backup: 'b', mode: 'pitr', 'target-time': '2026-11-25T03:15:00Z', 'no-privileges': true }).message).toBe(
      '--no-privileges goes with --mode full',
    )
  })

  it('refuse a partial restore without a table, and a recovery without a time or with one that is none', () => {
    expect(refusal({ backup: 'b', mode: 'partial' }).message).toBe('--mode partial needs at least one --table')
    expect(refusal({ backup: 'b', mode: 'pitr' }).message).toBe('--mode pitr needs --target-time')
    expect(refusal({ backup: 'b', mode: 'pitr', 'target-time': 'yesterday' })).toEqual({
      message: '--target-time "yesterday" is not a time',
      hint: 'use ISO 8601 with a zone: 2026-11-25T03:15:00Z',
    })
  })
})

describe('a base backup given to --mode full: the physical restore', () => {
  it('is chosen by latest-base or a base backup id, file or manifest; latest keeps naming the newest dump', () => {
    expect(restoreOptions({ backup: 'latest-base', mode: 'full' })).toEqual({ mode: 'physical', backup: 'latest-base', sideOnly: false })
    for (const backup of ['base-20261125T030000123Z', '/var/backups/base-20261125T030000123Z.base.tar.zst', './base-20261125T030000123Z.manifest.json'])
      expect(restoreOptions({ backup, mode: 'full' })).toMatchObject({ mode: 'physical', backup })
    expect(restoreOptions({ backup: 'latest', mode: 'full' })).toMatchObject({ mode: 'full' })
  })

  it('takes --target-time, --side-only and --repository', () => {
    expect(restoreOptions({ backup: 'latest-base', mode: 'full', 'target-time': '2026-11-25T03:15:00Z', 'side-only': true, repository: ['offsite'] })).toEqual({
      mode: 'physical',
      backup: 'latest-base',
      target: new Date('2026-11-25T03:15:00Z'),
      sideOnly: true,
      repositories: ['offsite'],
    })
  })

  it('refuses what only goes with a dump, and --target-time or --side-only with a dump', () => {
    expect(refusal({ backup: 'latest-base', mode: 'full', 'no-owner': true }).message).toBe(
      '--no-owner goes with a database dump, not with the base backup latest-base',
    )
    expect(refusal({ backup: 'latest-base', mode: 'full', 'target-time': 'yesterday' }).message).toBe('--target-time "yesterday" is not a time')
    expect(refusal({ backup: 'latest', mode: 'full', 'target-time': '2026-11-25T03:15:00Z' }).message).toBe(
      '--target-time goes with a base backup (--mode full) or --mode pitr',
    )
    expect(refusal({ backup: 'latest', mode: 'full', 'side-only': true }).message).toBe('--side-only goes with a base backup (--mode full) or --mode pitr')
  })
})
