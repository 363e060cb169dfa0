import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { parseWalKey } from '../../src/repositories/layout.js'
import { readSmall } from '../../src/repositories/repository.js'
import type { Report, StepResult } from '../../src/report/model.js'
import { bed, freePort, pgClientConfig, pgQuery, startPostgres, type PostgresServer } from '../bed/index.js'
import { startS3, type S3Server } from '../bed/s3.js'
import { parseReport, runCli } from '../helpers/cli.js'
import { filesUnder, waitFor } from '../helpers/polling.js'
import { postgresProcessServices, walArchiveFiles } from '../helpers/postgres-service.js'
import { expectPromtoolAccepts, sampleValue } from '../helpers/promtool.js'
import { openS3Repository } from '../helpers/s3-backups.js'

/**
 * WAL expiry in `backup prune` and the recoverable window of `backup list`, `verify` and `prune`
 * (design-14 §4.4, §4.5), against a real PostgreSQL 15 archiving through `probe-ops wal push` into
 * a local and an s3rver repository, encrypted: prune removes only the WAL no kept base backup
 * needs (a full restore and a target-time restore from the oldest kept base still work
 * afterwards), and a segment missing from the middle of the archive is a gap, a high finding
 * with what to do, in either repository.
 */

const BIN = resolve(import.meta.dirname, '../../bin/run.js')

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

interface Base {
  id: string
  wal: { timeline: number; start: string; stop: string }
}

interface RepositoryWindows {
  name: string
  wal?: { gaps: { first: string; last: string; count: number }[]; windows: { base: string; to: string; endsAtGap?: { first: string } }[] }
}

