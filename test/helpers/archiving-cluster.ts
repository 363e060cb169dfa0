import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type pg from 'pg'
import { expect } from 'vitest'
import { stringify } from 'yaml'
import type { Report, StepResult } from '../../src/report/model.js'
import { bed, freePort, pgClientConfig, pgQuery, startPostgres, type PostgresServer } from '../bed/index.js'
import type { S3Server } from '../bed/s3.js'
import { parseReport, runCli } from './cli.js'
import { waitFor } from './polling.js'
import { postgresProcessServices } from './postgres-service.js'

/**
 * A test's own PostgreSQL 15 archiving through `probe-ops wal push` into a local and an s3rver
 * repository, encrypted with age (the files walArchiveFiles makes), and what the tests of base
 * backups, WAL and physical restores do with it: query it, end a segment and wait until it is
 * archived, take a base backup.
 */

const BIN = resolve(import.meta.dirname, '../../bin/run.js')

export interface ArchiveFiles {
  root: string
  local: string
  identity: string
  recipient: string
}

export function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

/** The S3 repository's configuration entry: `offsite`, under probe-01/. */
export function offsiteEntry(files: ArchiveFiles, s3: S3Server): Record<string, unknown> {
  return {
    name: 'offsite',
    type: 's3',
    bucket: s3.bucket,
    prefix: 'probe-01/',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentialsFile: join(files.root, 'credentials'),
    timeoutSeconds: 5,
  }
}

export interface ClusterConfig {
  host: string
  /** The cluster's data directory: probe-ops may stop and start it (a restore); without it, wal push's own configuration. */
  dataDir?: string
  /** More settings, beside `backup` and the rest. */
  extra?: Record<string, unknown>
  /** More settings of `backup`. */
  backup?: Record<string, unknown>
}

export class ArchivingCluster {
  private constructor(
    readonly files: ArchiveFiles,
    readonly s3: S3Server,
    readonly port: number,
    readonly server: PostgresServer,
    /** probe-ops' configuration for the tests' commands (wal push has its own). */
    readonly config: string,
  ) {}

  /** Starts the cluster with archive_command = wal push, and configurations for it and for the tests (`write` adds to both). */
  static async start(files: ArchiveFiles, s3: S3Server, options: Omit<ClusterConfig, 'dataDir'>): Promise<ArchivingCluster> {
    const port = await freePort()
    const archiveConfig = writeClusterConfig(files, s3, port, options)
    const server = await startPostgres({
      port,
      extraConf: { wal_level: 'replica', archive_mode: 'on', archive_command: `'${process.execPath} ${BIN} wal push %p --config ${archiveConfig}'` },
    })
    return new ArchivingCluster(files, s3, port, server, writeClusterConfig(files, s3, port, { ...options, dataDir: server.info.dataDir }))
  }

  env(): Record<string, string> {
    return { PGPASSWORD: this.server.info.password }
  }

  async query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
    return (await pgQuery<R>(pgClientConfig({ ...this.server.info, port: this.port }, 'network_probe'), text)).rows
  }

  /** The rows of the tests' table `events`. */
  async count(): Promise<number> {
    return Number((await this.query<{ n: string }>('select count(*) as n from events'))[0]!.n)
  }

  /** Ends the current segment and waits until PostgreSQL's archiver has pushed it (wal push exits 0 only when both repositories hold it); its name. */
  async archiveNow(): Promise<string> {
    const [row] = await this.query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment')
    await waitFor(`${row!.segment} to be archived`, async () => {
      const [state] = await this.query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver')
      return state!.last !== null && state!.last >= row!.segment ? true : undefined
    }).catch((error: Error) => {
      throw new Error(`${error.message}; the server's log ends: ${readFileSync(this.server.info.logFile, 'utf8').split('\n').slice(-15).join('\n')}`)
    })
    return row!.segment
  }

  /** `backup base`, which must succeed: its id and WAL. */
  async takeBase(): Promise<{ id: string; wal: { timeline: number; start: string; stop: string } }> {
    const taken = await runCli(['backup', 'base', '--config', this.config, '--json'], this.env())
    const report = parseReport(taken)
    expect(taken.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    return step(report, 'base').data as unknown as { id: string; wal: { timeline: number; start: string; stop: string } }
  }

  /** Another configuration of the cluster's probe-ops, in `name` beside the others: another data directory, more settings. */
  writeConfig(name: string, options: ClusterConfig): string {
    return writeClusterConfig(this.files, this.s3, this.port, options, name)
  }

  async stop(): Promise<void> {
    await this.server.stop()
  }
}

/** The configuration of the cluster's probe-ops: both repositories, age, and (with `dataDir`) its service a process started with pg_ctl. */
function writeClusterConfig(files: ArchiveFiles, s3: S3Server, port: number, options: ClusterConfig, name?: string): string {
  const path = join(files.root, name ?? (options.dataDir ? 'probe-ops.yaml' : 'archive.yaml'))
  const services = options.dataDir
    ? postgresProcessServices(options.dataDir)
    : { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: { enabled: false } }
  const settings = {
    host: options.host,
    log: { file: join(files.root, 'maintenance.log') },
    // Its own: other runs on the machine take the backup lock in the default directory.
    lock: { dir: join(files.root, 'lock') },
    alertmanager: { url: bed().alertmanager.url },
    postgres: { host: '127.0.0.1', port, user: 'postgres', database: 'network_probe' },
    services,
    ...options.extra,
    backup: {
      dir: files.local,
      repositories: [{ name: 'local', type: 'local', path: files.local }, offsiteEntry(files, s3)],
      encryption: { recipients: [files.recipient], identityFile: files.identity },
      wal: { pushTimeoutSeconds: 10 },
      ...options.backup,
    },
  }
  writeFileSync(path, stringify(settings), { mode: 0o644 })
  return path
}
