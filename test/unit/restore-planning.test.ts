import { describe, expect, it } from 'vitest'
import type { BackupManifest, StoredBackup } from '../../src/backups/store.js'
import { UsageError } from '../../src/errors.js'
import {
  choosePitrBase,
  diskNeeds,
  baseMajor,
  diskShortfall,
  downtimeBoundMs,
  physicalRefusal,
  programsMajor,
  replayEnd,
  resolveTables,
  rollbackNeeded,
  switchDecision,
  syncAtStart,
  type SwitchFound,
} from '../../src/jobs/restore/planning.js'

const GiB = 1024 ** 3

function stored(id: string, manifest: Partial<BackupManifest>): StoredBackup {
  return {
    path: `/b/${id}`,
    manifest: {
      manifestVersion: 1,
      id,
      kind: 'base',
      reason: 'manual',
      format: 'directory',
      data: id,
      bytes: 1,
      sha256: '0'.repeat(64),
      host: 'h',
      toolVersion: '0',
      startedAt: '2026-11-25T00:00:00.000Z',
      finishedAt: '2026-11-25T00:00:00.000Z',
      durationMs: 1,
      verifications: [],
      ...manifest,
    },
  }
}

/** A base backup consistent from `at`. */
const base = (id: string, at: string) => stored(id, { consistentAt: at, startedAt: at })

describe('the disk a full restore needs', () => {
  it('is a copy of the database plus a fifth, and a safety backup compressed as well as the backup was', () => {
    const needs = diskNeeds({ bytes: 1 * GiB, databaseBytes: 5 * GiB }, 10 * GiB, false)
    expect(needs.copyBytes).toBe(6 * GiB)
    // 10 GiB live at the backup's 1:5, with half again as margin.
    expect(needs.safetyBytes).toBe(3 * GiB)
    expect(needs.inBackupDir).toBe(3 * GiB)
  })

  it('counts both against one disk when they share it, and no safety backup without a live database', () => {
    expect(diskNeeds({ bytes: 1 * GiB, databaseBytes: 5 * GiB }, 10 * GiB, true).inBackupDir).toBe(9 * GiB)
    expect(diskNeeds({ bytes: 1 * GiB, databaseBytes: 5 * GiB }, undefined, true)).toEqual({ copyBytes: 6 * GiB, safetyBytes: 0, inBackupDir: 6 * GiB })
  })

  it('guesses a database four times its dump when an older manifest does not say', () => {
    expect(diskNeeds({ bytes: 1 * GiB }, 4 * GiB, false)).toEqual({
      copyBytes: Math.round(4.8 * GiB),
      safetyBytes: Math.round(1.5 * GiB),
      inBackupDir: Math.round(1.5 * GiB),
    })
  })

  it('refuses the backup directory first, then the data directory, keeping the reserve free on each; an unknown disk is not refused', () => {
    const needs = { copyBytes: 6 * GiB, safetyBytes: 3 * GiB, inBackupDir: 3 * GiB }
    expect(diskShortfall(needs, { backupDir: 4 * GiB, dataDir: 5 * GiB }, 2 * GiB)).toBe('backup-dir')
    expect(diskShortfall(needs, { backupDir: 5 * GiB, dataDir: 7 * GiB }, 2 * GiB)).toBe('data-dir')
    expect(diskShortfall(needs, { backupDir: 5 * GiB, dataDir: 8 * GiB }, 2 * GiB)).toBeUndefined()
    expect(diskShortfall(needs, {}, 2 * GiB)).toBeUndefined()
  })
})

