import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { parseWalKey } from '../../src/repositories/layout.js'
import { readSmall } from '../../src/repositories/repository.js'
import { startS3, type S3Server } from '../bed/s3.js'
import { ArchivingCluster, offsiteEntry, step, type ArchiveFiles } from '../helpers/archiving-cluster.js'
import { parseReport, runCli } from '../helpers/cli.js'
import { filesUnder } from '../helpers/polling.js'
import { walArchiveFiles } from '../helpers/postgres-service.js'
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

interface RepositoryWindows {
  name: string
  wal?: { gaps: { first: string; last: string; count: number }[]; windows: { base: string; to: string; endsAtGap?: { first: string } }[] }
}

describe('WAL expiry and the recoverable window, local and S3', () => {
  let files: ArchiveFiles
  let root: string
  let local: string
  let metrics: string
  let s3: S3Server
  let cluster: ArchivingCluster
  let config: string
  const bases: Awaited<ReturnType<ArchivingCluster['takeBase']>>[] = []
  let target: string
  /** A segment between the oldest kept base and the target (its WAL holds rows 201..250). */
  let middle: string
  const env = () => cluster.env()
  const offsite = () => offsiteEntry(files, s3)
  const query = (text: string) => cluster.query(text)

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
    for await (const object of openS3Repository(offsite()).list('wal/', { signal: AbortSignal.timeout(30_000) })) {
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
    files = await walArchiveFiles('/tmp/po-wal-window-')
    ;({ root, local } = files)
    metrics = join(root, 'metrics')
    mkdirSync(metrics)
    s3 = await startS3()
    cluster = await ArchivingCluster.start(files, s3, {
      host: 'wal-window',
      extra: { metrics: { textfileDir: metrics } },
      // Two base backups kept: the oldest of the three goes, and the WAL only it needed.
      backup: { keep: { last: 2, daily: 0, weekly: 0, monthly: 0 } },
    })
    config = cluster.config
    await query('create table events (n int primary key, at timestamptz not null default clock_timestamp())')
    await cluster.archiveNow()
    await query('insert into events (n) select g from generate_series(1, 100) g')
    await cluster.archiveNow()
    bases.push(await cluster.takeBase())
    await query('insert into events (n) select g from generate_series(101, 200) g')
    await cluster.archiveNow()
    bases.push(await cluster.takeBase())
    await query('insert into events (n) select g from generate_series(201, 250) g')
    middle = await cluster.archiveNow()
    await query('insert into events (n) select g from generate_series(251, 300) g')
    const [row] = await cluster.query<{ at: string }>('select clock_timestamp() as at')
    target = new Date(row!.at).toISOString()
    await new Promise((r) => setTimeout(r, 1100))
    await query('insert into events (n) select g from generate_series(301, 400) g')
    await cluster.archiveNow()
    bases.push(await cluster.takeBase())
    await query('insert into events (n) select g from generate_series(401, 500) g')
    await cluster.archiveNow()
    await query('insert into events (n) select g from generate_series(501, 600) g')
    await cluster.archiveNow()
  }, 240_000)

  afterAll(async () => {
    await cluster?.stop()
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

  it('prune: false plans the WAL expiry and deletes nothing; a repository with WAL and no base backup keeps it all, with a warning', async () => {
    const spare = join(root, 'spare')
    mkdirSync(spare, { mode: 0o700 })
    cpSync(join(local, 'wal'), join(spare, 'wal'), { recursive: true })
    const settings = parse(readFileSync(config, 'utf8')) as { backup: { repositories: Record<string, unknown>[] } }
    settings.backup.repositories = [
      { ...offsite(), prune: false },
      { name: 'spare', type: 'local', path: spare },
    ]
    const variant = join(root, 'variant.yaml')
    writeFileSync(variant, stringify(settings), { mode: 0o644 })
    const before = (await offsiteSegments()).size
    const result = await runCli(['backup', 'prune', '--yes', '--config', variant, '--json'], env())
    const prune = step(parseReport(result), 'prune')
    expect(result.exitCode, JSON.stringify(prune, null, 1)).toBe(0)
    expect(prune.status).toBe('warning')
    const [remote, bare] = prune.data!.repositories as {
      name: string
      remove: string[]
      wal: { files: number; removed: number; note?: string; floor?: unknown }
    }[]
    expect(remote).toMatchObject({ name: 'offsite', remove: [], wal: { removed: 0, note: expect.stringMatching(/lifecycle rule \(prune: false\)/) } })
    expect(remote!.wal.files).toBeGreaterThan(0)
    expect(prune.summary).toMatch(/offsite: would remove \d+ WAL files .* \(retention of offsite is left to its lifecycle rule \(prune: false\)\)/)
    expect((await offsiteSegments()).size).toBe(before)
    expect(bare).toMatchObject({ name: 'spare', wal: { files: 0, removed: 0 } })
    expect(bare!.wal.floor).toBeUndefined()
    expect(prune.findings!.find((f) => f.id === 'wal-without-base:spare')).toMatchObject({
      severity: 'medium',
      message: expect.stringMatching(/^spare holds .* of WAL and no base backup: nothing can replay it/),
    })
    expect(filesUnder(join(spare, 'wal')).size).toBe(filesUnder(join(local, 'wal')).size)
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
    // In the bucket, the same one and the newest base's first.
    const repository = openS3Repository(offsite())
    const signal = AbortSignal.timeout(30_000)
    const inBucket = await offsiteSegments()
    const keys = [inBucket.get(middle)!, inBucket.get(bases[2]!.wal.start)!]
    const kept = await Promise.all(keys.map((key) => readSmall(repository, key, 64 * 1024 * 1024, signal)))
    await repository.remove(keys, { signal })
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
      expect(sampleValue(text, 'probe_ops_wal_gaps', 'repository="offsite"')).toBe(2)

      // verify of the newest base: its own WAL is missing in the bucket (medium), and both gaps are reported.
      const verified = await run('backup', 'verify', bases[2]!.id)
      expect(verified.result.exitCode).toBe(1)
      const wal = step(verified.report, 'wal')
      expect(wal.status).toBe('failed')
      expect(wal.findings!.find((f) => f.id === 'wal-chain-incomplete:offsite')).toMatchObject({ severity: 'medium' })
      expect(wal.findings!.find((f) => f.id === 'wal-chain-incomplete:local')).toBeUndefined()
      expect(wal.findings!.map((f) => f.id)).toEqual(
        expect.arrayContaining([`wal-gap:local:${middle}`, `wal-gap:offsite:${middle}`, `wal-gap:offsite:${bases[2]!.wal.start}`]),
      )

      // A target past the gap, which no repository can fill: refused before anything changes, naming the windows.
      const rows = await cluster.count()
      const refused = await runCli(['restore', bases[1]!.id, '--mode', 'full', '--target-time', target, '--yes', '--config', config], env())
      expect(refused.exitCode, refused.stdout + refused.stderr).toBe(2)
      expect(refused.stderr).toMatch(
        new RegExp(`--target-time ${target} is past what the WAL archive recovers ${bases[1]!.id} to \\(.*\\): WAL ${middle} \\(1 segment\\) is missing`),
      )
      expect(refused.stderr).toMatch(/the recoverable windows: \S+ \.\. \S+/)
      const pitr = await runCli(['restore', bases[1]!.id, '--mode', 'pitr', '--target-time', target, '--yes', '--config', config], env())
      expect(pitr.exitCode, pitr.stdout + pitr.stderr).toBe(2)
      expect(pitr.stderr).toMatch(new RegExp(`is past what the WAL archive recovers ${bases[1]!.id} to .*: WAL ${middle} \\(1 segment\\) is missing`))
      expect(await cluster.count()).toBe(rows)
    } finally {
      renameSync(aside, localPath)
      for (const [index, key] of keys.entries()) await repository.putBytes(key, kept[index]!, { signal: AbortSignal.timeout(30_000) })
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
    expect(await cluster.count()).toBe(600)

    const timed = await run('restore', bases[1]!.id, '--mode', 'full', '--target-time', target, '--repository', 'offsite', '--yes')
    expect(timed.result.exitCode, JSON.stringify(timed.report.steps, null, 1)).toBe(0)
    expect(await cluster.count()).toBe(300)
  }, 300_000)
})
