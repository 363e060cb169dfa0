import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { execa } from 'execa'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type PostgresServer } from '../bed/index.js'
import { startS3, type S3Server } from '../bed/s3.js'
import { ArchivingCluster, step } from '../helpers/archiving-cluster.js'

const FAKE_HTTP = resolve(import.meta.dirname, '../../dist/sandbox/fake-http.js')
import { parseReport, runCli } from '../helpers/cli.js'
import { mountSmallDisk } from '../helpers/full-disk.js'
import { givePostgres, postgresProcessServices, walArchiveFiles } from '../helpers/postgres-service.js'
import { filesUnder, waitFor } from '../helpers/polling.js'
import { isRunning } from '../helpers/processes.js'

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
  let keys: { identity: string; recipient: string }
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

  /** The WAL spools a restore made beside the live data directory (.restore-spool-<stamp>). */
  function spools(): string[] {
    return readdirSync(dirname(server.info.dataDir)).filter((name) => name.startsWith('.restore-spool-'))
  }

  /** The files that hold the WAL file `name`: in the local repository, and in s3rver's store (its object and metadata files). */
  function walCopies(name: string): { inLocal: string[]; inBucket: string[] } {
    const inLocal = [...filesUnder(join(local, 'wal')).keys()].filter((path) => basename(path).startsWith(`${name}-`)).map((path) => join(local, 'wal', path))
    const inBucket = [...filesUnder(join(s3.dir, s3.bucket)).keys()].filter((path) => path.includes(`/${name}-`)).map((path) => join(s3.dir, s3.bucket, path))
    return { inLocal, inBucket }
  }

  beforeAll(async () => {
    const files = await walArchiveFiles('/tmp/po-physical-')
    ;({ root, local } = files)
    keys = { identity: files.identity, recipient: files.recipient }
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

  it('keeps the age identity root-only (0600 root) through an encrypted restore: the WAL after the base comes through the spool, read by the restore job', async () => {
    const { identity } = keys
    chownSync(identity, 0, 0)
    chmodSync(identity, 0o600)
    try {
      await takeBase()
      await query('insert into events (n) select g from generate_series(1001, 1100) g')
      await archiveNow()
      const rows = await count()
      const restored = await runCli(['restore', 'latest-base', '--mode', 'full', '--repository', 'offsite', '--yes', '--config', config, '--json'], env())
      const report = parseReport(restored)
      expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
      expect(step(report, 'recover').summary).toMatch(/; WAL: \d+ files \(.*\), \d+ of them read ahead$/)
      expect(await count()).toBe(rows)
      expect(statSync(identity)).toMatchObject({ uid: 0, gid: 0, mode: 0o100600 })
      expect(spools()).toEqual([])
    } finally {
      givePostgres(identity)
    }
  }, 300_000)

  it('stops at a segment missing from the middle of the archive: the recover step fails saying so, the live cluster is untouched, nothing is left', async () => {
    const base = await takeBase()
    await query('insert into events (n) select g from generate_series(2001, 2100) g')
    const hole = await archiveNow()
    await query('insert into events (n) select g from generate_series(2101, 2200) g')
    await archiveNow()
    const { inLocal, inBucket } = walCopies(hole)
    expect(inLocal).toHaveLength(1)
    expect(inBucket.length).toBeGreaterThan(0)
    for (const file of [...inLocal, ...inBucket]) rmSync(file)
    const dataBefore = statSync(join(server.info.dataDir, 'PG_VERSION')).ino
    const rows = await count()

    const failed = await runCli(['restore', base, '--mode', 'full', '--yes', '--config', config, '--json'], env())
    const report = parseReport(failed)
    expect(failed.exitCode, JSON.stringify(report.steps, null, 1)).toBe(1)
    expect(step(report, 'recover')).toMatchObject({
      status: 'failed',
      summary: expect.stringMatching(new RegExp(`${hole} is not in the archive, but [0-9A-F]{24} is: a hole in the WAL`)),
    })
    expect(step(report, 'switch').status).toBe('skipped')
    expect(await count()).toBe(rows)
    expect(statSync(join(server.info.dataDir, 'PG_VERSION')).ino).toBe(dataBefore)
    expect(spools()).toEqual([])
    // A recovered cluster that stopped before it could take connections keeps its directory, with its log, for the operator.
    for (const kept of besideLive()) rmSync(join(dirname(server.info.dataDir), kept), { recursive: true, force: true })
  }, 300_000)

  it('killed (kill -9) while recovery waits for WAL: the spool is left, the live cluster untouched; restore --cleanup removes both', async () => {
    await takeBase()
    await query('insert into events (n) select g from generate_series(3001, 3100) g')
    await archiveNow()
    const rows = await count()
    const killed = await runCli(['restore', 'latest-base', '--mode', 'full', '--yes', '--config', config], { ...env(), PROBE_OPS_FAILPOINT: 'pitr-recovering' })
    expect(killed.exitCode).toBe(-1)
    expect(spools()).toHaveLength(1)
    const spool = join(dirname(server.info.dataDir), spools()[0]!)
    // The side cluster asks on: nobody answers now.
    await waitFor('a file PostgreSQL waits for', async () => (readdirSync(spool).some((name) => name.endsWith('.wanted')) ? true : undefined))
    expect(await count()).toBe(rows)

    const cleaned = await runCli(['restore', '--cleanup', '--config', config, '--json'], env())
    expect(cleaned.exitCode, cleaned.stdout + cleaned.stderr).toBe(0)
    expect(step(parseReport(cleaned), 'cleanup').summary).toMatch(
      new RegExp(`remove the abandoned recovery .*\\.pitr-.*; remove ${spool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    )
    expect(spools()).toEqual([])
    expect(besideLive()).toEqual([])
    expect(await count()).toBe(rows)
  }, 300_000)

  it('refuses a base that does not fit on the disk it is unpacked to, in one line, before anything is read or changed', async () => {
    const disk = await mountSmallDisk('16m')
    try {
      const liveDir = join(disk.dir, 'main')
      mkdirSync(liveDir, { mode: 0o700 })
      const small = cluster.writeConfig('small-disk.yaml', { host: 'physical-restore', dataDir: liveDir, extra: { restore: { reserveBytes: 0 } } })
      const refused = await runCli(['restore', 'latest-base', '--mode', 'full', '--yes', '--config', small, '--json'], env())
      const report = parseReport(refused)
      expect(refused.exitCode, JSON.stringify(report.steps, null, 1)).toBe(1)
      expect(step(report, 'verify')).toMatchObject({
        status: 'failed',
        summary: expect.stringMatching(
          new RegExp(
            `^base-\\S+ needs about .* on ${disk.dir} \\(.* unpacked: its databases as recorded, and 20 %; .* of WAL spool\\), which has .* free and must keep 0 B$`,
          ),
        ),
        error: { hint: expect.stringMatching(/nothing was changed/) },
      })
      expect(step(report, 'prepare').status).toBe('skipped')
      expect(readdirSync(disk.dir)).toEqual(['main'])
    } finally {
      await disk.unmount()
    }
  }, 120_000)

  it("without a live cluster in sight, refuses in one line a backup.dir PostgreSQL's user cannot enter, before anything is unpacked", async () => {
    await takeBase()
    const closed = join(root, 'closed-backup-dir')
    mkdirSync(closed, { mode: 0o700 })
    // No data directory in the services: the recovered cluster would go in backup.dir, left to it.
    const noLive = cluster.writeConfig('no-live.yaml', { host: 'physical-restore', backup: { dir: closed } })
    const refused = await runCli(['restore', 'latest-base', '--mode', 'full', '--side-only', '--yes', '--config', noLive, '--json'], env())
    const report = parseReport(refused)
    expect(refused.exitCode, JSON.stringify(report.steps, null, 1)).toBe(1)
    expect(step(report, 'prepare')).toMatchObject({
      status: 'failed',
      summary: `PostgreSQL's OS user (uid ${statSync(server.info.dataDir).uid}) cannot enter ${closed}, so a recovered cluster cannot start in ${closed}`,
    })
    expect(readdirSync(closed).filter((name) => name.startsWith('pitr-') || name.startsWith('.restore-spool-'))).toEqual([])
  }, 120_000)

  it('stops the platform (restore.stopServices) around the switch and starts it again; killed while it is down, restore --cleanup starts it', async () => {
    await takeBase()
    const dir = join(root, 'management')
    mkdirSync(dir, { recursive: true })
    const port = await freePort()
    const pidFile = join(dir, 'management.pid')
    const logFile = join(dir, 'management.log')
    const start = [process.execPath, FAKE_HTTP, '--role', 'management', '--port', String(port), '--pid-file', pidFile, '--log-file', logFile]
    const management = {
      runtime: 'process',
      pidFile,
      logFile,
      url: `http://127.0.0.1:${port}/api/v1/health`,
      start,
      dependsOn: ['postgres'],
      readinessTimeoutSeconds: 10,
      stopGraceSeconds: 1,
    }
    const withPlatform = cluster.writeConfig('with-platform.yaml', {
      host: 'physical-restore',
      dataDir: server.info.dataDir,
      extra: { services: { ...postgresProcessServices(server.info.dataDir), management } },
    })
    const pidOf = () => Number(readFileSync(pidFile, 'utf8').trim())
    const first = execa(start[0]!, start.slice(1), { detached: true, stdio: 'ignore' })
    first.unref()
    await waitFor('management to answer', async () => ((await fetch(`http://127.0.0.1:${port}/api/v1/health`).catch(() => undefined))?.ok ? true : undefined))
    const before = pidOf()
    const rows = await count()
    try {
      const restored = await runCli(['restore', 'latest-base', '--mode', 'full', '--yes', '--config', withPlatform, '--json'], env())
      const report = parseReport(restored)
      expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
      expect(step(report, 'switch').summary).toMatch(/; management stopped around it and ready again$/)
      expect(isRunning(before)).toBe(false)
      const running = pidOf()
      expect(isRunning(running)).toBe(true)

      const killed = await runCli(['restore', 'latest-base', '--mode', 'full', '--yes', '--config', withPlatform], {
        ...env(),
        PROBE_OPS_FAILPOINT: 'pitr-switch-between-renames',
      })
      expect(killed.exitCode).toBe(-1)
      // Killed between the renames: PostgreSQL down, and management stopped with it.
      expect(isRunning(running)).toBe(false)
      const cleaned = await runCli(['restore', '--cleanup', '--config', withPlatform, '--json'], env())
      expect(cleaned.exitCode, cleaned.stdout + cleaned.stderr).toBe(0)
      expect(step(parseReport(cleaned), 'cleanup').summary).toMatch(/start management, stopped by an interrupted restore/)
      expect(isRunning(pidOf())).toBe(true)
      expect(await count()).toBe(rows)
    } finally {
      if (existsSync(pidFile) && isRunning(pidOf())) process.kill(pidOf(), 'SIGTERM')
    }
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