describe('the base backup a point-in-time recovery starts from', () => {
  const bases = [base('base-c', '2026-11-25T03:00:00.000Z'), base('base-b', '2026-11-24T03:00:00.000Z'), base('base-a', '2026-11-23T03:00:00.000Z')]
  const newestWal = new Date('2026-11-25T05:00:00.000Z')

  it('is the newest that became consistent before the target, with the window the backups and the archive cover', () => {
    const chosen = choosePitrBase(bases, newestWal, new Date('2026-11-24T12:00:00Z'), undefined)
    expect(chosen.base.manifest.id).toBe('base-b')
    expect(chosen.window).toEqual({ from: '2026-11-23T03:00:00.000Z', to: '2026-11-25T05:00:00.000Z' })
    expect(choosePitrBase(bases, newestWal, new Date('2026-11-25T04:00:00Z'), undefined).base.manifest.id).toBe('base-c')
  })

  it('refuses a target outside the window, saying the window', () => {
    for (const target of ['2026-11-22T00:00:00Z', '2026-11-25T06:00:00Z'])
      expect(() => choosePitrBase(bases, newestWal, new Date(target), undefined)).toThrow(
        /is outside the recoverable window 2026-11-23T03:00:00.000Z \.\. 2026-11-25T05:00:00.000Z/,
      )
    // Without archived WAL the window ends where the newest base backup became consistent.
    expect(() => choosePitrBase(bases, undefined, new Date('2026-11-25T04:00:00Z'), undefined)).toThrow(/\.\. 2026-11-25T03:00:00.000Z/)
  })

  it('takes the base backup named, unless it became consistent after the target: then it names the one to use', () => {
    expect(choosePitrBase(bases, newestWal, new Date('2026-11-25T04:00:00Z'), bases[2]).base.manifest.id).toBe('base-a')
    const tooLate = (() => {
      try {
        choosePitrBase(bases, newestWal, new Date('2026-11-24T12:00:00Z'), bases[0])
      } catch (error) {
        return error as UsageError
      }
    })()
    expect(tooLate).toBeInstanceOf(UsageError)
    expect(tooLate!.message).toBe(
      'base backup base-c is consistent only from 2026-11-25T03:00:00.000Z, after --target-time 2026-11-24T12:00:00.000Z: recovery from it cannot stop earlier',
    )
    expect(tooLate!.hint).toMatch(/the newest: base-b, consistent from 2026-11-24T03:00:00.000Z/)
    expect(() => choosePitrBase(bases, newestWal, new Date('2026-11-24T12:00:00Z'), stored('base-x', {}))).toThrow(
      /base-x does not record when it became consistent/,
    )
  })

  it('refuses when there is no base backup at all, saying how to take one', () => {
    expect(() => choosePitrBase([], newestWal, new Date('2026-11-24T12:00:00Z'), undefined)).toThrow(/there is no base backup to recover from/)
    expect(() => choosePitrBase([stored('dump', { kind: 'database' })], newestWal, new Date(), undefined)).toThrow(UsageError)
  })
})

describe('the tables a partial restore names', () => {
  const manifest = [{ name: 'public.tasks' }, { name: 'public.users' }, { name: 'audit.events' }]

  it('are the manifest names, public when no schema is given', () => {
    expect(resolveTables(['tasks', 'audit.events'], manifest)).toEqual(['public.tasks', 'audit.events'])
  })

  it('refuses a table the backup does not have, listing those it has', () => {
    expect(() => resolveTables(['nope'], manifest)).toThrow('the backup has no table nope')
    // An older manifest without tables: taken as given.
    expect(resolveTables(['nope'], undefined)).toEqual(['public.nope'])
  })
})

describe('what cleanup does with an interrupted point-in-time switch', () => {
  const found = (live: boolean, aside: boolean, recovered: boolean, running = false): SwitchFound => ({ live, aside, recovered, running })

  it('puts the old directory back when the live one is gone', () => {
    expect(switchDecision(found(false, true, true))).toBe('put-back')
    expect(switchDecision(found(false, true, false, true))).toBe('put-back')
  })

  it('never takes back a recovered directory PostgreSQL runs on; starts it when it is in place but stopped', () => {
    expect(switchDecision(found(true, true, false, true))).toBe('keep-recovered')
    expect(switchDecision(found(true, true, false, false))).toBe('start-recovered')
  })

  it('starts PostgreSQL on its own directory when nothing was moved', () => {
    expect(switchDecision(found(true, false, true))).toBe('start-own')
    expect(switchDecision(found(true, false, false, true))).toBe('start-own')
  })

  it('leaves it to the operator when it cannot tell how far the switch got', () => {
    expect(switchDecision(found(false, false, true))).toBe('unknown')
    expect(switchDecision(found(false, false, false))).toBe('unknown')
    // All three there: a live directory made anew (Docker creates a missing bind-mount source).
    expect(switchDecision(found(true, true, true))).toBe('unknown')
  })
})