describe('WAL expiry and the recoverable window, local and S3', () => {
  let root: string
  let local: string
  let metrics: string
  let s3: S3Server
  let server: PostgresServer
  let config: string
  let port: number
  const bases: Base[] = []
  let target: string
  /** A segment between the oldest kept base and the target (its WAL holds rows 201..250). */
  let middle: string
  const env = (): Record<string, string> => ({ PGPASSWORD: server.info.password })
  const offsiteEntry = () => ({
    name: 'offsite',
    type: 's3',
    bucket: s3.bucket,
    prefix: 'probe-01/',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentialsFile: join(root, 'credentials'),
    timeoutSeconds: 5,
  })

  function writeTestConfig(recipient: string, identity: string, dataDir?: string): string {
    const path = join(root, dataDir ? 'probe-ops.yaml' : 'archive.yaml')
    const services = dataDir
      ? postgresProcessServices(dataDir)
      : { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: { enabled: false } }
    const settings = {
      host: 'wal-window',
      log: { file: join(root, 'maintenance.log') },
      // Its own: other runs on the machine take the backup lock in the default directory.
      lock: { dir: join(root, 'lock') },
      alertmanager: { url: bed().alertmanager.url },
      postgres: { host: '127.0.0.1', port, user: 'postgres', database: 'network_probe' },
      services,
      ...(dataDir ? { metrics: { textfileDir: metrics } } : {}),
      backup: {
        dir: local,
        repositories: [{ name: 'local', type: 'local', path: local }, offsiteEntry()],
        // Two base backups kept: the oldest of the three goes, and the WAL only it needed.
        keep: { last: 2, daily: 0, weekly: 0, monthly: 0 },
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

  /** Ends the current segment and waits until it is archived in both repositories; its name. */
  async function archiveNow(): Promise<string> {
    const [row] = await query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment')
    await waitFor(`${row!.segment} to be archived`, async () => {
      const [state] = await query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver')
      return state!.last !== null && state!.last >= row!.segment ? true : undefined
    })
    return row!.segment
  }

  async function takeBase(): Promise<Base> {
    const taken = await runCli(['backup', 'base', '--config', config, '--json'], env())
    const report = parseReport(taken)
    expect(taken.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    return step(report, 'base').data as unknown as Base
  }

  /** The WAL segments (24 hex digits) a repository holds, by name. */
  function localSegments(): Map<string, string> {
    const found = new Map<string, string>()
    for (const path of filesUnder(join(local, 'wal')).keys()) {
      const parsed = parseWalKey(`wal/${path}`)
      if (parsed && /^[0-9A-F]{24}$/.test(parsed.name)) found.set(parsed.name, join(local, 'wal', path))
    }
    return found
  }

  async function offsiteSegments(): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    for await (const object of openS3Repository(offsiteEntry()).list('wal/', { signal: AbortSignal.timeout(30_000) })) {
      const parsed = parseWalKey(object.key)
      if (parsed && /^[0-9A-F]{24}$/.test(parsed.name)) found.set(parsed.name, object.key)
    }
    return found
  }

  async function run(...args: string[]) {
    const result = await runCli([...args, '--config', config, '--json'], env())
    return { result, report: parseReport(result) }
  }

  beforeAll(async () => {
    const files = await walArchiveFiles('/tmp/po-wal-window-')
    ;({ root, local } = files)
    metrics = join(root, 'metrics')
    mkdirSync(metrics)
    s3 = await startS3()
    port = await freePort()
    const archiveConfig = writeTestConfig(files.recipient, files.identity)
    server = await startPostgres({
      port,
      extraConf: { wal_level: 'replica', archive_mode: 'on', archive_command: `'${process.execPath} ${BIN} wal push %p --config ${archiveConfig}'` },
    })
    config = writeTestConfig(files.recipient, files.identity, server.info.dataDir)
    await query('create table events (n int primary key, at timestamptz not null default clock_timestamp())')
    await archiveNow()
    await query('insert into events (n) select g from generate_series(1, 100) g')
    await archiveNow()
    bases.push(await takeBase())
    await query('insert into events (n) select g from generate_series(101, 200) g')
    await archiveNow()
    bases.push(await takeBase())
    await query('insert into events (n) select g from generate_series(201, 250) g')
    middle = await archiveNow()
    await query('insert into events (n) select g from generate_series(251, 300) g')
    const [row] = await query<{ at: string }>('select clock_timestamp() as at')
    target = new Date(row!.at).toISOString()
    await new Promise((r) => setTimeout(r, 1100))
    await query('insert into events (n) select g from generate_series(301, 400) g')
    await archiveNow()
    bases.push(await takeBase())
    await query('insert into events (n) select g from generate_series(401, 500) g')
    await archiveNow()
    await query('insert into events (n) select g from generate_series(501, 600) g')
    await archiveNow()
  }, 240_000)

  afterAll(async () => {
    await server?.stop()
    await s3?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('backup prune --dry-run says what WAL would go and where the kept WAL starts, and removes nothing', async () => {
    const before = [...localSegments().keys()]
    const { result, report } = await run('backup', 'prune', '--dry-run')
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    const prune = step(report, 'prune')
    expect(prune.summary).toMatch(new RegExp(`local: would remove \\d+ WAL files \\(.*\\) older than ${bases[1]!.wal.start}, where ${bases[1]!.id}`))
    expect(prune.summary).toMatch(new RegExp(`offsite: would remove \\d+ WAL files .* older than ${bases[1]!.wal.start}`))
    const repositories = prune.data!.repositories as { name: string; wal: { floor: { segment: string; base: string }; files: number; removed: number } }[]
    for (const repository of repositories) {
      expect(repository.wal.floor).toMatchObject({ segment: bases[1]!.wal.start, base: bases[1]!.id })
      expect(repository.wal.files).toBeGreaterThan(0)
      expect(repository.wal.removed).toBe(0)
    }
    expect([...localSegments().keys()]).toEqual(before)
  })

  it('backup prune removes, in both repositories, the WAL only the pruned base backup needed, and nothing a kept one needs', async () => {
    const { result, report } = await run('backup', 'prune', '--yes')
    const prune = step(report, 'prune')
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    // s3rver cannot list incomplete uploads: a low finding, and nothing else.
    expect((prune.findings ?? []).filter((f) => f.severity !== 'low')).toEqual([])
    expect(prune.data!.remove).toEqual([bases[0]!.id])
    expect(prune.summary).toMatch(new RegExp(`local: removed \\d+ WAL files .* older than ${bases[1]!.wal.start}`))
    const floor = bases[1]!.wal.start
    for (const segments of [localSegments(), await offsiteSegments()]) {
      const names = [...segments.keys()].sort()
      expect(names.filter((name) => name < floor)).toEqual([])
      expect(names).toContain(floor)
      expect(names).toContain(middle)
      expect(names).toContain(bases[2]!.wal.start)
    }
    const repositories = prune.data!.repositories as { name: string; wal: { removed: number; after: { gaps: unknown[] } } }[]
    for (const repository of repositories) {
      expect(repository.wal.removed).toBeGreaterThan(0)
      expect(repository.wal.after.gaps).toEqual([])
    }
    // A second prune finds nothing more to remove.
    const again = step((await run('backup', 'prune', '--yes')).report, 'prune')
    expect((again.data!.repositories as { wal: { files: number } }[]).map((r) => r.wal.files)).toEqual([0, 0])
  })

  it('backup list shows the window of each repository, with no gap, and writes it as metrics', async () => {
    const { result, report } = await run('backup', 'list')
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    const list = step(report, 'list')
    const repositories = list.data!.repositories as RepositoryWindows[]
    for (const repository of repositories) {
      expect(repository.wal!.gaps).toEqual([])
      expect(repository.wal!.windows.map((w) => w.base)).toEqual([bases[1]!.id, bases[2]!.id])
    }
    expect(list.details!.join('\n')).toMatch(/^local: recoverable \S+ \.\. \S+$/m)
    const text = readFileSync(join(metrics, 'probe_ops_backups.prom'), 'utf8')
    await expectPromtoolAccepts(text)
    expect(sampleValue(text, 'probe_ops_wal_gaps', 'repository="offsite"')).toBe(0)
    expect(sampleValue(text, 'probe_ops_backup_recoverable_window_start_timestamp_seconds', 'repository="local"')).toBeGreaterThan(0)
  })

  it('a segment missing from the middle of the window, in either repository, is a gap: a high finding with what to do, never "ok"', async () => {
    // Taken away, and put back after: the restores below need it.
    const localPath = localSegments().get(middle)!
    const aside = join(root, 'aside')
    renameSync(localPath, aside)
    const repository = openS3Repository(offsiteEntry())
    const signal = AbortSignal.timeout(30_000)
    const key = (await offsiteSegments()).get(bases[2]!.wal.start)!
    const bytes = await readSmall(repository, key, 64 * 1024 * 1024, signal)
    await repository.remove([key], { signal })
    try {
      const { result, report } = await run('backup', 'list')
      expect(result.exitCode).toBe(1)
      const list = step(report, 'list')
      expect(list.status).toBe('failed')
      const gap = list.findings!.find((f) => f.id === `wal-gap:local:${middle}`)!
      expect(gap).toMatchObject({ severity: 'high', fix: expect.stringMatching(/^take a base backup now \(probe-ops backup base\)/) })
      expect(gap.message).toMatch(
        new RegExp(
          `local: WAL ${middle} \\(1 segment\\) is missing from the archive: point-in-time recovery cannot cross it; 1 base backup before it \\(${bases[1]!.id}\\) recover`,
        ),
      )
      const windows = list.data!.repositories as RepositoryWindows[]
      expect(windows[0]!.wal!.gaps).toEqual([expect.objectContaining({ first: middle, last: middle, count: 1 })])
      expect(windows[0]!.wal!.windows[0]!.endsAtGap).toMatchObject({ first: middle })
      expect(list.findings!.find((f) => f.id === `wal-gap:offsite:${bases[2]!.wal.start}`)).toMatchObject({ severity: 'high' })
      const text = readFileSync(join(metrics, 'probe_ops_backups.prom'), 'utf8')
      expect(sampleValue(text, 'probe_ops_wal_gaps', 'repository="local"')).toBe(1)
      expect(sampleValue(text, 'probe_ops_wal_gaps', 'repository="offsite"')).toBe(1)

      // verify of the newest base: its own WAL is missing in the bucket (medium), and both gaps are reported.
      const verified = await run('backup', 'verify', bases[2]!.id)
      expect(verified.result.exitCode).toBe(1)
      const wal = step(verified.report, 'wal')
      expect(wal.status).toBe('failed')
      expect(wal.findings!.find((f) => f.id === 'wal-chain-incomplete:offsite')).toMatchObject({ severity: 'medium' })
      expect(wal.findings!.find((f) => f.id === 'wal-chain-incomplete:local')).toBeUndefined()
      expect(wal.findings!.map((f) => f.id)).toEqual(expect.arrayContaining([`wal-gap:local:${middle}`, `wal-gap:offsite:${bases[2]!.wal.start}`]))
    } finally {
      renameSync(aside, localPath)
      await repository.putBytes(key, bytes, { signal: AbortSignal.timeout(30_000) })
    }
    const healed = await run('backup', 'verify', bases[1]!.id)
    expect(healed.result.exitCode, JSON.stringify(healed.report.steps, null, 1)).toBe(0)
    expect(step(healed.report, 'wal').summary).toMatch(new RegExp(`^${bases[1]!.wal.start} \\.\\. ${bases[1]!.wal.stop} archived in local, offsite`))
    const text = readFileSync(join(metrics, 'probe_ops_backups.prom'), 'utf8')
    expect(sampleValue(text, 'probe_ops_wal_gaps', 'repository="local"')).toBe(0)
  }, 120_000)

  it('after prune, restore latest-base --mode full replays to the end, and a target-time restore from the oldest kept base (from the bucket) stops there', async () => {
    const full = await run('restore', 'latest-base', '--mode', 'full', '--yes')
    expect(full.result.exitCode, JSON.stringify(full.report.steps, null, 1)).toBe(0)
    expect(await count()).toBe(600)

    const timed = await run('restore', bases[1]!.id, '--mode', 'full', '--target-time', target, '--repository', 'offsite', '--yes')
    expect(timed.result.exitCode, JSON.stringify(timed.report.steps, null, 1)).toBe(0)
    expect(await count()).toBe(300)
  }, 300_000)
})
