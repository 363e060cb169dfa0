import type { Config } from '../config/load.js'
import { StepFailure, UsageError } from '../errors.js'
import type { ClusterIdentity } from '../repositories/cluster.js'
import { connectionArgs, runPgTool, toolError } from '../systems/pg-tools.js'
import { queryRows, withPostgres } from '../systems/postgres.js'
import type { ServiceRuntimes } from '../systems/services.js'
import { formatLsn, parseLsn, segmentName, segmentOfLsn } from '../wal/names.js'
import { producedStream, readClusterIdentity, storeBackup, storeTarget, type StoredCopies } from './commit.js'
import type { BackupManifest } from './manifest.js'
import { backupId, manifestStamp, prepareBackupDir } from './store.js'

/**
 * A physical base backup: pg_basebackup's one tar stream (-D - -Ft, with the WAL it needs to be
 * consistent, -X fetch), compressed by it with zstd, streamed into every repository: the starting
 * point of point-in-time recovery, which replays archived WAL on it. Its WAL range, from
 * pg_basebackup's own words, goes into the manifest: where the recoverable window starts.
 */

/** The WAL range pg_basebackup --verbose reports, or undefined when it did not say both ends. */
export function parseBaseBackupWal(stderr: string): { timeline: number; startLsn: string; stopLsn: string } | undefined {
  const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/.exec(stderr)
  const stop = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/.exec(stderr)
  if (!start || !stop) return undefined
  return { timeline: Number(start[2]), startLsn: start[1]!, stopLsn: stop[1]! }
}

/** The manifest's `wal` for a range (pure). The segment a backup stops in is the one before its end point's byte. */
export function baseWal(
  range: { timeline: number; startLsn: string; stopLsn: string },
  cluster: ClusterIdentity,
  segmentBytes: number,
): NonNullable<BackupManifest['wal']> {
  const start = parseLsn(range.startLsn)
  const stop = parseLsn(range.stopLsn)
  const segment = (lsn: bigint) => segmentName(segmentOfLsn(lsn, range.timeline, segmentBytes), segmentBytes)
  return {
    // The first generation until a repository's file says otherwise (storeBackup writes each repository's own).
    archiveId: `${cluster.major}-1`,
    timeline: range.timeline,
    start: segment(start),
    stop: segment(stop > start ? stop - 1n : stop),
    startLsn: formatLsn(start),
    stopLsn: formatLsn(stop),
    segmentBytes,
    systemIdentifier: cluster.systemIdentifier,
  }
}

interface ServerFacts {
  cluster: ClusterIdentity | undefined
  segmentBytes: number
  /** Tablespaces besides pg_default and pg_global: a single tar stream cannot carry them. */
  tablespaces: string[]
  bytes: number
}

async function serverFacts(config: Config): Promise<ServerFacts> {
  return withPostgres(config.postgres, async (client) => {
    const [row] = await queryRows<{ segment: string; tablespaces: string[] | null; bytes: string }>(
      client,
      `select (select setting from pg_settings where name = 'wal_segment_size') as segment,
              (select array_agg(spcname order by spcname) from pg_tablespace where spcname not in ('pg_default', 'pg_global')) as tablespaces,
              (select sum(pg_database_size(datname)) from pg_database)::bigint as bytes`,
    )
    return { cluster: await readClusterIdentity(client), segmentBytes: Number(row!.segment), tablespaces: row!.tablespaces ?? [], bytes: Number(row!.bytes) }
  })
}

export async function takeBaseBackup(config: Config, runtimes: ServiceRuntimes, options: { toolVersion: string; signal: AbortSignal }): Promise<StoredCopies> {
  if (config.backup.runner !== 'host')
    throw new UsageError(
      'backup base needs backup.runner "host": pg_basebackup writes its files where it runs',
      'run probe-ops on the database host with backup.runner: host',
    )
  const facts = await serverFacts(config)
  if (facts.tablespaces.length > 0)
    throw new StepFailure(
      `base backups to repositories need one tablespace: this cluster also has ${facts.tablespaces.join(', ')}, which a single tar stream cannot carry`,
      'move those tables into pg_default (ALTER TABLE … SET TABLESPACE pg_default), or take this base backup with pg_basebackup by hand',
    )
  const cluster = facts.cluster
  if (!cluster)
    throw new StepFailure(
      'the server does not show its system identifier (pg_control_system()): a base backup needs it to name its WAL',
      `grant pg_monitor to ${config.postgres.user}, or back up as a superuser`,
    )
  await prepareBackupDir(config.backup.dir)
  const started = new Date()
  const id = backupId('base', started)
  let stderr = ''
  const produce = () =>
    producedStream(async (sink, signal) => {
      const result = await runPgTool(
        config,
        runtimes,
        'pg_basebackup',
        [
          ...connectionArgs(config),
          '-D',
          '-',
          '--format=tar',
          '--wal-method=fetch',
          '--compress=client-zstd:level=1',
          '--checkpoint=fast',
          `--label=probe-ops ${id}`,
          '--verbose',
        ],
        { stdout: sink, signal },
      )
      stderr = result.stderr
      if (result.exitCode !== 0) {
        const why = toolError(result)
        throw new StepFailure(
          `pg_basebackup failed (exit ${result.exitCode}): ${why}`,
          /replication/.test(why) ? 'allow a replication connection for this user in pg_hba.conf' : 'nothing was kept; fix the cause and run it again',
        )
      }
    }, options.signal)
  const target = storeTarget(config, { cluster, signal: options.signal })
  return storeBackup(target, { dataName: `${id}.base.tar.zst`, produce, sizeHint: facts.bytes }, async () => {
    const range = parseBaseBackupWal(stderr)
    if (!range) throw new StepFailure('pg_basebackup did not report its WAL start and end points', 'nothing was kept; run it again with a PostgreSQL 15 client')
    // Once pg_basebackup has returned, the backup's end is behind us: any later moment is a valid target.
    const now = await withPostgres(config.postgres, async (client) => (await queryRows<{ now: Date }>(client, 'select now() as now'))[0]!.now)
    return {
      id,
      kind: 'base',
      reason: 'manual',
      format: 'tar.zst',
      wal: baseWal(range, cluster, facts.segmentBytes),
      serverVersion: cluster.serverVersion,
      databaseBytes: facts.bytes,
      consistentAt: new Date(now).toISOString(),
      ...manifestStamp(config.host, options.toolVersion, started),
    }
  })
}