describe('whether a swap a killed restore noted is rolled back', () => {
  const note = (phase: 'stopping' | 'swapped' | 'rolling-back') => ({
    swap: { live: 'db', restored: 'db_restore_20261125_030000', preRestore: 'db_pre_restore_20261125_030000', phase },
  })
  const back = { live: 'db', incoming: 'db_pre_restore_20261125_030000', outgoing: 'db_restore_20261125_030000' }

  it('always when it was rolling back: the database of before takes the live name again', () => {
    expect(rollbackNeeded(note('rolling-back'))).toEqual(back)
  })

  it('after the swap only when the platform did not come up on the restored database', () => {
    expect(rollbackNeeded(note('swapped'))).toBeUndefined()
    expect(rollbackNeeded(note('swapped'), true)).toEqual(back)
  })

  it('never before the names were swapped, nor for a note without a swap', () => {
    expect(rollbackNeeded(note('stopping'), true)).toBeUndefined()
    expect(rollbackNeeded({}, true)).toBeUndefined()
  })
})

describe('how long a swap may keep the platform down', () => {
  it('is each service stopped, started and waited for, twice, plus a minute', () => {
    const service = { stopGraceSeconds: 10, readinessTimeoutMs: 20_000 } as Parameters<typeof downtimeBoundMs>[0][number]
    expect(downtimeBoundMs([])).toBe(60_000)
    expect(downtimeBoundMs([service, service])).toBe(60_000 + 2 * 2 * (10_000 + 20_000 + 30_000))
  })
})

describe("whether a base backup can become this host's cluster (physical full restore)", () => {
  const wal = {
    archiveId: '15-1',
    timeline: 1,
    start: '000000010000000000000004',
    stop: '000000010000000000000004',
    startLsn: '0/4000028',
    stopLsn: '0/4000100',
    segmentBytes: 16 * 1024 * 1024,
    systemIdentifier: '7300000000000000000',
  }
  const base = {
    id: 'base-20261125T030000000Z',
    kind: 'base' as const,
    wal,
    serverVersion: '15.10 (Debian 15.10-0+deb12u1)',
    consistentAt: '2026-11-25T03:00:05.000Z',
  }

  it('reads the major from the archive id, else from the server version, and from pg_ctl --version', () => {
    expect(baseMajor(base)).toBe(15)
    expect(baseMajor({ serverVersion: '16.4' })).toBe(16)
    expect(baseMajor({})).toBeUndefined()
    expect(programsMajor('pg_ctl (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)')).toBe(15)
    expect(programsMajor('something else')).toBeUndefined()
  })

  it('accepts a base of the same major, to the end of the archive or to a time after it became consistent', () => {
    expect(physicalRefusal(base, 15, undefined)).toBeUndefined()
    expect(physicalRefusal(base, 15, new Date('2026-11-25T04:00:00Z'))).toBeUndefined()
    // Programs whose version could not be read do not refuse: the side cluster's start would.
    expect(physicalRefusal(base, undefined, undefined)).toBeUndefined()
    expect(replayEnd(undefined)).toBe('the end of the archived WAL')
    expect(replayEnd(new Date('2026-11-25T04:00:00Z'))).toBe('2026-11-25T04:00:00.000Z')
  })

  it('refuses another major in one line (restore a dump instead), a dump, an unfinished base and a target before it', () => {
    expect(physicalRefusal(base, 16, undefined)).toMatchObject({
      message: 'base-20261125T030000000Z is PostgreSQL 15; this server is 16: restore a dump instead',
    })
    expect(physicalRefusal({ ...base, kind: 'database' }, 15, undefined)?.message).toBe('base-20261125T030000000Z is a database backup, not a base backup')
    expect(physicalRefusal({ ...base, consistentAt: undefined }, 15, undefined)?.message).toMatch(/does not record when it became consistent/)
    expect(physicalRefusal(base, 15, new Date('2026-11-25T03:00:00Z'))?.message).toMatch(/consistent only from 2026-11-25T03:00:05.000Z, after --target-time/)
    expect(physicalRefusal(base, 16, undefined)).toBeInstanceOf(UsageError)
  })
})

describe('how the side cluster syncs the unpacked base before replaying', () => {
  it('syncs the filesystem once (syncfs) for PostgreSQL 14 and later on Linux', () => {
    expect(syncAtStart({ serverVersion: '15.10 (Debian 15.10-0+deb12u1)' }, 'linux')).toEqual({ recovery_init_sync_method: 'syncfs' })
    expect(syncAtStart({ serverVersion: '14.1' }, 'linux')).toEqual({ recovery_init_sync_method: 'syncfs' })
  })
  it("keeps PostgreSQL's default where the setting or syncfs does not exist, or the major is unknown", () => {
    expect(syncAtStart({ serverVersion: '13.14' }, 'linux')).toEqual({})
    expect(syncAtStart({ serverVersion: '15.10' }, 'darwin')).toEqual({})
    expect(syncAtStart({}, 'linux')).toEqual({})
  })
})
