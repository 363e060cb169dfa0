/**
 * Backups written to every repository (issue 14, design-14 §3.4): `backup database`, `config` and
 * `base` against a PostgreSQL of the file's own, into a local directory and an S3 bucket (s3rver
 * on loopback). Each copy is committed only with its manifest, written last after the data was
 * read back; a repository that fails (cut mid-upload, a missing bucket, refused credentials, an
 * endpoint that never answers, kill -9) never shows a backup, the others keep theirs, and the
 * step fails naming what exists where. Encrypted copies open with the plain `age` CLI.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupManifest } from '../../src/backups/manifest.js'
import type { Finding, Report, StepResult } from '../../src/report/model.js'
import { unpackBaseBackup } from '../../src/systems/pg-tools.js'
import { PG_BIN_DIR, startPostgres, type PostgresServer } from '../bed/index.js'
import { startHangingServer, type HangingServer } from '../bed/hang.js'
import { freePort } from '../bed/ports.js'
import { S3RVER_ACCESS_KEY_ID, startCuttingProxy, startS3, type S3Server } from '../bed/s3.js'
import { parseReport, runCli, startCli, writeConfig, type CliResult } from '../helpers/cli.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

const PREFIX = 'probe-01/'
/** s3rver checks the access key id only: any secret passes, and none may ever be printed. */
const SECRET = 'e1-s3cr3t-Never-Printed-7f3a9c'
const ENV_SECRET = { AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET }

