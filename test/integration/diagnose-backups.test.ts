/**
 * diagnose's backups step against what it reads for real: backups taken and verified by the real
 * `probe-ops backup` commands in local repositories, PostgreSQL 15 servers whose WAL archiver
 * fails and then works, an S3 repository (s3rver) that is down, has no bucket, or never answers,
 * and an interrupted restore's note and databases.
 */
import { createHash } from 'node:crypto'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupsData } from '../../src/jobs/diagnose/data.js'
import type { Report, StepResult } from '../../src/report/model.js'
import { writeRepositoryFile } from '../../src/repositories/cluster.js'
import { walKey } from '../../src/repositories/layout.js'
import { LocalRepository } from '../../src/repositories/local.js'
import { bed, pgClientConfig, pgQuery, startHangingServer, startPostgres, type PostgresServer } from '../bed/index.js'
import { S3RVER_ACCESS_KEY_ID, startS3, type S3Server } from '../bed/s3.js'
import { parseReport, runCli, runRecords, writeConfig } from '../helpers/cli.js'
import { databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { tempDir } from '../helpers/temp.js'

function backupsStep(report: Report): StepResult & { data: BackupsData } {
  const found = report.steps.find((s) => s.id === 'backups')
  if (!found) throw new Error(`no backups step in ${JSON.stringify(report.steps.map((s) => s.id))}`)
  return found as StepResult & { data: BackupsData }
}

function ids(step: StepResult): string[] {
  return (step.findings ?? []).map((f) => f.id).sort()
}

/** A pid no process has any more. */
async function deadPid(): Promise<number> {
  const child = execa('true')
  await child
  return child.pid!
}

interface Setup {
  path: string
  dir: string
  backupDir: string
  run(args: string[]): ReturnType<typeof runCli>
  diagnose(...more: string[]): Promise<{ report: Report; step: StepResult & { data: BackupsData }; exitCode: number }>
}

/** A configuration of `postgres` (the bed's unless given) with backup.dir in a fresh directory, and whatever `extra` adds. */
function setup(database: string, extra: { backup?: Record<string, unknown>; postgres?: Record<string, unknown>; env?: Record<string, string> } = {}): Setup {
  const server = bed().postgres
  const postgres = { host: server.host, port: server.port, user: server.user, database, ...extra.postgres }
  const backupDir = (extra.backup?.dir as string | undefined) ?? join(tempDir('dgb'), 'backups')
  const cfg = writeConfig({
    postgres,
    services: { web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false }, management: { enabled: false } },
    backup: { configPaths: ['/etc/hostname'], ...extra.backup, dir: backupDir },
  })
  const env = { PGPASSWORD: server.password, ...extra.env }
  const run = (args: string[]) => runCli([...args, '--config', cfg.path], env)
  return {
    ...cfg,
    backupDir,
    run,
    async diagnose(...more) {
      const result = await run(['diagnose', '--only', 'backups', '--json', ...more])
      const report = parseReport(result)
      return { report, step: backupsStep(report), exitCode: result.exitCode }
    },
  }
}

async function takeBackup(s: Setup, kind: 'database' | 'config'): Promise<string> {
  const result = await s.run(['backup', kind, '--json'])
  expect(result.exitCode, result.stdout + result.stderr).toBe(0)
  return parseReport(result).steps.find((step) => step.data && typeof (step.data as { id?: unknown }).id === 'string')!.data!.id as string
}

