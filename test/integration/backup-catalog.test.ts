/**
 * Reading backups across repositories (design-14 §5): list, verify, prune and restore against a
 * local directory and a real S3-compatible server (s3rver on loopback), with the bed's PostgreSQL.
 * The S3 copies are real dumps `backup database` took, copied with a v2 manifest (encrypted with
 * the plain `age` program) by test/helpers/s3-backups.ts until backups are written there directly.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupManifest } from '../../src/backups/manifest.js'
import { manifestKey } from '../../src/repositories/layout.js'
import { readSmall } from '../../src/repositories/repository.js'
import type { Report, StepResult } from '../../src/report/model.js'
import { bed, startHangingServer, type HangingServer } from '../bed/index.js'
import { startS3, type S3Server } from '../bed/s3.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import {
  TEST_S3_SECRET,
  ageKeyPair,
  copyToS3,
  openS3Repository,
  s3RepositoryEntry,
  startDeleteRefusingFront,
  startFront,
  writeCredentialsFile,
} from '../helpers/s3-backups.js'
import { tempDir } from '../helpers/temp.js'

let s3: S3Server
let hanging: HangingServer
let credentialsFile: string
let keys: { right: { identityFile: string; recipient: string }; wrong: { identityFile: string; recipient: string } }
let database: string
let localDir: string
let id: string

function step(report: Report, stepId: string): StepResult {
  const found = report.steps.find((s) => s.id === stepId)
  if (!found) throw new Error(`no step ${stepId} in ${report.steps.map((s) => s.id).join(',')}`)
  return found
}

async function counts(name: string): Promise<Record<string, number>> {
  const rows = await sql<{ t: string; n: string }>(
    name,
    `select 'tasks' as t, count(*) as n from tasks union all select 'task_results', count(*) from task_results union all select 'agents', count(*) from agents`,
  )
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]))
}

/** A configuration of this test's PostgreSQL database with the given backup section; no platform services. */
function setup(backup: Record<string, unknown>) {
  const { postgres } = bed()
  const config = writeConfig({
    postgres: { host: postgres.host, port: postgres.port, user: postgres.user, database },
    services: { web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false }, management: { enabled: false } },
    backup: { dir: localDir, ...backup },
    restore: { reserveBytes: 0, stopServices: [] },
  })
  const run = async (...args: string[]) => {
    const result = await runCli([...args, '--config', config.path], { PGPASSWORD: postgres.password })
    // Secrets never reach the output, whatever happened.
    for (const secret of [TEST_S3_SECRET, postgres.password, 'AGE-SECRET-KEY']) expect(result.stdout + result.stderr).not.toContain(secret)
    return result
  }
  return { ...config, run }
}

function offsite(prefix: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return s3RepositoryEntry(s3, credentialsFile, { prefix, ...overrides })
}

/** This test's backup, copied into the bucket under `prefix` (encrypted to the right key unless told). */
async function inS3(prefix: string, options: { plain?: boolean; startedAt?: Date } = {}): Promise<BackupManifest> {
  return copyToS3(localDir, id, openS3Repository(offsite(prefix)), {
    ...(options.plain ? {} : { recipients: [keys.right.recipient] }),
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
  })
}

const encryption = (identity?: { identityFile: string }) => ({
  recipients: [keys.right.recipient],
  ...(identity ? { identityFile: identity.identityFile } : {}),
})

beforeAll(async () => {
  s3 = await startS3()
  hanging = await startHangingServer()
  const dir = tempDir('catalog')
  credentialsFile = await writeCredentialsFile(dir)
  keys = { right: await ageKeyPair(dir, 'right'), wrong: await ageKeyPair(dir, 'wrong') }
  database = await createPlatformDatabase(databaseName('catalog'), { days: 3, rowsPerDay: 40 })
  localDir = join(dir, 'backups')
  const taken = await setup({}).run('backup', 'database', '--json')
  expect(taken.exitCode, taken.stdout + taken.stderr).toBe(0)
  id = step(parseReport(taken), 'dump').data!.id as string
}, 120_000)

afterAll(async () => {
  await hanging?.close()
  await s3?.stop()
  for (const row of await sql<{ datname: string }>('postgres', 'select datname from pg_database'))
    if (database && row.datname.startsWith(database)) await dropDatabase(row.datname)
})

