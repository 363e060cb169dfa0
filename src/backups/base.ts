import type { Config } from '../config/load.js'
import { StepFailure, UsageError } from '../errors.js'
import { connectionArgs, runPgTool, toolError } from '../systems/pg-tools.js'
import { queryRows, withPostgres } from '../systems/postgres.js'
import type { ServiceRuntimes } from '../systems/services.js'
import { backupId, manifestStamp, prepareBackupDir, sealDirectory, type StoredBackup } from './store.js'
import { writeBackup } from './writing.js'

/**
 * A physical base backup with pg_basebackup (tar, compressed, with the WAL it needs to be
 * consistent): the starting point of point-in-time recovery, which replays archived WAL on it.
 */
export async function takeBaseBackup(config: Config, runtimes: ServiceRuntimes, options: { toolVersion: string; signal?: AbortSignal }): Promise<StoredBackup> {
  if (config.backup.runner !== 'host')
    throw new UsageError(
      'backup base needs backup.runner "host": pg_basebackup writes its files where it runs',
      'run probe-ops on the database host with backup.runner: host',
    )
  const dir = config.backup.dir
  await prepareBackupDir(dir)
  const started = new Date()
  const id = backupId('base', started)
  const dataName = `${id}.base`
  return writeBackup(
    dir,
    dataName,
    async (temporary) => {
      const result = await runPgTool(
        config,
        runtimes,
        'pg_basebackup',
        [...connectionArgs(config), '-D', temporary, '--format=tar', '--gzip', '--wal-method=fetch', '--checkpoint=fast', `--label=probe-ops ${id}`],
        { signal: options.signal },
      )
      if (result.exitCode !== 0) {
        const why = toolError(result)
        throw new StepFailure(
          `pg_basebackup failed (exit ${result.exitCode}): ${why}`,
          /replication/.test(why) ? 'allow a replication connection for this user in pg_hba.conf' : 'nothing was kept; fix the cause and run it again',
        )
      }
      // Once pg_basebackup has returned, the backup's end is behind us: any later moment is a valid target.
      const info = await withPostgres(
        config.postgres,
        async (client) =>
          (
            await queryRows<{ now: Date; version: string; bytes: string }>(
              client,
              `select now() as now, current_setting('server_version') as version, (select sum(pg_database_size(datname)) from pg_database)::bigint as bytes`,
            )
          )[0]!,
      )
      const checksum = await sealDirectory(temporary)
      return {
        id,
        kind: 'base',
        reason: 'manual',
        format: 'directory',
        data: dataName,
        ...checksum,
        serverVersion: info.version,
        databaseBytes: Number(info.bytes),
        consistentAt: new Date(info.now).toISOString(),
        ...manifestStamp(config.host, options.toolVersion, started),
      }
    },
    options.signal,
  )
}
