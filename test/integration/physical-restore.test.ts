import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { execa } from 'execa'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import type { Report, StepResult } from '../../src/report/model.js'
import { PG_BIN_DIR, bed, freePort, pgClientConfig, pgQuery, startPostgres, type PostgresServer } from '../bed/index.js'
import { osUser } from '../bed/process.js'
import { S3RVER_ACCESS_KEY_ID, startS3, type S3Server } from '../bed/s3.js'
import { parseReport, runCli } from '../helpers/cli.js'

/**
 * `restore <base> --mode full`: a real PostgreSQL 15 archiving through `probe-ops wal push` into a
 * local and an s3rver repository, age-encrypted; the whole cluster replaced by a base backup
 * read from either repository, recovered to the end of the archive or to a time, and switched
 * in place of the live one. A bad copy or a kill during the unpack never touches the live cluster.
 */

const BIN = resolve(import.meta.dirname, '../../bin/run.js')

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

function filesUnder(dir: string): string[] {
  const found: string[] = []
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) walk(path)
      else found.push(relative(dir, path))
    }
  }
  walk(dir)
  return found
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() - started > timeoutMs) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('physical full restore from a base backup in a local and an S3 repository, encrypted', () => {
  const postgresUser = osUser('postgres')
  let root: string
  let local: string
  let s3: S3Server
  let server: PostgresServer
  let config: string
  let port: number
  const env = (): Record<string, string> => ({ PGPASSWORD: server.info.password })

  function givePostgres(path: string): void {
    chownSync(path, postgresUser.uid, postgresUser.gid)
    chmodSync(path, 0o600)
  }

  /** probe-ops for the test's cluster: both repositories, age, its service a process started with pg_ctl. */
  function writeRestoreConfig(recipient: string, identity: string, dataDir?: string): string {
    const path = join(root, dataDir ? 'probe-ops.yaml' : 'archive.yaml')
    const services = dataDir
      ? {
          management: { enabled: false },
          web: { enabled: false },
          redis: { enabled: false },
          postgres: {
            runtime: 'process',
            pidFile: join(dataDir, 'postmaster.pid'),
            dataDir,
            start: ['runuser', '-u', 'postgres', '--', join(PG_BIN_DIR, 'pg_ctl'), '-D', dataDir, '-l', join(dataDir, '..', 'restarted.log'), '-w', 'start'],
            readinessTimeoutSeconds: 30,
            stopGraceSeconds: 20,
          },
        }
      : { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: { enabled: false } }
    const settings = {
      host: 'physical-restore',
      log: { file: join(root, 'maintenance.log') },
      alertmanager: { url: bed().alertmanager.url },
      postgres: { host: '127.0.0.1', port, user: 'postgres', database: 'network_probe' },
      services,
      backup: {
        dir: local,
        repositories: [
          { name: 'local', type: 'local', path: local },
          {
            name: 'offsite',
            type: 's3',
            bucket: s3.bucket,
            prefix: 'probe-01/',
            endpoint: s3.endpoint,
            forcePathStyle: true,
            credentialsFile: join(root, 'credentials'),
            timeoutSeconds: 5,
          },
        ],
        encryption: { recipients: [recipient], identityFile: identity },
        wal: { pushTimeoutSeconds: 10 },
      },
    }
    writeFileSync(path, stringify(settings), { mode: 0o644 })
    return path
  }

  async function query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
    return (await pgQuery<R>(pgClientConfig({ ...server.info, port }, 'network_probe'), text)).rows
  }

  async function count(): Promise<number> {
    return Number((await query<{ n: string }>('select count(*) as n from events'))[0]!.n)
  }

  /** Ends the current segment and waits until PostgreSQL's archiver has pushed it (wal push exits 0 only when both repositories hold it). */
  async function archiveNow(): Promise<void> {
    const [row] = await query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment')
    await waitFor(`${row!.segment} to be archived`, async () => {
      const [state] = await query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver')
      return state!.last !== null && state!.last >= row!.segment ? true : undefined
    }).catch((error: Error) => {
      throw new Error(`${error.message}; the server's log ends: ${readFileSync(server.info.logFile, 'utf8').split('\n').slice(-15).join('\n')}`)
    })
  }

  async function takeBase(): Promise<string> {
    const taken = await runCli(['backup', 'base', '--config', config, '--json'], env())
    const report = parseReport(taken)
    expect(taken.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    return (step(report, 'base').data as { id: string }).id
  }

  /** The recovered data directories a restore made beside the live one (<data>.pitr-<stamp>). */
  function besideLive(): string[] {
    const dataDir = server.info.dataDir
    return readdirSync(dirname(dataDir)).filter((name) => name.startsWith(`${basename(dataDir)}.pitr-`))
  }

  beforeAll(async () => {
    root = mkdtempSync('/tmp/po-physical-')
    chmodSync(root, 0o711)
    local = join(root, 'local')
    mkdirSync(local, { mode: 0o700 })
    chownSync(local, postgresUser.uid, postgresUser.gid)
    writeFileSync(join(root, 'credentials'), `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = S3RVER\n`)
    givePostgres(join(root, 'credentials'))
    const identity = join(root, 'identity')
    await execa('age-keygen', ['-o', identity])
    givePostgres(identity)
    const recipient = (await execa('age-keygen', ['-y', identity])).stdout.trim()
    s3 = await startS3()
    port = await freePort()
    const archiveConfig = writeRestoreConfig(recipient, identity)
    server = await startPostgres({
      port,
      extraConf: { wal_level: 'replica', archive_mode: 'on', archive_command: `'${process.execPath} ${BIN} wal push %p --config ${archiveConfig}'` },
    })
    config = writeRestoreConfig(recipient, identity, server.info.dataDir)
    await query('create table events (n int primary key, at timestamptz not null default clock_timestamp())')
    // wal push (PostgreSQL's user) writes the repositories' cluster file first, as after backup wal-setup on a host.
    await archiveNow()
  }, 120_000)

  afterAll(async () => {
    await server?.stop()
    await s3?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('restore latest-base --mode full replays every archived segment: the rows written after the base are there, the old data directory is kept', async () => {
    await query('insert into events (n) select g from generate_series(1, 100) g')
    const base = await takeBase()
    await query('insert into events (n) select g from generate_series(101, 200) g')
    await archiveNow()

    const dry = await runCli(['restore', 'latest-base', '--mode', 'full', '--dry-run', '--config', config, '--json'], env())
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0)
    expect(step(parseReport(dry), 'verify').data).toMatchObject({ base, repositories: ['local', 'offsite'] })
    expect(besideLive()).toEqual([])

    const restored = await runCli(['restore', 'latest-base', '--mode', 'full', '--yes', '--config', config, '--json'], env())
    const report = parseReport(restored)
    expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['verify', 'ok'],
      ['prepare', 'ok'],
      ['recover', 'ok'],
      ['check', 'ok'],
      ['switch', 'ok'],
    ])
    expect(step(report, 'prepare').data).toMatchObject({ from: 'from local' })
    expect(step(report, 'recover').summary).toMatch(/^replayed to the end of the archived WAL and promoted/)
    const { previous } = step(report, 'switch').data as { previous: string }
    expect(existsSync(join(previous, 'PG_VERSION'))).toBe(true)
    expect(await count()).toBe(200)
  }, 300_000)

  it('--target-time stops there, reading only the encrypted copy in the bucket (--repository offsite)', async () => {
    const base = await takeBase()
    await query('insert into events (n) select g from generate_series(201, 300) g')
    const [row] = await query<{ target: string }>('select clock_timestamp() as target')
    const target = new Date(row!.target).toISOString()
    await new Promise((r) => setTimeout(r, 1100))
    await query('insert into events (n) select g from generate_series(301, 400) g')
    await query('delete from events where n <= 50')
    await archiveNow()
    expect(await count()).toBe(350)

    const restored = await runCli(
      ['restore', base, '--mode', 'full', '--target-time', target, '--repository', 'offsite', '--yes', '--config', config, '--json'],
      env(),
    )
    const report = parseReport(restored)
    expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(step(report, 'verify').data).toMatchObject({ base, target, repositories: ['offsite'] })
    expect(step(report, 'prepare').data).toMatchObject({ from: 'from offsite' })
    expect(await count()).toBe(300)
  }, 300_000)

  it('a corrupted base object in the bucket is refused: the live cluster is untouched and still running, nothing is left beside it', async () => {
    const base = await takeBase()
    const [object] = filesUnder(join(s3.dir, s3.bucket)).filter((path) => path.includes(`${base}.base`) && path.endsWith('._S3rver_object'))
    expect(object).toBeDefined()
    const path = join(s3.dir, s3.bucket, object!)
    const bytes = readFileSync(path)
    bytes[Math.floor(bytes.length / 2)] = bytes[Math.floor(bytes.length / 2)]! ^ 0xff
    writeFileSync(path, bytes)
    const dataBefore = statSync(join(server.info.dataDir, 'PG_VERSION')).ino
    const rows = await count()

    const refused = await runCli(['restore', base, '--mode', 'full', '--repository', 'offsite', '--yes', '--config', config, '--json'], env())
    const report = parseReport(refused)
    expect(refused.exitCode, JSON.stringify(report.steps, null, 1)).toBe(1)
    expect(step(report, 'prepare')).toMatchObject({ status: 'failed' })
    expect(step(report, 'prepare').error!.message).toMatch(/offsite/)
    expect(step(report, 'switch').status).not.toBe('ok')
    expect(await count()).toBe(rows)
    expect(statSync(join(server.info.dataDir, 'PG_VERSION')).ino).toBe(dataBefore)
    expect(besideLive()).toEqual([])
  }, 300_000)

  it('killed (kill -9) while the base is unpacked: the live cluster is untouched; restore --cleanup removes what it left', async () => {
    const rows = await count()
    const killed = await runCli(['restore', 'latest-base', '--mode', 'full', '--yes', '--config', config], {
      ...env(),
      PROBE_OPS_FAILPOINT: 'physical-unpacking',
    })
    expect(killed.exitCode).toBe(-1)
    expect(await count()).toBe(rows)
    expect(besideLive()).toHaveLength(1)

    const cleaned = await runCli(['restore', '--cleanup', '--config', config, '--json'], env())
    expect(cleaned.exitCode, cleaned.stdout + cleaned.stderr).toBe(0)
    expect(step(parseReport(cleaned), 'cleanup').summary).toMatch(/remove the abandoned recovery .*\.pitr-/)
    expect(besideLive()).toEqual([])
    expect(await count()).toBe(rows)
  }, 300_000)

  it('refuses --no-owner with a base backup, and --target-time with a dump, in one line (exit 2)', async () => {
    const wrong = await runCli(['restore', 'latest-base', '--mode', 'full', '--no-owner', '--yes', '--config', config], env())
    expect(wrong.exitCode).toBe(2)
    expect(wrong.stderr).toMatch(/--no-owner goes with a database dump/)
    const dump = await runCli(['restore', 'latest', '--mode', 'full', '--target-time', '2026-01-01T00:00:00Z', '--yes', '--config', config], env())
    expect(dump.exitCode).toBe(2)
    expect(dump.stderr).toMatch(/--target-time goes with a base backup/)
  })
})