describe('backup list across repositories', () => {
  it('lists one row per backup with its copies, a refused manifest as a problem, and --repository picks', async () => {
    await inS3('list/')
    await openS3Repository(offsite('list/')).putBytes('database-junk-20260101T000000000Z.manifest.json', Buffer.from('{ not json'), {
      signal: AbortSignal.timeout(10_000),
    })
    const s = setup({ repositories: [{ name: 'local', type: 'local', path: localDir }, offsite('list/')], encryption: encryption() })

    const all = parseReport(await s.run('backup', 'list', '--json'))
    const list = step(all, 'list')
    const row = (list.data!.backups as { id: string; encrypted: boolean; copies: { repository: string; path: string }[] }[]).find((b) => b.id === id)!
    expect(row.copies.map((c) => c.repository)).toEqual(['local', 'offsite'])
    expect(row.copies[1]!.path).toBe(`s3://${s3.bucket}/list/${id}.dump`)
    expect(list.data!.repositories).toMatchObject([
      { name: 'local', readable: true, backups: 1 },
      { name: 'offsite', readable: true, backups: 1 },
    ])
    expect(list.status).toBe('warning')
    expect(list.findings!.find((f) => f.id.startsWith('refused:'))!.message).toMatch(
      /database-junk-20260101T000000000Z\.manifest\.json: not a manifest probe-ops wrote/,
    )

    const one = step(parseReport(await s.run('backup', 'list', '--repository', 'offsite', '--json')), 'list')
    expect((one.data!.backups as { copies: unknown[] }[]).map((b) => b.copies.length)).toEqual([1])
    expect(one.data!.repositories).toMatchObject([{ name: 'offsite' }])

    const unknown = await s.run('backup', 'list', '--repository', 'nowhere')
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/no repository named nowhere.*\n?.*local, offsite/)
  })

  it('never pages through wal/: one LIST of the top level, however many WAL segments the archive holds', async () => {
    await inS3('walheavy/')
    const repository = openS3Repository(offsite('walheavy/'))
    const signal = AbortSignal.timeout(60_000)
    for (let n = 0; n < 30; n++) await repository.putBytes(`wal/15-1/0000000100000000/segment-${n}.zst`, Buffer.from('wal'), { signal })
    const front = await startFront(s3)
    try {
      const s = setup({ repositories: [offsite('walheavy/', { endpoint: front.endpoint })] })
      const list = step(parseReport(await s.run('backup', 'list', '--json')), 'list')
      expect((list.data!.backups as { id: string }[]).map((b) => b.id)).toEqual([id])
      expect(list.data!.leftovers).toEqual([])
      const listings = front.requests.filter((r) => r.method === 'GET' && r.url.searchParams.get('list-type') === '2')
      expect(listings.map((r) => [r.url.searchParams.get('prefix'), r.url.searchParams.get('delimiter')])).toEqual([['walheavy/', '/']])
    } finally {
      await front.close()
    }
  })

  it('an endpoint that accepts and never answers: a bounded failed step naming the repository, never a hang', async () => {
    const s = setup({ repositories: [offsite('x/', { endpoint: hanging.url, timeoutSeconds: 1 })] })
    const result = await s.run('backup', 'list', '--json')
    expect(result.exitCode).toBe(1)
    const list = step(parseReport(result), 'list')
    expect(list.status).toBe('failed')
    expect(list.findings!.find((f) => f.id === 'repository-unreadable:offsite')!.message).toMatch(/repository offsite .* could not be read/)

    const restore = await s.run('restore', 'latest', '--yes', '--json')
    expect(restore.exitCode).toBe(1)
    expect(restore.stdout).toMatch(/could not be read/)
  }, 90_000)
})