describe('diagnose --only backups', () => {
  const created: string[] = []

  async function database(): Promise<string> {
    const name = databaseName('dgb')
    await sql('postgres', `create database ${name}`)
    created.push(name)
    return name
  }

  afterAll(async () => {
    for (const name of (await sql<{ datname: string }>('postgres', 'select datname from pg_database')).map((r) => r.datname))
      if (created.some((c) => name.startsWith(c))) await dropDatabase(name)
  })

  it('finds none, then fresh backups, then a verified one, then one too old for backup.maxAge; writes the figures to the textfile', async () => {
    const name = await database()
    const s = setup(name)
    const none = await s.diagnose()
    expect(none.exitCode).toBe(1)
    // The bed's PostgreSQL does not archive WAL: no base backup is asked for.
    expect(ids(none.step)).toEqual(['backup-missing:local:config', 'backup-missing:local:database'])
    expect(none.step.data.archiver).toMatchObject({ read: true, archiveMode: 'off' })

    const dump = await takeBackup(s, 'database')
    await takeBackup(s, 'config')
    const fresh = await s.diagnose()
    // Taken, never verified: a warning that says so, nothing high.
    expect(ids(fresh.step)).toEqual(['verification-stale:local:config', 'verification-stale:local:database'])
    expect(fresh.step.status).toBe('warning')
    const kinds = fresh.step.data.repositories[0]!.kinds
    expect(kinds.find((k) => k.kind === 'database')).toMatchObject({ backups: 1, newest: { id: dump }, expected: true })
    expect(kinds.find((k) => k.kind === 'database')!.newest!.bytes).toBeGreaterThan(0)
    expect(kinds.find((k) => k.kind === 'base')).toMatchObject({ backups: 0, expected: false })

    const verified = await s.run(['backup', 'verify', 'latest', '--json'])
    expect(verified.exitCode, verified.stdout).toBe(0)
    const after = await s.diagnose()
    expect(ids(after.step)).toEqual(['verification-stale:local:config'])
    expect(after.step.data.repositories[0]!.kinds.find((k) => k.kind === 'database')!.lastVerification).toMatchObject({ id: dump, ok: true })

    const metrics = runRecords(s.dir, 'diagnose').metrics
    expect(metrics).toMatch(new RegExp(`probe_ops_repository_newest_backup_timestamp_seconds\\{job="diagnose",kind="database",repository="local"\\} \\d+`))
    expect(metrics).toContain('probe_ops_repository_last_verification_ok{job="diagnose",kind="database",repository="local"} 1')
    expect(metrics).toContain('probe_ops_repository_up{job="diagnose",repository="local"} 1')

    // The same backups read with a maximum age they have outlived.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const old = setup(name, { backup: { dir: s.backupDir, maxAge: { database: '1s' } } })
    const tooOld = await old.diagnose()
    expect(ids(tooOld.step)).toContain('backup-too-old:local:database')
    expect(tooOld.step.findings!.find((f) => f.id === 'backup-too-old:local:database')!.message).toContain(dump)
  })

  it('says a failed verification, recorded by `backup verify` of a corrupted dump', async () => {
    const s = setup(await database())
    const id = await takeBackup(s, 'database')
    const manifest = JSON.parse(readFileSync(join(s.backupDir, `${id}.manifest.json`), 'utf8')) as { data: string }
    const data = join(s.backupDir, manifest.data)
    const bytes = readFileSync(data)
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10)
    writeFileSync(data, bytes)
    const verify = await s.run(['backup', 'verify', id, '--json'])
    expect(verify.exitCode).toBe(1)
    const { step } = await s.diagnose()
    const failed = step.findings!.find((f) => f.id === 'verification-failed:local:database')
    expect(failed, JSON.stringify(step.findings)).toMatchObject({ severity: 'high' })
    expect(failed!.message).toContain(id)
    expect(step.data.repositories[0]!.kinds.find((k) => k.kind === 'database')!.lastVerification).toMatchObject({ id, ok: false })

    // Its data gone: the manifest alone is no backup.
    rmSync(data)
    const gone = await s.diagnose()
    expect(gone.step.findings!.find((f) => f.id === 'backup-damaged:local:database')?.message).toContain(`its data ${manifest.data} is missing`)
  })

  it('names an interrupted restore: its note in backup.dir and the databases it left', async () => {
    const name = await database()
    const s = setup(name)
    mkdirSync(s.backupDir, { recursive: true, mode: 0o700 })
    writeFileSync(
      join(s.backupDir, '.restore-stopped-services.json'),
      JSON.stringify({ startedAt: new Date().toISOString(), pid: await deadPid(), services: ['management'] }),
      { mode: 0o600 },
    )
    await sql('postgres', `create database ${name}_restore_20261201_030000`)
    const { step } = await s.diagnose()
    const finding = step.findings!.find((f) => f.id === 'restore-interrupted')
    expect(finding, JSON.stringify(step.findings)).toMatchObject({ severity: 'high', fix: 'probe-ops restore --cleanup' })
    expect(finding!.message).toContain('stopped management')
    expect(finding!.message).toContain(`${name}_restore_20261201_030000`)
    expect(step.data.interruptedRestores.map((entry) => entry.what)).toEqual(['stopped services', `database ${name}_restore_20261201_030000`])
  })

  it('a probe-ops-repository.json that probe-ops did not write is high: every writer refuses that repository', async () => {
    const s = setup(await database())
    mkdirSync(s.backupDir, { recursive: true, mode: 0o700 })
    writeFileSync(join(s.backupDir, 'probe-ops-repository.json'), '{"format": 7}')
    const { step } = await s.diagnose()
    const finding = step.findings!.find((f) => f.id === 'repository-file-invalid:local')
    expect(finding, JSON.stringify(step.findings)).toMatchObject({ severity: 'high' })
    expect(finding!.message).toContain('is not one probe-ops wrote')
    expect(step.data.repositories[0]).toMatchObject({ reachable: true, repositoryFile: expect.stringContaining('format') })
  })

  describe('against S3 repositories that do not answer', () => {
    let s3: S3Server
    let credentialsFile: string

    beforeAll(async () => {
      s3 = await startS3()
      credentialsFile = join(tempDir('dgb-s3'), 'credentials')
      writeFileSync(credentialsFile, `[default]\naws_access_key_id = ${S3RVER_ACCESS_KEY_ID}\naws_secret_access_key = S3RVER\n`, { mode: 0o600 })
    }, 60_000)

    afterAll(async () => {
      await s3?.stop().catch(() => undefined)
    })

    function withOffsite(name: string, endpoint: string, bucket = s3.bucket): Setup {
      const dir = join(tempDir('dgb'), 'backups')
      return setup(name, {
        backup: {
          dir,
          repositories: [
            { name: 'local', type: 'local', path: dir },
            { name: 'offsite', type: 's3', bucket, endpoint, forcePathStyle: true, credentialsFile, timeoutSeconds: 60 },
          ],
        },
      })
    }

    it('a live bucket is read; a missing bucket, a stopped server and a hung endpoint are unreachable with their code, within the bound', async () => {
      const name = await database()
      const live = await withOffsite(name, s3.endpoint).diagnose()
      expect(live.step.data.repositories.map((r) => [r.name, r.reachable])).toEqual([
        ['local', true],
        ['offsite', true],
      ])
      expect(ids(live.step)).toContain('backup-missing:offsite:database')

      const missing = await withOffsite(name, s3.endpoint, 'no-such-bucket').diagnose()
      expect(missing.step.data.repositories[1]).toMatchObject({ name: 'offsite', reachable: false, code: 'not-found' })
      expect(ids(missing.step)).toContain('repository-unreachable:offsite')
      expect(ids(missing.step)).not.toContain('backup-missing:offsite:database')

      const hanging = await startHangingServer()
      try {
        const hung = await withOffsite(name, hanging.url).diagnose('--check-timeout', '2s')
        expect(hung.step.status).toBe('failed')
        expect(hung.step.data.repositories[1]).toMatchObject({ name: 'offsite', reachable: false, code: 'no-answer' })
        const finding = hung.step.findings!.find((f) => f.id === 'repository-unreachable:offsite')!
        expect(finding.message).toContain('(no-answer)')
        // The local repository was still read.
        expect(ids(hung.step)).toContain('backup-missing:local:database')
      } finally {
        await hanging.close()
      }

      const stopped = withOffsite(name, s3.endpoint)
      await s3.stop()
      const down = await stopped.diagnose()
      expect(down.step.data.repositories[1]).toMatchObject({ name: 'offsite', reachable: false, code: 'refused' })
      expect(down.step.findings!.find((f) => f.id === 'repository-unreachable:offsite')).toMatchObject({ severity: 'high' })
      const metrics = runRecords(stopped.dir, 'diagnose').metrics
      expect(metrics).toContain('probe_ops_repository_up{job="diagnose",repository="offsite"} 0')
    })
  })

  describe('with a PostgreSQL 15 that archives WAL', () => {
    let server: PostgresServer
    let root: string
    let walDir: string

    beforeAll(async () => {
      // The postgres user must get through to the WAL directory: a directory of its own under a traversable one.
      root = mkdtempSync(join(tmpdir(), 'po-dgb-wal-'))
      chmodSync(root, 0o711)
      walDir = join(root, 'wal')
      mkdirSync(walDir)
      const postgresUser = await execa('id', ['-u', 'postgres'])
      const postgresGroup = await execa('id', ['-g', 'postgres'])
      chownSync(walDir, Number(postgresUser.stdout), Number(postgresGroup.stdout))
      server = await startPostgres({ extraConf: { archive_mode: 'on', archive_command: "'false'", archive_timeout: 0 } })
    }, 60_000)

    afterAll(async () => {
      await server?.stop()
      if (root) rmSync(root, { recursive: true, force: true })
    })

    function onServer(extra: { backup?: Record<string, unknown>; postgres?: Record<string, unknown> } = {}): Setup {
      const { host, port } = server.info
      return setup('postgres', { ...extra, postgres: { host, port, user: 'postgres', ...extra.postgres }, env: { PGPASSWORD: server.info.password } })
    }

    async function switchWal(until: string): Promise<void> {
      const client = pgClientConfig(server.info, 'postgres')
      await pgQuery(client, 'create table if not exists filler (n int); insert into filler select generate_series(1, 1000)')
      await pgQuery(client, 'select pg_switch_wal()')
      for (let i = 0; i < 200; i++) {
        const [row] = (await pgQuery<{ done: boolean }>(client, `select ${until} as done from pg_stat_archiver`)).rows
        if (row?.done) return
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`pg_stat_archiver never said ${until}`)
    }

    it('an archive_command that fails is critical; once it copies into the repository, the last archived file is found there and not in another', async () => {
      await switchWal('failed_count > 0')
      const failing = await onServer().diagnose()
      const finding = failing.step.findings!.find((f) => f.id === 'wal-archiver-failing')
      expect(finding, JSON.stringify(failing.step.findings)).toMatchObject({ severity: 'critical' })
      expect(failing.step.status).toBe('failed')
      // WAL is archived: a base backup is asked for.
      expect(ids(failing.step)).toContain('backup-missing:local:base')
      expect(failing.step.data.archiver).toMatchObject({ read: true, archiveMode: 'on', statusDirectory: { read: true } })
      const pending = (failing.step.data.archiver as { statusDirectory: { pending: number } }).statusDirectory.pending
      expect(pending).toBeGreaterThan(0)

      const client = pgClientConfig(server.info, 'postgres')
      await pgQuery(client, `alter system set archive_command = 'test ! -f ${walDir}/%f && cp %p ${walDir}/%f'`)
      await pgQuery(client, 'select pg_reload_conf()')
      await switchWal("last_archived_time > coalesce(last_failed_time, last_archived_time - interval '1 s') and archived_count > 1")

      const other = join(tempDir('dgb'), 'other')
      // A repository `wal push` writes to: the segment under its archive, named by its content.
      const pushed = join(tempDir('dgb'), 'pushed')
      const [last] = (await pgQuery<{ wal: string }>(client, 'select last_archived_wal as wal from pg_stat_archiver')).rows
      const segment = readFileSync(join(walDir, last!.wal))
      const repository = new LocalRepository({ name: 'pushed', path: pushed })
      const signal = AbortSignal.timeout(30_000)
      await writeRepositoryFile(
        repository,
        { format: 1, clusters: [{ archiveId: '15-1', systemIdentifier: '1', serverVersion: '15', since: new Date().toISOString() }], createdBy: 'test' },
        signal,
      )
      const pushedKey = walKey({
        archiveId: '15-1',
        name: last!.wal,
        sha256: createHash('sha256').update(segment).digest('hex'),
        compression: 'none',
        encrypted: false,
      })
      await repository.putBytes(pushedKey, segment, { signal })
      const working = await onServer({
        backup: {
          dir: root,
          repositories: [
            { name: 'local', type: 'local', path: root, walPath: walDir },
            { name: 'other', type: 'local', path: other },
            { name: 'pushed', type: 'local', path: pushed },
          ],
        },
      }).diagnose()
      const found = ids(working.step)
      for (const id of ['wal-archiver-failing', 'wal-archive-lag', 'wal-missing-in-repository:local']) expect(found).not.toContain(id)
      expect(found).toContain('wal-missing-in-repository:other')
      const archiver = working.step.data.archiver as Extract<BackupsData['archiver'], { read: true }>
      expect(archiver.lastArchivedWal).toMatch(/^[0-9A-F]{24}$/)
      expect(working.step.data.repositories[0]!.wal).toEqual({ segment: archiver.lastArchivedWal, found: true, key: `wal/${archiver.lastArchivedWal}` })
      expect(working.step.data.repositories[1]!.wal).toEqual({ segment: archiver.lastArchivedWal, found: false })
      // Nothing was archived since the segment was put there: archive_timeout is off, and only pg_switch_wal() switches.
      expect(archiver.lastArchivedWal).toBe(last!.wal)
      expect(working.step.data.repositories[2]).toMatchObject({ archiveId: '15-1', wal: { segment: last!.wal, found: true, key: pushedKey } })
    })

    it('a role without pg_monitor cannot count the waiting WAL files: a low finding says so, never "none waiting"', async () => {
      const client = pgClientConfig(server.info, 'postgres')
      const password = 'dgb-monitorless'
      await pgQuery(
        client,
        `do $$ begin if not exists (select from pg_roles where rolname = 'dgb_plain') then create role dgb_plain login password '${password}'; end if; end $$`,
      )
      const { host, port } = server.info
      const s = setup('postgres', { postgres: { host, port, user: 'dgb_plain' }, env: { PGPASSWORD: password } })
      const { step } = await s.diagnose()
      expect(
        step.findings!.find((f) => f.id === 'wal-archive-queue-not-read'),
        JSON.stringify(step.findings),
      ).toMatchObject({ severity: 'low' })
      expect(step.data.archiver).toMatchObject({ read: true, statusDirectory: { read: false } })
    })
  })
})