let server: PostgresServer
let s3: S3Server
let hanging: HangingServer
/** A port nothing listens on: connections are refused. */
let closedPort: number

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id} in ${report.steps.map((s) => s.id).join(',')}`)
  return found
}

async function query(text: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: server.info.port, user: 'postgres', password: server.info.password, database: 'network_probe' })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  ;[server, s3, hanging, closedPort] = await Promise.all([startPostgres({ database: 'network_probe' }), startS3(), startHangingServer(), freePort()])
  // md5 text compresses to about half: a dump of several MiB even at -Z1, so that uploads go in parts of 5 MiB.
  await query(
    `create table events (id bigserial primary key, body text);
     insert into events (body) select md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 150000)`,
  )
}, 120_000)

afterAll(async () => {
  await hanging?.close()
  await s3?.stop()
  await server?.stop()
})

interface Setup {
  path: string
  dir: string
  backupDir: string
  prefix: string
  run(args: string[], env?: Record<string, string>): Promise<CliResult>
}

/** A configuration with a local repository and an S3 one (`offsite`), each in a place of its own. */
function setup(offsite: Record<string, unknown> = {}, backup: Record<string, unknown> = {}): Setup {
  const backupDir = join(tempDir('e1'), 'backups')
  const prefix = `${PREFIX}${Math.random().toString(36).slice(2, 10)}/`
  const cfg = writeConfig({
    postgres: { host: '127.0.0.1', port: server.info.port, user: 'postgres', database: 'network_probe' },
    services: { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: { enabled: false } },
    backup: {
      dir: backupDir,
      configPaths: ['/etc/hostname'],
      repositories: [
        { name: 'local', type: 'local', path: backupDir },
        { name: 'offsite', type: 's3', bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, prefix, partSizeMiB: 5, timeoutSeconds: 5, ...offsite },
      ],
      ...backup,
    },
  })
  return {
    ...cfg,
    backupDir,
    prefix,
    run: (args, env = {}) => runCli([...args, '--config', cfg.path], { PGPASSWORD: server.info.password, ...ENV_SECRET, ...env }),
  }
}

/** An object in the bucket, as s3rver keeps it on its disk; undefined when there is none. */
function s3Object(key: string): Buffer | undefined {
  const path = s3.objectPath(key)
  return existsSync(path) ? readFileSync(path) : undefined
}

/** Every key s3rver holds under `prefix`. */
function s3Keys(prefix: string): string[] {
  const root = join(s3.dir, s3.bucket)
  const keys: string[] = []
  const walk = (dir: string, key: string) => {
    if (!existsSync(dir)) return
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path, `${key}${name}/`)
      else if (name.endsWith('._S3rver_object')) keys.push(`${key}${name.slice(0, -'._S3rver_object'.length)}`)
    }
  }
  walk(join(root, prefix), prefix)
  return keys.sort()
}

/** No secret in what the run printed, nor in anything it wrote beside its configuration (log, metrics, reports). */
function expectNoSecret(s: Setup, result: CliResult): void {
  expect(result.stdout + result.stderr).not.toContain(SECRET)
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]))
  for (const file of walk(s.dir)) expect(readFileSync(file, 'utf8'), file).not.toContain(SECRET)
}

/** Both copies committed: the data and the manifest in each, the manifest (v2) matching the stored bytes. */
function expectBothCopies(s: Setup, data: Record<string, unknown>): { local: BackupManifest; offsite: BackupManifest } {
  expect(data.copies).toEqual([
    { repository: 'local', committed: true, readBack: 'reread' },
    { repository: 'offsite', committed: true, readBack: 'etag' },
  ])
  const id = data.id as string
  const local = JSON.parse(readFileSync(join(s.backupDir, `${id}.manifest.json`), 'utf8')) as BackupManifest
  const offsite = JSON.parse(s3Object(`${s.prefix}${id}.manifest.json`)!.toString('utf8')) as BackupManifest
  for (const manifest of [local, offsite]) {
    expect(manifest).toMatchObject({ manifestVersion: 2, id, bytes: data.bytes, sha256: data.sha256 })
  }
  if (local.format !== 'directory') {
    const stored = readFileSync(join(s.backupDir, local.data))
    expect(sha256(stored)).toBe(local.stored?.sha256 ?? local.sha256)
    expect(sha256(s3Object(`${s.prefix}${offsite.data}`)!)).toBe(offsite.stored?.sha256 ?? offsite.sha256)
  }
  expect(JSON.parse(readFileSync(join(s.backupDir, 'probe-ops-repository.json'), 'utf8')).clusters).toHaveLength(1)
  expect(s3Object(`${s.prefix}probe-ops-repository.json`)).toBeDefined()
  return { local, offsite }
}

describe('backups into a local and an S3 repository', () => {
  it('stores a dump of several parts, the configuration and a base backup in both, each read back and committed with its manifest', async () => {
    const s = setup()
    const dumped = await s.run(['backup', 'database', '--json'])
    expect(dumped.exitCode, dumped.stdout + dumped.stderr).toBe(0)
    const report = parseReport(dumped)
    expectValidReport(report)
    const dump = step(report, 'dump').data!
    expect(dump.bytes as number).toBeGreaterThan(5 * 1024 * 1024) // more than one part of 5 MiB: lib-storage uploads it in parts
    const { local, offsite } = expectBothCopies(s, dump)
    expect(local.data).toMatch(/^database-network_probe-\d{8}T\d{9}Z\.dump$/)
    expect(dump.path).toBe(join(s.backupDir, local.data))
    expect(offsite.tables).toEqual([{ name: 'public.events', rows: 150_000 }])
    expectNoSecret(s, dumped)

    const archived = await s.run(['backup', 'config', '--json'])
    expect(archived.exitCode, archived.stdout).toBe(0)
    const archive = expectBothCopies(s, step(parseReport(archived), 'archive').data!)
    const listing = await execa('tar', ['-tzf', join(s.backupDir, archive.local.data)])
    expect(listing.stdout.split('\n')).toEqual(['etc/hostname'])

    const based = await s.run(['backup', 'base', '--json'])
    expect(based.exitCode, based.stdout + based.stderr).toBe(0)
    const base = expectBothCopies(s, step(parseReport(based), 'base').data!)
    expect(base.local).toMatchObject({ kind: 'base', format: 'tar.zst', data: `${base.local.id}.base.tar.zst` })
    const systemIdentifier = JSON.parse(readFileSync(join(s.backupDir, 'probe-ops-repository.json'), 'utf8')).clusters[0].systemIdentifier
    expect(base.offsite.wal).toMatchObject({ archiveId: '15-1', timeline: 1, segmentBytes: 16 * 1024 * 1024, systemIdentifier })
    expect(base.offsite.wal!.start <= base.offsite.wal!.stop).toBe(true)
    const files = (await execa('tar', ['--zstd', '-tf', join(s.backupDir, base.local.data)])).stdout.split('\n')
    expect(files).toEqual(expect.arrayContaining(['backup_label', 'global/pg_control']))
    expect(files.some((name) => name.startsWith('pg_wal/') && name.endsWith(base.offsite.wal!.start))).toBe(true)
    expectNoSecret(s, based)
  }, 300_000)

  it('writes the directory format file by file, and `age -d` opens the encrypted copies to the manifest checksum', async () => {
    const keyDir = tempDir('e1-age')
    await execa('age-keygen', ['-o', join(keyDir, 'identity.txt')])
    const recipient = /public key: (age1\S+)/.exec(readFileSync(join(keyDir, 'identity.txt'), 'utf8'))![1]!
    const s = setup({}, { encryption: { recipients: [recipient] } })
    const dumped = await s.run(['backup', 'database', '--json'])
    expect(dumped.exitCode, dumped.stdout + dumped.stderr).toBe(0)
    const { local, offsite } = expectBothCopies(s, step(parseReport(dumped), 'dump').data!)
    expect(local.data).toMatch(/\.dump\.age$/)
    expect(offsite.encryption).toEqual({ format: 'age', recipients: [recipient] })
    const encrypted = join(tempDir('e1-enc'), 'copy.age')
    writeFileSync(encrypted, s3Object(`${s.prefix}${offsite.data}`)!)
    const plain = join(tempDir('e1-plain'), 'dump')
    await execa('age', ['-d', '-i', join(keyDir, 'identity.txt'), '-o', plain, encrypted])
    expect(sha256(readFileSync(plain))).toBe(offsite.sha256)
    expect((await execa('/usr/lib/postgresql/15/bin/pg_restore', ['--list', plain])).stdout).toContain('TABLE DATA public events')

    const directory = setup({}, { format: 'directory', jobs: 2 })
    const dir = await directory.run(['backup', 'database', '--json'])
    expect(dir.exitCode, dir.stdout + dir.stderr).toBe(0)
    const copies = expectBothCopies(directory, step(parseReport(dir), 'dump').data!)
    expect(copies.offsite.files!.map((file) => file.name)).toContain('toc.dat')
    for (const file of copies.offsite.files!) {
      expect(sha256(s3Object(`${directory.prefix}${copies.offsite.data}/${file.name}`)!)).toBe(file.sha256)
      expect(sha256(readFileSync(join(directory.backupDir, copies.local.data, file.name)))).toBe(file.sha256)
    }
    // Staged once in backup.dir, and gone once stored.
    expect(readdirSync(directory.backupDir).filter((name) => name.startsWith('.'))).toEqual([])
  }, 300_000)
})

describe("a restore's safety dump", () => {
  it('goes to the local repository only: a short-lived copy for this host', async () => {
    const s = setup()
    const dumped = await s.run(['backup', 'database', '--json'])
    expect(dumped.exitCode, dumped.stdout).toBe(0)
    const id = step(parseReport(dumped), 'dump').data!.id as string
    const before = s3Keys(s.prefix)
    const restore = await s.run(['restore', id, '--mode', 'full', '--only', 'safety-backup', '--yes', '--json'])
    expect(restore.exitCode, restore.stdout + restore.stderr).toBe(0)
    const safety = step(parseReport(restore), 'safety-backup').data as { id: string }
    const manifest = JSON.parse(readFileSync(join(s.backupDir, `${safety.id}.manifest.json`), 'utf8')) as BackupManifest
    expect(manifest).toMatchObject({ reason: 'safety', manifestVersion: 2 })
    expect(s3Keys(s.prefix)).toEqual(before)
  }, 180_000)
})

describe('base backups for point-in-time recovery', () => {
  it('with backup.dir alone: the new tar.zst lands there, and recovery unpacks it as it unpacks an old base.tar.gz directory', async () => {
    const backupDir = join(tempDir('e1-dir'), 'backups')
    const cfg = writeConfig({
      postgres: { host: '127.0.0.1', port: server.info.port, user: 'postgres', database: 'network_probe' },
      services: { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: { enabled: false } },
      backup: { dir: backupDir },
    })
    const result = await runCli(['backup', 'base', '--json', '--config', cfg.path], { PGPASSWORD: server.info.password })
    expect(result.exitCode, result.stdout + result.stderr).toBe(0)
    const base = step(parseReport(result), 'base').data as { id: string; path: string; copies: unknown[]; wal: { start: string } }
    expect(base.copies).toEqual([{ repository: 'local', committed: true, readBack: 'reread' }])
    expect(base.path).toBe(join(backupDir, `${base.id}.base.tar.zst`))
    expect(readdirSync(backupDir).sort()).toEqual([`${base.id}.base.tar.zst`, `${base.id}.manifest.json`, 'probe-ops-repository.json'])

    // A base backup as probe-ops wrote them before repositories: a directory of pg_basebackup's tar.gz files.
    const old = join(tempDir('e1-old'), 'base-20261101T000000000Z.base')
    await execa(
      join(PG_BIN_DIR, 'pg_basebackup'),
      ['-h', '127.0.0.1', '-p', String(server.info.port), '-U', 'postgres', '-D', old, '-Ft', '--gzip', '-X', 'fetch'],
      {
        env: { PGPASSWORD: server.info.password },
      },
    )
    for (const [from, walSegment] of [
      [base.path, base.wal.start],
      [old, undefined],
    ] as const) {
      const into = tempDir('e1-unpacked')
      await unpackBaseBackup(from, into)
      expect(readFileSync(join(into, 'PG_VERSION'), 'utf8').trim(), from).toBe('15')
      expect(existsSync(join(into, 'backup_label')), from).toBe(true)
      const wal = readdirSync(join(into, 'pg_wal')).filter((name) => /^[0-9A-F]{24}$/.test(name))
      expect(wal.length, from).toBeGreaterThan(0)
      if (walSegment) expect(wal).toContain(walSegment)
    }
  }, 180_000)
})

describe('a repository that fails: the others keep their copy, the step fails naming what exists where', () => {
  /** The run failed with the offsite copy missing and the local one committed; the S3 prefix lists no backup. */
  function expectLocalOnly(s: Setup, result: CliResult, stepId: string, why: RegExp): Finding {
    expect(result.exitCode, result.stdout + result.stderr).toBe(1)
    const report = parseReport(result)
    expectValidReport(report)
    const failed = step(report, stepId)
    expect(failed.status).toBe('failed')
    const finding = (failed.findings ?? []).find((f) => f.id === 'copy-missing:offsite')!
    expect(finding.severity).toBe('high')
    expect(finding.message).toMatch(new RegExp(`offsite: not stored \\(.*${why.source}.*\\); local: stored$`))
    const data = failed.data as { id: string; copies: { repository: string; committed: boolean }[] }
    expect(data.copies.map((copy) => [copy.repository, copy.committed])).toEqual([
      ['local', true],
      ['offsite', false],
    ])
    expect(existsSync(join(s.backupDir, `${data.id}.manifest.json`))).toBe(true)
    expect(s3Keys(s.prefix).filter((key) => key.endsWith('.manifest.json'))).toEqual([])
    expectNoSecret(s, result)
    expect(result.stdout + result.stderr).not.toMatch(/smithy|\[ERROR\]|TimeoutError|\$metadata/)
    return finding
  }

  it('a server cut mid-upload: no manifest in the bucket, the local copy committed', async () => {
    const proxy = await startCuttingProxy(s3, { cutAfterBytes: 2 * 1024 * 1024 })
    try {
      const s = setup({ endpoint: proxy.endpoint })
      const result = await s.run(['backup', 'database', '--json'])
      expect(proxy.cut).toBe(true)
      expectLocalOnly(s, result, 'dump', /./)
    } finally {
      await proxy.close()
    }
  }, 180_000)

  it('a missing bucket, refused credentials and an endpoint that never answers: a failed copy each, one plain line and what to fix', async () => {
    const cases: [Record<string, unknown>, Record<string, string>, RegExp, RegExp][] = [
      // Named by the first request (the repository file), not by the upload after it.
      [{ bucket: 'no-such-bucket' }, {}, /bucket no-such-bucket does not exist at 127\.0\.0\.1:\d+/, /^create it or fix backup\.repositories\[1\]\.bucket;/],
      [
        {},
        { AWS_ACCESS_KEY_ID: 'NOT-S3RVER' },
        /refused the credentials \(InvalidAccessKeyId, HTTP 403\)/,
        /^check the credentials of backup\.repositories\[1\]/,
      ],
      [{ endpoint: hanging.url, timeoutSeconds: 1 }, {}, /did not answer within 1 s/, /raise backup\.repositories\[1\]\.timeoutSeconds/],
      [
        { endpoint: `http://127.0.0.1:${closedPort}` },
        {},
        /nothing accepts connections at 127\.0\.0\.1:\d+ \(connection refused\)/,
        /backup\.repositories\[1\]\.endpoint/,
      ],
    ]
    for (const [offsite, env, why, fix] of cases) {
      const s = setup(offsite)
      const finding = expectLocalOnly(s, await s.run(['backup', 'config', '--json'], env), 'archive', why)
      expect(finding.fix).toMatch(fix)
    }
  }, 180_000)

  it('backup list on a missing bucket says the repository could not be read, never "no backups"', async () => {
    const s = setup({ bucket: 'no-such-bucket' })
    const result = await s.run(['backup', 'list', '--json'])
    const list = step(parseReport(result), 'list')
    const finding = (list.findings ?? []).find((f) => f.id === 'repository-unreadable:offsite')!
    expect(finding.severity).toBe('high')
    expect(finding.message).toMatch(
      /^repository offsite \(s3:\/\/no-such-bucket\/.* at 127\.0\.0\.1:\d+\) could not be read: bucket no-such-bucket does not exist at 127\.0\.0\.1:\d+$/,
    )
    expect(list.summary).toMatch(/^0 backups in local; offsite could not be read/)
    expect((list.data as { repositories: unknown[] }).repositories).toEqual([
      expect.objectContaining({ name: 'local', backups: 0, readable: true }),
      expect.objectContaining({ name: 'offsite', backups: null, readable: false }),
    ])
  }, 60_000)

  it('kill -9 in the middle of an upload leaves no manifest anywhere', async () => {
    const s = setup()
    const run = startCli(['backup', 'database', '--json', '--config', s.path], {
      PGPASSWORD: server.info.password,
      ...ENV_SECRET,
      PROBE_OPS_FAILPOINT: 'upload-part-sent',
    })
    const result = await run.result
    // Killed at the failpoint: no report was ever printed.
    expect(result.exitCode, result.stdout + result.stderr).not.toBe(0)
    expect(result.stdout).toBe('')
    expect(s3Keys(s.prefix).filter((key) => key.endsWith('.manifest.json'))).toEqual([])
    expect(existsSync(s.backupDir) ? readdirSync(s.backupDir).filter((name) => name.endsWith('.manifest.json')) : []).toEqual([])
    // What it left is no backup: backup list shows none.
    const list = parseReport(await s.run(['backup', 'list', '--json']))
    expect((step(list, 'list').data as { backups: unknown[] }).backups).toEqual([])
  }, 180_000)
})
