import { open, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from 'pg'
import type { Config } from '../config/load.js'
import { StepFailure, UsageError } from '../errors.js'
import { connectPostgres, closePostgres, queryRows, quoteIdent } from '../systems/postgres.js'
import { connectionArgs, endSessions, runPgTool, sessionTag, toolError, type PgToolResult } from '../systems/pg-tools.js'
import type { ServiceRuntimes } from '../systems/services.js'
import { readDatabaseProperties } from './database-properties.js'
import { producedStream, readClusterIdentity, storeBackup, storeTarget, type ManifestFields, type StoredCopies } from './commit.js'
import { temporaryPath } from '../lib/files.js'
import { backupId, manifestStamp, prepareBackupDir, type BackupManifest } from './store.js'
import { diskFailure } from './writing.js'

/** Tables (not partitions: their parent's count covers them) with their exact row counts. */
export async function tableCounts(client: Client): Promise<{ name: string; rows: number }[]> {
  const tables = await queryRows<{ name: string }>(
    client,
    `select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
      order by 1`,
  )
  const counts = []
  for (const t of tables) {
    const [row] = await queryRows<{ n: string }>(client, `select count(*) as n from ${quoteIdent(t.name)}`)
    counts.push({ name: t.name, rows: Number(row!.n) })
  }
  return counts
}

export interface DumpOptions {
  reason: BackupManifest['reason']
  toolVersion: string
  signal: AbortSignal
}

/**
 * pg_dump streamed into every repository (a directory-format dump staged once in backup.dir, then
 * stored file by file), checksummed on the way, with a manifest written last in each repository
 * that holds it. The dump and the manifest's row counts come from one exported snapshot, so a
 * restore can be checked against them exactly. A restore's safety dump goes to one repository:
 * the first local one.
 */
export async function dumpDatabase(config: Config, runtimes: ServiceRuntimes, options: DumpOptions): Promise<StoredCopies> {
  const dir = config.backup.dir
  const format = config.backup.format
  if (format === 'directory' && config.backup.runner === 'container') {
    throw new UsageError(
      'backup.format "directory" needs backup.runner "host": the directory would be written inside the container',
      'use format custom with the container runner',
    )
  }
  await prepareBackupDir(dir)
  const started = new Date()
  const database = config.postgres.database
  const id = backupId('database', started, database)
  const dataName = format === 'custom' ? `${id}.dump` : `${id}.dir`

  // This session holds the snapshot and counts the rows before pg_dump starts: either can wait
  // behind another session's lock, so an abort ends both.
  const tag = sessionTag('backup')
  const client = await connectPostgres(config.postgres, { statementTimeoutMs: 0, applicationName: tag })
  let ending: Promise<void> | undefined
  const onAbort = (): void => {
    ending = endSessions(config, tag)
  }
  options.signal.addEventListener('abort', onAbort, { once: true })
  if (options.signal.aborted) onAbort()
  const staging = temporaryPath(dir, dataName)
  try {
    // Not part of the snapshot, and a catalog this version of probe-ops cannot read must not cost the backup.
    const databaseProperties = await readDatabaseProperties(client, database).catch(() => undefined)
    const cluster = await readClusterIdentity(client)
    await client.query('begin isolation level repeatable read read only')
    const [info] = await queryRows<{ snapshot: string; version: string; bytes: string }>(
      client,
      `select pg_export_snapshot() as snapshot, current_setting('server_version') as version, pg_database_size(current_database()) as bytes`,
    )
    const tables = await tableCounts(client)
    const args = [...connectionArgs(config), '-d', database, `--snapshot=${info!.snapshot}`, `-Z${config.backup.compress}`]
    const failed = (result: PgToolResult) =>
      new StepFailure(`pg_dump failed (exit ${result.exitCode}): ${toolError(result)}`, 'nothing was kept; fix the cause and run the backup again')
    const target = storeTarget(config, { ...(cluster ? { cluster } : {}), signal: options.signal, onlyFirst: options.reason === 'safety' })
    const fields = async (written: { bytes: number }): Promise<ManifestFields> => {
      if (format === 'custom' && written.bytes < 5) throw new StepFailure('pg_dump wrote an empty dump', 'nothing was kept; check pg_dump and the database')
      // The snapshot was only read; an abort may already have ended its session.
      await client.query('commit').catch(() => undefined)
      return {
        id,
        kind: 'database',
        reason: options.reason,
        format,
        database,
        serverVersion: info!.version,
        databaseBytes: Number(info!.bytes),
        tables,
        ...(databaseProperties ? { databaseProperties } : {}),
        ...manifestStamp(config.host, options.toolVersion, started),
      }
    }
    if (format === 'custom') {
      const produce = () =>
        producedStream(async (sink, signal) => {
          const result = await runPgTool(config, runtimes, 'pg_dump', [...args, '-Fc'], { stdout: sink, signal, applicationName: tag })
          if (result.exitCode !== 0) throw failed(result)
        }, options.signal)
      return await storeBackup(target, { dataName, produce, sizeHint: Number(info!.bytes) }, fields)
    }
    const result = await runPgTool(config, runtimes, 'pg_dump', [...args, '-Fd', `--jobs=${config.backup.jobs}`, '-f', staging], {
      signal: options.signal,
      applicationName: tag,
    })
    if (result.exitCode !== 0) throw diskFailure(new Error(toolError(result)), dir) ?? failed(result)
    const names = (await readdir(staging)).sort()
    return await storeBackup(target, { dataName, directory: staging, files: names.map((name) => ({ name, path: join(staging, name) })) }, fields)
  } finally {
    options.signal.removeEventListener('abort', onAbort)
    await rm(staging, { recursive: true, force: true }).catch(() => undefined)
    await ending
    await closePostgres(client)
  }
}

/** Makes sure the data of a custom-format dump starts as one: "PGDMP". */
export async function looksLikeCustomDump(path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(5)
    await handle.read(buffer, 0, 5, 0)
    return buffer.toString('latin1') === 'PGDMP'
  } finally {
    await handle.close()
  }
}
