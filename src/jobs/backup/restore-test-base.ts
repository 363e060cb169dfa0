import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { BackupCopy } from '../../backups/catalog.js'
import type { BackupManifest } from '../../backups/manifest.js'
import { beginRestoreTest, endRestoreTest, interruptedRestoreTest, restoreTestDir } from '../../backups/run-notes.js'
import { checkRoomInBackupDir } from '../../backups/staging.js'
import { prepareBackupDir } from '../../backups/store.js'
import type { Config } from '../../config/load.js'
import { StepFailure, describeError } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import { readOwnFile } from '../../lib/files.js'
import { walNamePrefix } from '../../repositories/layout.js'
import type { Finding, StepRun } from '../../report/outcome.js'
import { postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { DEFAULT_SEGMENT_BYTES, historyFileName, parseHistoryFile, segmentName, segmentOfLsn } from '../../wal/names.js'
import { removeAbandonedRestoreTest } from '../restore/abandoned.js'
import type { PitrContext, SideCluster } from '../restore/context.js'
import { programsVersion } from '../restore/physical.js'
import { checkRecovered, discardSide, endSpool, recover, refuseUnreachable, unpack } from '../restore/pitr.js'
import { diskNeeds, physicalRefusal } from '../restore/planning.js'
import { liveDataDir } from '../restore/switch-repair.js'
import type { VerifyContext } from './context.js'
import type { RestoreFigures } from './restore-figures.js'

/**
 * A base backup's restore test: the physical restore's own steps (restore/pitr.ts: unpack, recover,
 * check) without the switch, into a scratch data directory in backup.dir, started as PostgreSQL's
 * user on a side port, recovered to the end of the WAL archive and promoted, checked, stopped and
 * removed. The live cluster is never touched. A run note names the scratch directory before it
 * exists: a test killed meanwhile is cleaned up by `restore --cleanup`, or by the next test.
 */

export interface BaseTest extends RestoreFigures {
  kind: 'base'
  scratchDirectory: string
  port: number
  lastSegment?: string
  tables: number
  rows: number
}

/** A history file is a line per earlier timeline. */
const MAX_HISTORY_BYTES = 1024 * 1024

export async function testBase(context: VerifyContext, copy: BackupCopy, startedAt: Date, run: StepRun, findings: Finding[]): Promise<BaseTest> {
  const { config } = context
  const manifest = copy.manifest
  const dataDir = restoreTestDir(config, startedAt)
  const side: SideCluster = { dataDir }
  // The physical restore's context, for its steps: this copy alone, to the end of the archive, never switched.
  const pitr: PitrContext = { ...context, base: { manifest, path: '' }, copies: [copy], unreadable: [], sideOnly: true, at: startedAt, state: { pitr: side } }
  const refusal = physicalRefusal(manifest, await programsVersion(pitr), undefined)
  if (refusal) throw refusal
  await prepareBackupDir(config.backup.dir)
  const abandoned = await interruptedRestoreTest(config)
  if (abandoned) {
    const removed = await removeAbandonedRestoreTest(config, abandoned, { dryRun: false })
    if (removed.failed)
      throw new StepFailure(`an earlier restore test left ${abandoned.dataDir}: ${removed.failed}`, 'fix that, then run probe-ops restore --cleanup')
    if (removed.done) findings.push({ id: 'abandoned-restore-test', severity: 'info', message: `an earlier restore test was interrupted: ${removed.done}` })
  }
  await checkRoomInBackupDir(config, `the restore test of ${manifest.id}`, diskNeeds(manifest, undefined, false).copyBytes)
  side.user = await clusterUser(config, context)
  // Noted before the directory exists: killed from here on, restore --cleanup removes it (and stops its server).
  await beginRestoreTest(config, dataDir)
  try {
    await mkdir(dataDir, { mode: 0o700 })
    const started = performance.now()
    await unpack(pitr, side, run.signal)
    await recover.run(pitr, run)
    await failpoint('restore-test-recovered')
    const { data } = await checkRecovered.run(pitr, run)
    const rtoMs = performance.now() - started
    const replayed = await replayedTo(config, side, manifest)
    const reaches = replayed.lastSegment ? await archivedAt(copy, manifest, replayed.lastSegment, run.signal) : undefined
    const tables = data?.tables ?? []
    return {
      kind: 'base',
      rtoMs,
      ...(replayed.recoveredTo ? { recoveredTo: replayed.recoveredTo } : {}),
      ...(reaches ? { reaches } : {}),
      floor: new Date(manifest.consistentAt ?? manifest.finishedAt),
      scratchDirectory: dataDir,
      port: side.port!,
      ...(replayed.lastSegment ? { lastSegment: replayed.lastSegment } : {}),
      tables: tables.length,
      rows: tables.reduce((sum, table) => sum + table.rows, 0),
    }
  } finally {
    // The spool's prefetcher stops with the test, whatever its end (the restore's own close does this there).
    await endSpool(pitr)
    const said = await discardSide(config, side)
    if (said.endsWith(`removed ${dataDir}`)) await endRestoreTest(config)
    else
      findings.push({
        id: 'restore-test-left',
        severity: 'medium',
        subject: dataDir,
        message: `the scratch cluster was not cleaned up: ${said}`,
        fix: 'probe-ops restore --cleanup removes it once it can',
      })
  }
}

/**
 * The OS user the scratch cluster runs as: the live data directory's owner, or the postgres
 * account. PostgreSQL refuses root, and its user must reach the scratch directory in backup.dir.
 */
async function clusterUser(config: Readonly<Config>, context: VerifyContext): Promise<OsUser | undefined> {
  const live = await liveDataDir(config, context.runtimes).catch(() => undefined)
  const user = postgresOsUser(live && existsSync(live) ? live : undefined)
  refuseUnreachable(config.backup.dir, user, 'a scratch cluster')
  return user
}

/**
 * How far recovery went: the last transaction replayed (kept after promotion), and the last
 * segment replayed, from the history file promotion wrote: the old timeline ended at its switch
 * point, whose segment (of the byte before it, when it falls on a segment's start) was the last read.
 */
async function replayedTo(config: Readonly<Config>, side: SideCluster, manifest: BackupManifest): Promise<{ recoveredTo?: Date; lastSegment?: string }> {
  const client = await connectPostgres({ ...config.postgres, host: '127.0.0.1', port: side.port! }, { database: 'postgres' })
  let row: { replayed: Date | null; current: string } | undefined
  try {
    ;[row] = await queryRows<{ replayed: Date | null; current: string }>(
      client,
      'select pg_last_xact_replay_timestamp() as replayed, pg_walfile_name(pg_current_wal_lsn()) as current',
    )
  } finally {
    await closePostgres(client)
  }
  const recoveredTo = row?.replayed ?? undefined
  const timeline = Number.parseInt(row?.current.slice(0, 8) ?? '', 16)
  if (!(timeline > 1)) return { recoveredTo }
  const segmentBytes = manifest.wal?.segmentBytes ?? DEFAULT_SEGMENT_BYTES
  try {
    // In a directory PostgreSQL's user owns: read as a regular file only, never through a link.
    const history = parseHistoryFile(await readOwnFile(join(side.dataDir, 'pg_wal', historyFileName(timeline)), MAX_HISTORY_BYTES))
    const ended = history.at(-1)
    if (!ended) return { recoveredTo }
    return { recoveredTo, lastSegment: segmentName(segmentOfLsn(ended.switchLsn - 1n, ended.parent, segmentBytes), segmentBytes) }
  } catch (error) {
    throw new Error(`the recovered cluster's timeline history was not readable: ${describeError(error)}`)
  }
}

/** When `segment` was archived: its object's time in the repository the base was read from (undefined when not found there). */
async function archivedAt(copy: BackupCopy, manifest: BackupManifest, segment: string, signal: AbortSignal): Promise<Date | undefined> {
  if (!manifest.wal) return undefined
  for await (const object of copy.repository.list(walNamePrefix(manifest.wal.archiveId, segment), { signal })) return object.modifiedAt
  return undefined
}