describe('backup verify across repositories', () => {
  it('checks every copy, decrypting where the identity is, and records each in its own manifest', async () => {
    await inS3('verify/')
    const s = setup({ repositories: [{ name: 'local', type: 'local', path: localDir }, offsite('verify/')], encryption: encryption(keys.right) })
    const result = await s.run('backup', 'verify', id, '--json')
    expect(result.exitCode, result.stdout).toBe(0)
    const report = parseReport(result)
    expect(step(report, 'checksum').data!.copies).toEqual([
      { repository: 'local', ok: true, plainChecked: true },
      { repository: 'offsite', ok: true, plainChecked: true },
    ])
    expect(step(report, 'archive').status).toBe('ok')
    const stored = JSON.parse(
      (await readSmall(openS3Repository(offsite('verify/')), manifestKey(id), 1 << 20, AbortSignal.timeout(10_000))).toString('utf8'),
    ) as BackupManifest
    expect(stored.verifications.map((v) => [v.method, v.ok])).toEqual([
      ['checksum', true],
      ['list', true],
    ])

    // The restore test reads the S3 copy too (staged, then removed).
    const rehearsed = parseReport(await s.run('backup', 'verify', id, '--repository', 'offsite', '--restore-test', '--json'))
    expect(rehearsed.status, JSON.stringify(rehearsed.steps, null, 1)).toBe('ok')
    expect((step(rehearsed, 'restore-test').data as { tablesCompared: number }).tablesCompared).toBeGreaterThan(0)
    expect(readdirSync(localDir).filter((n) => n.startsWith('.restore-staging-'))).toEqual([])

    // A host without the identity checks the stored bytes only, and says so.
    const withoutIdentity = setup({ repositories: [offsite('verify/')], encryption: encryption() })
    const partly = parseReport(await withoutIdentity.run('backup', 'verify', id, '--json'))
    expect(partly.status).toBe('warning')
    expect(step(partly, 'checksum').findings!.map((f) => [f.id, f.severity])).toEqual([['plaintext-not-checked:offsite', 'low']])
    expect(step(partly, 'archive').status).toBe('skipped')
  })

  it('finds an object corrupted in the bucket, a truncated one, and the wrong identity, naming the repository', async () => {
    const config = (prefix: string, identity = keys.right) => setup({ repositories: [offsite(prefix)], encryption: encryption(identity) })
    const corrupt = await inS3('corrupt/')
    const objectFile = s3.objectPath(`corrupt/${corrupt.data}`)
    const bytes = readFileSync(objectFile)
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff
    writeFileSync(objectFile, bytes)
    const corrupted = await config('corrupt/').run('backup', 'verify', id, '--json')
    expect(corrupted.exitCode).toBe(1)
    const checksum = step(parseReport(corrupted), 'checksum')
    expect(checksum.status).toBe('failed')
    expect(checksum.summary).toMatch(/offsite \(s3:\/\/.*corrupt\/.*\): .*(corrupted|damaged)/)

    // Truncated: the listing's size already says so; verify names it and reads nothing.
    const truncated = await inS3('truncated/')
    truncateSync(s3.objectPath(`truncated/${truncated.data}`), 1000)
    const cut = await config('truncated/').run('backup', 'verify', id, '--json')
    expect(cut.exitCode, cut.stdout).toBe(2)
    expect(cut.stderr).toMatch(/cannot be used: .*truncated\/.*a damaged backup: its data .* holds 1000 bytes where the manifest says/)

    await inS3('identity/')
    const wrong = await config('identity/', keys.wrong).run('backup', 'verify', id, '--json')
    expect(wrong.exitCode).toBe(1)
    expect(JSON.stringify(step(parseReport(wrong), 'checksum'))).toMatch(/no secret key in .*wrong\.key matches the recipients/)
  })
})

describe('backup prune per repository', () => {
  it('a bucket that refuses deletes is a medium finding, not a crash; prune: false leaves it alone', async () => {
    const old = await inS3('prune/', { plain: true, startedAt: new Date(Date.now() - 40 * 86_400_000) })
    await inS3('prune/', { plain: true })
    const front = await startDeleteRefusingFront(s3)
    try {
      const keep = { last: 1, daily: 1, weekly: 0, monthly: 0 }
      const refusing = setup({ repositories: [offsite('prune/', { endpoint: front.endpoint, keep })] })
      const result = await refusing.run('backup', 'prune', '--yes', '--json')
      expect(result.exitCode, result.stdout).toBe(0)
      const prune = step(parseReport(result), 'prune')
      expect(prune.status).toBe('warning')
      const refused = prune.findings!.find((f) => f.id === 'delete-refused:offsite')!
      expect(refused.severity).toBe('medium')
      expect(refused.message).toMatch(/offsite refused to delete: .*AccessDenied/)
      expect(refused.fix).toMatch(/prune: false/)
      expect(prune.data!.repositories).toMatchObject([{ name: 'offsite', remove: [old.id], failed: [{ id: old.id }] }])

      const alone = setup({ repositories: [offsite('prune/', { prune: false, keep })] })
      const untouched = step(parseReport(await alone.run('backup', 'prune', '--yes', '--json')), 'prune')
      expect(untouched.summary).toMatch(/offsite left alone \(prune: false\)/)

      const allowed = setup({ repositories: [offsite('prune/', { keep })] })
      const pruned = step(parseReport(await allowed.run('backup', 'prune', '--yes', '--json')), 'prune')
      expect(pruned.data!.remove).toEqual([old.id])
      // s3rver answers NotImplemented to ListMultipartUploads: said so, never taken for "none left".
      const unchecked =
        /^offsite \(s3:\/\/.*\) cannot list incomplete multipart uploads \(ListMultipartUploads is not implemented there\): whether some are left is unknown$/
      expect(pruned.data!.repositories).toMatchObject([
        { name: 'offsite', incompleteUploads: { checked: false, why: expect.stringMatching(unchecked), uploads: [] } },
      ])
      expect(pruned.findings!.find((f) => f.id === 'uploads-unchecked:offsite')).toMatchObject({ severity: 'low', message: expect.stringMatching(unchecked) })
      const listed = step(parseReport(await allowed.run('backup', 'list', '--json')), 'list')
      expect((listed.data!.backups as { id: string }[]).map((b) => b.id)).toEqual([id])
      expect(listed.data!.leftovers).toEqual([])
      expect(listed.data!.repositories).toMatchObject([{ name: 'offsite', incompleteUploads: { checked: false, uploads: [] } }])
      expect(listed.details).toContainEqual(expect.stringMatching(unchecked))
    } finally {
      await front.close()
    }
  })
})

