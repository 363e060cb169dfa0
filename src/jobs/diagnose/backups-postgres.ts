import type { Config } from '../../config/load.js'
import { classifyLeftovers } from '../../backups/leftovers.js'
import {
  describeInterruptedRestoreTest,
  describeInterruptedSwitch,
  describeLeftStopped,
  interruptedRestoreTest,
  interruptedSwitch,
  leftStopped,
} from '../../backups/run-notes.js'
import { describeError } from '../../errors.js'
import type { Finding } from '../../report/outcome.js'
import { listDatabases } from '../../systems/postgres-admin.js'
import { closePostgres, connectPostgres, postgresFailure, queryRows, sqlState } from '../../systems/postgres.js'
import { hintOf } from '../hints.js'
import { LAG_TIMEOUTS } from './backups-findings.js'
import type { BackupsData } from './data.js'

/**
 * What PostgreSQL says of its WAL archive (pg_stat_archiver, and the .ready files of
 * archive_status), and what an interrupted restore left: run notes in backup.dir and databases
 * on the server. One connection, bounded like every diagnose check.
 */

type Archiver = BackupsData['archiver']
type Interrupted = BackupsData['interruptedRestores']

const ARCHIVER_SQL = `
select current_setting('archive_mode') as archive_mode,
       (select setting::int from pg_settings where name = 'archive_timeout') as archive_timeout,
       archived_count::int, failed_count::int, last_archived_wal, last_failed_wal,
       to_json(last_archived_time) #>> '{}' as last_archived_time, to_json(last_failed_time) #>> '{}' as last_failed_time
  from pg_stat_archiver`

/** Server time on both sides: a skewed clock here must not make a lag. */
const QUEUE_SQL = `
select count(*)::int as pending, coalesce(extract(epoch from now() - min(modification)), 0)::float8 as oldest_seconds
  from pg_ls_archive_statusdir() where name like '%.ready'`

/** SQLSTATE insufficient_privilege: pg_ls_archive_statusdir() wants pg_monitor. */
const REFUSED = '42501'

interface ArchiverRow {
  archive_mode: string
  archive_timeout: number
  archived_count: number
  failed_count: number
  last_archived_wal: string | null
  last_failed_wal: string | null
  last_archived_time: string | null
  last_failed_time: string | null
}

/** PostgreSQL's times as UTC ISO strings, the report's. */
function iso(time: string | null): string | null {
  return time === null ? null : new Date(time).toISOString()
}

async function readArchiver(client: Awaited<ReturnType<typeof connectPostgres>>, defaultTimeoutSeconds: number): Promise<Archiver> {
  const [row] = await queryRows<ArchiverRow>(client, ARCHIVER_SQL)
  let statusDirectory: Extract<Archiver, { read: true }>['statusDirectory']
  try {
    const [queue] = await queryRows<{ pending: number; oldest_seconds: number }>(client, QUEUE_SQL)
    statusDirectory = { read: true, pending: queue!.pending, oldestPendingSeconds: Math.round(queue!.oldest_seconds) }
  } catch (error) {
    if (sqlState(error) !== REFUSED) throw error
    statusDirectory = { read: false, error: `pg_ls_archive_statusdir() refused: ${describeError(error)} (it needs pg_monitor)` }
  }
  return {
    read: true,
    archiveMode: row!.archive_mode,
    archiveTimeoutSeconds: row!.archive_timeout,
    lagLimitSeconds: LAG_TIMEOUTS * (row!.archive_timeout || defaultTimeoutSeconds),
    archivedCount: row!.archived_count,
    failedCount: row!.failed_count,
    lastArchivedWal: row!.last_archived_wal,
    lastArchivedAt: iso(row!.last_archived_time),
    lastFailedWal: row!.last_failed_wal,
    lastFailedAt: iso(row!.last_failed_time),
    statusDirectory,
  }
}

export interface PostgresLook {
  archiver: Archiver
  /** Databases an interrupted restore left; undefined when PostgreSQL was not read (the archiver's error says why). */
  leftovers?: Interrupted
}

/** The archiver and the restore leftovers, within `boundMs`; PostgreSQL not answering is data, not a throw. */
export async function lookAtPostgres(config: Readonly<Config>, boundMs: number): Promise<PostgresLook> {
  const pg = config.postgres
  const deadline = Date.now() + boundMs
  try {
    await import('pg')
    const bound = Math.max(250, deadline - Date.now())
    const client = await connectPostgres(pg, { connectTimeoutMs: Math.min(bound, pg.connectTimeoutMs), statementTimeoutMs: bound })
    try {
      const archiver = await readArchiver(client, config.backup.wal.archiveTimeoutSeconds)
      const leftovers = classifyLeftovers(pg.database, await listDatabases(client))
        // A copy kept from before a restore is the user's to drop when the restore is known good: nothing interrupted.
        .filter((leftover) => leftover.kind !== 'pre-restore')
        .map((leftover) => ({ what: `database ${leftover.database}`, detail: `${leftover.database}: ${leftover.what}` }))
      return { archiver, leftovers }
    } catch (error) {
      throw postgresFailure(error, pg)
    } finally {
      await closePostgres(client)
    }
  } catch (error) {
    const hint = hintOf(error)
    return { archiver: { read: false, error: `${describeError(error)}${hint ? ` (${hint})` : ''}` } }
  }
}

/** The run notes of a restore whose process is gone; a note that cannot be trusted is a finding of its own. */
export async function restoreNotes(config: Readonly<Config>): Promise<{ interrupted: Interrupted; findings: Finding[] }> {
  const interrupted: Interrupted = []
  const findings: Finding[] = []
  const notes = [
    { what: 'point-in-time switch', read: async () => interruptedSwitch(config).then((note) => note && describeInterruptedSwitch(note)) },
    { what: 'stopped services', read: async () => leftStopped(config).then((note) => note && describeLeftStopped(note)) },
    { what: 'restore test', read: async () => interruptedRestoreTest(config).then((note) => note && describeInterruptedRestoreTest(note)) },
  ]
  await Promise.all(
    notes.map(async ({ what, read }) => {
      try {
        const detail = await read()
        if (detail) interrupted.push({ what, detail })
      } catch (error) {
        findings.push({
          id: `restore-note-unreadable:${what.replace(/ /g, '-')}`,
          severity: 'high',
          subject: what,
          message: describeError(error),
          fix: hintOf(error) ?? 'look at the note in backup.dir by hand',
        })
      }
    }),
  )
  return { interrupted, findings }
}
