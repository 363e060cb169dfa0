import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PostgresServer } from '../bed/index.js'
import { startS3, type S3Server } from '../bed/s3.js'
import { ArchivingCluster, step } from '../helpers/archiving-cluster.js'
import { parseReport, runCli } from '../helpers/cli.js'
import { walArchiveFiles } from '../helpers/postgres-service.js'
import { filesUnder } from '../helpers/polling.js'

/**
 * `restore <base> --mode full`: a real PostgreSQL 15 archiving through `probe-ops wal push` into a
 * local and an s3rver repository, age-encrypted; the whole cluster replaced by a base backup
 * read from either repository, recovered to the end of the archive or to a time, and switched
 * in place of the live one. A bad copy or a kill during the unpack never touches the live cluster.
 */

describe('physical full restore from a base backup in a local and an S3 repository, encrypted', () => {
  let root: string
  let local: string
  let s3: S3Server
  let cluster: ArchivingCluster
  let server: PostgresServer
  let config: string
  const env = () => cluster.env()
  const query = <R extends pg.QueryResultRow>(text: string) => cluster.query<R>(text)
  const count = () => cluster.count()
  const archiveNow = () => cluster.archiveNow()
  const takeBase = async () => (await cluster.takeBase()).id

  /** The recovered data directories a restore made beside the live one (<data>.pitr-<stamp>). */
  function besideLive(): string[] {
    const dataDir = server.info.dataDir
    return readdirSync(dirname(dataDir)).filter((name) => name.startsWith(`${basename(dataDir)}.pitr-`))
  }

  beforeAll(async () => {
    const files = await walArchiveFiles('/tmp/po-physical-')
    ;({ root, local } = files)
    s3 = await startS3()
    cluster = await ArchivingCluster.start(files, s3, { host: 'physical-restore' })
    ;({ server, config } = cluster)
    await query('create table events (n int primary key, at timestamptz not null default clock_timestamp())')
    // wal push (PostgreSQL's user) writes the repositories' cluster file first, as after backup wal-setup on a host.
    await archiveNow()
  }, 120_000)

  afterAll(async () => {
    await cluster?.stop()
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

  it('a local copy that differs from its manifest is passed over: the copy in the bucket is unpacked instead, and the report says so', async () => {
    const base = await takeBase()
    const path = join(local, `${base}.base.tar.zst.age`)
    const bytes = readFileSync(path)
    bytes[Math.floor(bytes.length / 2)] = bytes[Math.floor(bytes.length / 2)]! ^ 0xff
    writeFileSync(path, bytes)
    const rows = await count()

    const restored = await runCli(['restore', base, '--mode', 'full', '--yes', '--config', config, '--json'], env())
    const report = parseReport(restored)
    expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(step(report, 'prepare').data).toMatchObject({ from: expect.stringMatching(/^from offsite; passed over local \(.*\)/) })
    expect(await count()).toBe(rows)
  }, 300_000)

  it('a corrupted base object in the bucket is refused: the live cluster is untouched and still running, nothing is left beside it', async () => {
    const base = await takeBase()
    const [object] = [...filesUnder(join(s3.dir, s3.bucket)).keys()].filter((path) => path.includes(`${base}.base`) && path.endsWith('._S3rver_object'))
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