describe('restore from S3', () => {
  it('on a fresh host with only the bucket and the identity (no backup.dir, no database): rows match', async () => {
    await inS3('fresh/')
    const atBackup = await counts(database)
    await dropDatabase(database)
    const freshDir = join(tempDir('fresh-host'), 'not-yet', 'backups')
    const s = setup({ dir: freshDir, repositories: [offsite('fresh/')], encryption: encryption(keys.right) })
    const result = await s.run('restore', 'latest', '--yes', '--json')
    const report = parseReport(result)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(step(report, 'verify').summary).toMatch(new RegExp(`${id} \\(from offsite, staged in ${freshDir}/\\.restore-staging-${id}\\)`))
    expect(step(report, 'verify').data).toMatchObject({ id, repository: 'offsite' })
    expect(await counts(database)).toEqual(atBackup)
    // The staged copy went with the run.
    expect(readdirSync(freshDir).filter((n) => n.startsWith('.restore-staging-'))).toEqual([])

    // Partial, from the same copy.
    await sql(database, 'delete from task_results where id % 3 = 0')
    const partial = await s.run('restore', 'latest', '--mode', 'partial', '--table', 'task_results', '--yes', '--json')
    expect(partial.exitCode, partial.stdout).toBe(0)
    expect(await counts(database)).toEqual(atBackup)
  })

  it('the disaster runbook end to end: backup database writes both copies, a fresh host lists, verifies and restores from the bucket', async () => {
    const hostDir = tempDir('runbook-host')
    const local = { name: 'local', type: 'local', path: join(hostDir, 'local') }
    const host = setup({ dir: join(hostDir, 'backups'), repositories: [local, offsite('runbook/')], encryption: encryption() })
    const taken = await host.run('backup', 'database', '--json')
    const dump = step(parseReport(taken), 'dump')
    expect(taken.exitCode, JSON.stringify(dump, null, 1)).toBe(0)
    const backupId = dump.data!.id as string
    expect(dump.data!.copies).toEqual([
      expect.objectContaining({ repository: 'local', committed: true }),
      expect.objectContaining({ repository: 'offsite', committed: true }),
    ])
    const atBackup = await counts(database)
    await dropDatabase(database)
    // The new host's platform container has created its database, empty.
    await sql('postgres', `create database "${database}"`)

    // The host is gone: a new one has the bucket, its credentials and the identity, nothing else.
    const fresh = setup({ dir: join(tempDir('runbook-fresh'), 'backups'), repositories: [offsite('runbook/')], encryption: encryption(keys.right) })
    const listed = parseReport(await fresh.run('backup', 'list', '--json'))
    expect((step(listed, 'list').data!.backups as { id: string; encrypted: boolean }[]).find((b) => b.id === backupId)).toMatchObject({ encrypted: true })
    const verified = await fresh.run('backup', 'verify', backupId, '--json')
    expect(verified.exitCode, verified.stdout).toBe(0)
    const restored = await fresh.run('restore', backupId, '--yes', '--json')
    expect(restored.exitCode, restored.stdout).toBe(0)
    const report = parseReport(restored)
    expect(step(report, 'verify').data).toMatchObject({ id: backupId, repository: 'offsite' })
    // Its empty database is nothing to keep, and the bucket is the old cluster's: no safety backup is attempted there.
    expect(step(report, 'safety-backup').findings).toEqual([expect.objectContaining({ id: 'empty-live-database', severity: 'low' })])
    // The empty database it replaced is kept aside, as every full restore keeps the live one: not this test's to leave.
    await dropDatabase((step(report, 'swap').data as { preRestore: string }).preRestore)
    expect(await counts(database)).toEqual(atBackup)
  })

  it('a copy that cannot be read whole never touches the live database', async () => {
    const copy = await inS3('damaged/')
    const objectFile = s3.objectPath(`damaged/${copy.data}`)
    truncateSync(objectFile, Math.floor(readFileSync(objectFile).length / 2))
    await sql(database, 'delete from task_results where id % 5 = 0')
    const live = await counts(database)
    const hostDir = join(tempDir('damaged-host'), 'backups')
    const s = setup({ dir: hostDir, repositories: [offsite('damaged/')], encryption: encryption(keys.right) })
    // Shorter than its manifest says: listed as damaged, never as a backup, and named when asked for.
    const refused = await s.run('restore', 'latest', '--yes', '--json')
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(2)
    expect(refused.stderr).toMatch(
      /no dump of database .*: 1 manifest refused or damaged, .*a damaged backup: its data .* holds \d+ bytes where the manifest says/,
    )

    // The same size, one byte changed: found only by reading it whole, before anything is touched.
    const corrupt = await inS3('corrupt-restore/')
    const corruptFile = s3.objectPath(`corrupt-restore/${corrupt.data}`)
    const bytes = readFileSync(corruptFile)
    bytes[bytes.length - 100]! ^= 0x01
    writeFileSync(corruptFile, bytes)
    const s2 = setup({ dir: hostDir, repositories: [offsite('corrupt-restore/')], encryption: encryption(keys.right) })
    const result = await s2.run('restore', 'latest', '--yes', '--json')
    expect(result.exitCode, result.stdout + result.stderr).toBe(1)
    const report = parseReport(result)
    expect(step(report, 'verify').status).toBe('failed')
    expect(step(report, 'verify').summary).toMatch(/offsite \(s3:\/\/.*corrupt-restore\/.*\): /)
    expect(step(report, 'swap').status).toBe('skipped')
    expect(await counts(database)).toEqual(live)
    const left = await sql<{ datname: string }>('postgres', `select datname from pg_database where datname like '${database}_%'`)
    expect(left).toEqual([])
    // With a good copy in the next repository, the restore reads that one and says what it passed over.
    await inS3('good-second/')
    const s3rd = setup({
      dir: hostDir,
      repositories: [offsite('corrupt-restore/'), offsite('good-second/', { name: 'second' })],
      encryption: encryption(keys.right),
    })
    const fallback = parseReport(await s3rd.run('restore', 'latest', '--yes', '--json'))
    expect(fallback.status, JSON.stringify(fallback.steps, null, 1)).toBe('warning')
    const verify = step(fallback, 'verify')
    expect(verify.data).toMatchObject({ repository: 'second' })
    expect(verify.findings!.map((f) => [f.severity, f.message])).toEqual([['medium', expect.stringMatching(/^a copy could not be used: offsite: /)]])
    expect(await counts(database)).not.toEqual(live)

    // Nothing staged is left behind.
    expect(existsSync(hostDir) ? readdirSync(hostDir).filter((n) => n.startsWith('.restore-staging-')) : []).toEqual([])
  })

  it('restore --cleanup removes a copy an interrupted restore left staged; backup list reports it first', async () => {
    const hostDir = join(tempDir('staged-host'), 'backups')
    const s = setup({ dir: hostDir, repositories: [offsite('fresh/')], encryption: encryption(keys.right) })
    mkdirSync(hostDir, { recursive: true, mode: 0o700 })
    const staged = join(hostDir, `.restore-staging-${id}`)
    writeFileSync(staged, 'half a dump', { mode: 0o600 })
    const listed = step(parseReport(await s.run('backup', 'list', '--json')), 'list')
    expect(listed.findings!.find((f) => f.id === `restore-staging:${staged}`)!.fix).toMatch(/restore --cleanup/)
    const cleaned = await s.run('restore', '--cleanup', '--yes', '--json')
    expect(cleaned.exitCode, cleaned.stdout).toBe(0)
    expect(step(parseReport(cleaned), 'cleanup').summary).toContain(`remove ${staged}`)
    expect(existsSync(staged)).toBe(false)
  })
})
