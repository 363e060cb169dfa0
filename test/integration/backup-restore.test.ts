import { createServer, type Server } from 'node:http'
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync, truncateSync, existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupManifest } from '../../src/backups/store.js'
import type { Report, StepResult } from '../../src/report/model.js'
import pg from 'pg'
import {
  bed,
  dockerCli,
  runPostgresContainer,
  runSleeperContainer,
  startRefusedPort,
  uniqueName,
  type PostgresContainer,
  type RunningContainer,
} from '../bed/index.js'
import { INDEX_SQL, SCHEMA_SQL, TASK_RESULTS_SQL, referenceDataSql } from '../../src/sandbox/schema.js'
import { parseReport, runCli, runRecords, startCli, writeConfig } from '../helpers/cli.js'
import { mountSmallDisk } from '../helpers/full-disk.js'
import { createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

const pgClient = pg.Client
type pgClient = InstanceType<typeof pg.Client>

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id} in ${report.steps.map((s) => s.id).join(',')}`)
  return found
}

async function counts(database: string): Promise<Record<string, number>> {
  const rows = await sql<{ t: string; n: string }>(
    database,
    `select 'tasks' as t, count(*) as n from tasks union all select 'task_results', count(*) from task_results union all select 'agents', count(*) from agents`,
  )
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]))
}

async function databases(): Promise<string[]> {
  return (await sql<{ datname: string }>('postgres', 'select datname from pg_database')).map((r) => r.datname)
}

/** Processes on this host (a container's too) whose command line holds every one of `parts`. */
function processesWith(...parts: string[]): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmdline: string
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      continue
    }
    if (parts.every((p) => cmdline.includes(p))) found.push(`${pid}: ${cmdline}`)
  }
  return found
}

/**
 * A backup cut by --timeout while pg_dump waits for a lock, the classic way: an ALTER TABLE's lock
 * request queued behind the backup's own snapshot, with pg_dump's LOCK TABLE queued behind it. The
 * run fails saying so and leaves no pg_dump, no server session of its own, and no file; the
 * queued request then gets its lock.
 */
async function expectDumpCutCleanly(
  connect: () => Promise<pgClient>,
  run: (args: string[]) => ReturnType<typeof runCli>,
  backupDir: string,
  dumpArgs: string[],
): Promise<void> {
  const [holder, alterer, lookup] = [await connect(), await connect(), await connect()]
  const waitFor = async (what: string, query: string): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await lookup.query(query)).rows.length > 0) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`never saw: ${what}`)
  }
  const ours = `application_name like 'probe-ops backup %'`
  try {
    // The run's row counts hold task_results and stop at tasks, until the ALTER's request is queued.
    await holder.query('begin; lock table tasks in access exclusive mode')
    const cutting = run(['backup', 'database', '--json', '--timeout', '6'])
    await waitFor('the run counting rows, waiting for tasks', `select 1 from pg_stat_activity where ${ours} and wait_event_type = 'Lock'`)
    const altererPid = (await alterer.query('select pg_backend_pid() as pid')).rows[0].pid as number
    const altering = alterer.query('begin; lock table task_results in access exclusive mode')
    await waitFor('the ALTER-like request queued', `select 1 from pg_stat_activity where pid = ${altererPid} and wait_event_type = 'Lock'`)
    await holder.query('commit')
    await waitFor('pg_dump waiting behind it', `select 1 from pg_stat_activity where ${ours} and query like 'LOCK TABLE%' and wait_event_type = 'Lock'`)
    expect(processesWith('pg_dump', ...dumpArgs)).toHaveLength(1)

    const cut = await cutting
    expect(cut.exitCode, cut.stdout + cut.stderr).toBe(1)
    expect(step(parseReport(cut), 'dump').summary).toMatch(/timed out: the job's --timeout of 6 s ran out/)
    await altering
    expect((await lookup.query(`select pid from pg_stat_activity where ${ours}`)).rows).toEqual([])
    for (let i = 0; i < 50 && processesWith('pg_dump', ...dumpArgs).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(processesWith('pg_dump', ...dumpArgs)).toEqual([])
    expect(existsSync(backupDir) ? readdirSync(backupDir) : []).toEqual([])
  } finally {
    for (const c of [holder, alterer, lookup]) await c.end().catch(() => undefined)
  }
}

describe('backups and restores against real PostgreSQL', () => {
  let template: string
  const created: string[] = []
  const containers: RunningContainer[] = []
  let management: string
  let health: Server
  let healthUrl: string
  let healthy = true
  /** When set, decides the management health instead of `healthy` (e.g. up only on the right data). */
  let healthyWhen: (() => Promise<boolean>) | undefined

  beforeAll(async () => {
    template = await createPlatformDatabase(databaseName('br_tpl'), { days: 30, rowsPerDay: 200 })
    created.push(template)
    management = uniqueName('management')
    containers.push(await runSleeperContainer(bed().docker, { name: management }))
    health = createServer((_req, res) => {
      void (healthyWhen ? healthyWhen().catch(() => false) : Promise.resolve(healthy)).then((up) => res.writeHead(up ? 200 : 503).end())
    })
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve))
    healthUrl = `http://127.0.0.1:${(health.address() as { port: number }).port}/api/v1/health`
  })

  afterAll(async () => {
    health?.close()
    for (const c of containers) await c.remove()
    for (const name of await databases()) if (created.some((c) => name.startsWith(c))) await dropDatabase(name)
  })

  async function platform(): Promise<string> {
    const name = databaseName('br')
    await sql('postgres', `create database ${name} template ${template}`)
    created.push(name)
    return name
  }

  function setup(database: string, extra: Record<string, unknown> = {}) {
    const {
      backup,
      postgres: pgOverride,
      restore,
      ...rest
    } = extra as { backup?: Record<string, unknown>; postgres?: Record<string, unknown>; restore?: Record<string, unknown> }
    const backupDir = (backup?.dir as string | undefined) ?? join(tempDir('br'), 'backups')
    const { postgres } = bed()
    const cfg = writeConfig({
      postgres: { host: postgres.host, port: postgres.port, user: postgres.user, database, ...pgOverride },
      docker: { host: bed().docker.host },
      services: {
        web: { enabled: false },
        postgres: { enabled: false },
        redis: { enabled: false },
        management: { container: management, url: healthUrl, dependsOn: [], readinessTimeoutSeconds: 5, stopGraceSeconds: 1 },
      },
      backup: { configPaths: [join(tempDir('etc'), 'missing'), '/etc/hostname'], ...backup, dir: backupDir },
      restore: { reserveBytes: 0, ...restore },
      ...rest,
    })
    const env = { PGPASSWORD: postgres.password }
    const run = (args: string[], moreEnv: Record<string, string> = {}) => runCli([...args, '--config', cfg.path], { ...env, ...moreEnv })
    return { ...cfg, backupDir, run }
  }

  async function takeBackup(s: ReturnType<typeof setup>): Promise<{ id: string; manifest: BackupManifest }> {
    const result = await s.run(['backup', 'database', '--json'])
    expect(result.exitCode, result.stdout + result.stderr).toBe(0)
    const id = step(parseReport(result), 'dump').data!.id as string
    return { id, manifest: JSON.parse(readFileSync(join(s.backupDir, `${id}.manifest.json`), 'utf8')) }
  }

  it('writes a private, checksummed dump with a manifest of exact row counts', async () => {
    const database = await platform()
    const s = setup(database)
    const result = await s.run(['backup', 'database', '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    const { id } = step(report, 'dump').data as { id: string }
    const manifest = JSON.parse(readFileSync(join(s.backupDir, `${id}.manifest.json`), 'utf8')) as BackupManifest
    const live = await counts(database)
    expect(manifest).toMatchObject({ kind: 'database', format: 'custom', database, reason: 'manual' })
    expect(manifest.serverVersion).toMatch(/^15\./)
    expect(manifest.tables!.find((t) => t.name === 'public.task_results')!.rows).toBe(live.task_results)
    const { createHash } = await import('node:crypto')
    const data = readFileSync(join(s.backupDir, manifest.data))
    expect(createHash('sha256').update(data).digest('hex')).toBe(manifest.sha256)
    expect(data.subarray(0, 5).toString()).toBe('PGDMP')
    expect(statSync(s.backupDir).mode & 0o777).toBe(0o700)
    for (const name of readdirSync(s.backupDir)) expect(statSync(join(s.backupDir, name)).mode & 0o777, name).toBe(0o600)
    expect(result.stdout + readFileSync(join(s.backupDir, `${id}.manifest.json`), 'utf8')).not.toContain(bed().postgres.password)
  })

  it('leaves nothing behind when the dump fails', async () => {
    const refused = await startRefusedPort()
    const down = setup('network_probe', { postgres: { port: refused } })
    const failed = await down.run(['backup', 'database', '--json'])
    expect(failed.exitCode).toBe(1)
    expect(step(parseReport(failed), 'dump').summary).toMatch(/refused the connection/)
    expect(existsSync(down.backupDir) ? readdirSync(down.backupDir) : []).toEqual([])
  })

  /** task_results grown by random (incompressible) results: a dump of several MB even compressed. */
  async function grow(database: string, rows = 150_000): Promise<void> {
    await sql(
      database,
      `insert into task_results (task_id, agent_id, execution_time, status, result) select 1, 1, now(), 'success', jsonb_build_object('noise', md5(random()::text) || md5(random()::text)) from generate_series(1, ${rows})`,
    )
  }

  /** A run that met the full disk: exit 1, the failed step says so in words, and the report, log and metrics say failed. */
  function expectFullDiskFailure(s: ReturnType<typeof setup>, result: Awaited<ReturnType<typeof runCli>>, command: string, stepId: string): void {
    expect(result.exitCode, result.stdout + result.stderr).toBe(1)
    expect(result.stderr).not.toMatch(/ENOSPC|internal error|at .*\.js:\d+/)
    const report = parseReport(result)
    expectValidReport(report)
    const failed = step(report, stepId)
    expect(failed.status).toBe('failed')
    expect(failed.summary).toMatch(/the disk of .* is full \(no space left on device\)/)
    expect(failed.error!.hint).toMatch(/free space/)
    const { log, metrics } = runRecords(s.dir, command)
    expect(log.some((l) => l.step === stepId && l.level === 'error' && /is full \(no space left on device\)/.test(l.message))).toBe(true)
    expect(metrics).toContain(`probe_ops_job_status{job="${command}"} 2`)
  }

  it('fails a backup that fills its disk as a failed step, with report, log and metrics, and keeps no partial file', async () => {
    const database = await platform()
    await grow(database)
    const disk = await mountSmallDisk('2m')
    try {
      const s = setup(database, { backup: { dir: disk.dir } })
      const dumped = await s.run(['backup', 'database', '--json'])
      expectFullDiskFailure(s, dumped, 'backup database', 'dump')
      expect(readdirSync(disk.dir)).toEqual([])
      const text = await s.run(['backup', 'database'])
      expect(text.exitCode).toBe(1)
      expect(text.stdout).toMatch(/dump.*is full \(no space left on device\)/)
      expect(readdirSync(disk.dir)).toEqual([])

      // pg_dump writing a directory itself: the same failure, the same cleanup.
      const directory = setup(database, { backup: { dir: disk.dir, format: 'directory', jobs: 2 } })
      expectFullDiskFailure(directory, await directory.run(['backup', 'database', '--json']), 'backup database', 'dump')
      expect(readdirSync(disk.dir)).toEqual([])

      // tar's archive of the configuration.
      const etc = tempDir('etc-big')
      writeFileSync(join(etc, 'noise'), randomBytes(3 * 1024 * 1024))
      const archive = setup(database, { backup: { dir: disk.dir, configPaths: [etc] } })
      expectFullDiskFailure(archive, await archive.run(['backup', 'config', '--json']), 'backup config', 'archive')
      expect(readdirSync(disk.dir)).toEqual([])
    } finally {
      await disk.unmount()
    }
  })

  it('stops a restore whose safety backup fills the disk before anything changes', async () => {
    const database = await platform()
    const disk = await mountSmallDisk('2m')
    try {
      const s = setup(database, { backup: { dir: disk.dir } })
      const { id } = await takeBackup(s)
      await grow(database)
      const live = await counts(database)
      // The disk check estimates from the backup's compression and would refuse; something else
      // filling the disk meanwhile is what the dump itself must survive.
      const result = await s.run(['restore', id, '--yes', '--json', '--skip', 'disk'])
      expectFullDiskFailure(s, result, 'restore full', 'safety-backup')
      expect(step(parseReport(result), 'swap').status).toBe('skipped')
      expect(await counts(database)).toEqual(live)
      // The backup taken first wrote the repository file: the failed safety dump left nothing beside it.
      expect(readdirSync(disk.dir).filter((n) => !n.startsWith(id))).toEqual(['probe-ops-repository.json'])
      expect((await databases()).filter((d) => d.startsWith(`${database}_`))).toEqual([])
    } finally {
      await disk.unmount()
    }
  })

  it('ends pg_dump and its server sessions when --timeout cuts a dump that waits for a lock', async () => {
    const database = await platform()
    const s = setup(database)
    const { postgres } = bed()
    const connect = async () => {
      const c = new pgClient({ host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password, database })
      await c.connect()
      return c
    }
    await expectDumpCutCleanly(connect, s.run, s.backupDir, ['-d', database])
  })

  it('dumps in directory format with parallel jobs, and verifies it', async () => {
    const s = setup(await platform(), { backup: { dir: join(tempDir('brd'), 'b'), format: 'directory', jobs: 2, configPaths: ['/etc/hostname'] } })
    const result = await s.run(['backup', 'database', '--json'])
    expect(result.exitCode, result.stdout).toBe(0)
    const id = step(parseReport(result), 'dump').data!.id as string
    const verified = await s.run(['backup', 'verify', id, '--restore-test', '--json'])
    expect(verified.exitCode, verified.stdout).toBe(0)
    expect(parseReport(verified).steps.map((x) => x.status)).toEqual(['ok', 'ok', 'ok', 'skipped'])
    // Named by its directory (absolute, relative, a trailing slash or not) or its manifest, in every mode.
    const data = step(parseReport(result), 'dump').data!.path as string
    const names = [data, `${data}/`, `b/${basename(data)}/`, join(s.backupDir, `${id}.manifest.json`)]
    for (const [name, mode] of names.flatMap(
      (n) =>
        [
          [n, ['--mode', 'full']],
          [n, ['--mode', 'partial', '--table', 'tasks']],
        ] as const,
    )) {
      const dry = await runCli(
        ['restore', name, ...mode, '--dry-run', '--json', '--config', s.path],
        { PGPASSWORD: bed().postgres.password },
        dirname(s.backupDir),
      )
      expect(dry.exitCode, `${name} ${mode.join(' ')}: ${dry.stdout}${dry.stderr}`).toBe(0)
      expect(step(parseReport(dry), 'verify').data!.id, name).toBe(id)
    }
  })

  it('archives the configuration, warning about paths that do not exist', async () => {
    const s = setup(await platform())
    const result = await s.run(['backup', 'config', '--json'])
    expect(result.exitCode).toBe(0)
    const archive = step(parseReport(result), 'archive')
    expect(archive.status).toBe('warning')
    const listing = await execa('tar', ['-tzf', archive.data!.path as string])
    expect(listing.stdout.split('\n')).toEqual(['etc/hostname'])
  })

  it('verifies by checksum, archive and a test restore, records it, and catches corruption', async () => {
    const database = await platform()
    const s = setup(database)
    const { id, manifest } = await takeBackup(s)
    // `latest`: the newest dump of the configured database, named in the report.
    const good = await s.run(['backup', 'verify', 'latest', '--restore-test', '--json'])
    expect(good.exitCode, good.stdout).toBe(0)
    expect(step(parseReport(good), 'checksum').summary).toMatch(new RegExp(`^${id}: sha256 matches`))
    const test = step(parseReport(good), 'restore-test')
    expect(test.summary).toMatch(/row counts match the manifest/)
    expect((await databases()).filter((d) => d.startsWith('probe_ops_verify_'))).toEqual([])

    const data = join(s.backupDir, manifest.data)
    const bytes = readFileSync(data)
    const at = bytes.length - 10
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at)
    writeFileSync(data, bytes)
    const corrupt = await s.run(['backup', 'verify', id, '--json'])
    expect(corrupt.exitCode).toBe(1)
    expect(parseReport(corrupt).steps.map((x) => x.status)).toEqual(['failed', 'skipped', 'skipped', 'skipped'])
    expect(step(parseReport(corrupt), 'checksum').summary).toMatch(/does not match its checksum/)
    truncateSync(data, 100)
    const truncated = await s.run(['backup', 'verify', id, '--json'])
    expect(step(parseReport(truncated), 'checksum').summary).toMatch(/is 100 bytes, its manifest says \d+: truncated/)
    const list = await s.run(['backup', 'list', '--json'])
    expectValidReport(parseReport(list))
    const listed = (step(parseReport(list), 'list').data!.backups as { id: string; path: string; manifest: string; lastVerification: { ok: boolean } }[]).find(
      (b) => b.id === id,
    )!
    expect(listed.lastVerification.ok).toBe(false)
    // Its files, so that a script need not rebuild their names.
    expect(listed.path).toBe(data)
    expect(JSON.parse(readFileSync(listed.manifest, 'utf8'))).toMatchObject({ id, data: manifest.data })
    const unknown = await s.run(['backup', 'verify', 'nope'])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/no backup "nope"/)
    const none = await setup(`${database}_other`, { backup: { dir: s.backupDir } }).run(['backup', 'verify', 'latest'])
    expect(none.exitCode).toBe(2)
    expect(none.stderr).toMatch(/no dump of database .*_other in .*\n\s+take one first: probe-ops backup database/)
  })

  /** A platform database, a backup of it, and a third of its results deleted since. */
  async function backedUpAndChanged() {
    const database = await platform()
    const s = setup(database)
    const { id } = await takeBackup(s)
    const atBackup = await counts(database)
    await sql(database, `delete from task_results where id % 3 = 0`)
    return { database, s, id, atBackup, changed: await counts(database) }
  }

  it('restores in full beside the live database, swaps, and keeps the old one', async () => {
    const { database, s, id, atBackup, changed } = await backedUpAndChanged()
    const before = (await dockerCli(bed().docker, ['inspect', '-f', '{{.State.StartedAt}}', management])).stdout.trim()

    const refused = await s.run(['restore', id, '--mode', 'full'])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toMatch(/pass --yes to confirm/)
    expect(await counts(database)).toEqual(changed)

    const result = await s.run(['restore', 'latest', '--mode', 'full', '--yes', '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((x) => x.id)).toEqual(['verify', 'disk', 'safety-backup', 'restore', 'check', 'swap'])
    expect(step(report, 'verify').summary).toContain(id)
    // The restore's safety backup is now the newest dump; `latest` still names the backup taken by `backup database`.
    const latest = await s.run(['backup', 'verify', 'latest', '--json'])
    expect(step(parseReport(latest), 'checksum').summary).toMatch(new RegExp(`^${id}: `))
    expect(await counts(database)).toEqual(atBackup)
    const swap = step(report, 'swap').data as { preRestore: string; downtimeMs: number }
    expect(await counts(swap.preRestore)).toEqual(changed)
    created.push(swap.preRestore)
    expect(swap.downtimeMs).toBeGreaterThan(0)
    // The management service was stopped and started again through Docker.
    expect((await dockerCli(bed().docker, ['inspect', '-f', '{{.State.StartedAt}}', management])).stdout.trim()).not.toBe(before)

    const list = await s.run(['backup', 'list', '--json'])
    const listed = step(parseReport(list), 'list')
    expect((listed.data!.backups as { reason: string }[]).map((b) => b.reason).sort()).toEqual(['manual', 'safety'])
    expect(listed.data!.databaseLeftovers).toEqual([expect.objectContaining({ database: swap.preRestore, kind: 'pre-restore' })])
  })

  it('rolls the swap back when the platform does not come up on the restored database', async () => {
    const database = await platform()
    const s = setup(database)
    const { id } = await takeBackup(s)
    await sql(database, `delete from task_results where id % 2 = 0`)
    const changed = await counts(database)
    healthy = false
    try {
      const result = await s.run(['restore', id, '--yes', '--json'])
      expect(result.exitCode).toBe(1)
      const swap = step(parseReport(result), 'swap')
      expect(swap.summary).toMatch(/not ready after the swap.*the swap was rolled back/)
      expect(await counts(database)).toEqual(changed)
    } finally {
      healthy = true
    }
    const cleanup = await s.run(['restore', '--cleanup', '--json'])
    expect(cleanup.exitCode).toBe(0)
    expect(step(parseReport(cleanup), 'cleanup').summary).toMatch(/drop database .*_restore_/)
    expect((await databases()).filter((d) => d.startsWith(`${database}_restore_`))).toEqual([])

    // Killed in the middle of that rollback (services stopped, the restored database still live):
    // cleanup finishes it, then starts the platform on the database of before.
    healthy = false
    try {
      const killed = await s.run(['restore', id, '--yes', '--json'], { PROBE_OPS_FAILPOINT: 'restore-swap-rolling-back' })
      expect(killed.exitCode).toBe(-1)
      expect(await counts(database)).not.toEqual(changed)
    } finally {
      healthy = true
    }
    const finished = await s.run(['restore', '--cleanup', '--json'])
    expect(finished.exitCode, finished.stdout).toBe(0)
    expect(step(parseReport(finished), 'cleanup').summary).toMatch(
      /^finish the interrupted rollback: .*_pre_restore_.* takes the name .* again.*; start management, stopped by an interrupted restore/,
    )
    expect(await counts(database)).toEqual(changed)

    // Killed just after the swap, before the platform came up: cleanup starts it, and as it comes
    // up only on the database of before, rolls the swap back as the restore would have.
    healthyWhen = async () => (await counts(database)).task_results === changed.task_results
    try {
      const afterSwap = await s.run(['restore', id, '--yes', '--json'], { PROBE_OPS_FAILPOINT: 'restore-swap-swapped' })
      expect(afterSwap.exitCode).toBe(-1)
      expect(await counts(database)).not.toEqual(changed)
      const rolledBack = await s.run(['restore', '--cleanup', '--json'])
      expect(rolledBack.exitCode, rolledBack.stdout).toBe(0)
      expect(step(parseReport(rolledBack), 'cleanup').summary).toMatch(
        /^roll the swap back, since the platform did not come up on the restored database .*; start management, stopped by an interrupted restore/,
      )
      expect(await counts(database)).toEqual(changed)
    } finally {
      healthyWhen = undefined
    }
  })

  it('refuses a corrupt backup, a dump of another database and a full disk, and the live database is unchanged', async () => {
    const database = await platform()
    const s = setup(database)
    const { id, manifest } = await takeBackup(s)
    await sql(database, `delete from task_results where id % 5 = 0`)
    const changed = await counts(database)

    const small = setup(database, { backup: { dir: s.backupDir }, restore: { reserveBytes: 1e15 } })
    const full = await small.run(['restore', id, '--yes', '--json'])
    expect(full.exitCode).toBe(1)
    expect(step(parseReport(full), 'disk').summary).toMatch(/the safety backup and the restored copy need about .* must keep/)
    expect(step(parseReport(full), 'safety-backup').status).toBe('skipped')

    const other = setup(template, { backup: { dir: s.backupDir } })
    const wrongDatabase = await other.run(['restore', id, '--yes', '--json'])
    expect(wrongDatabase.exitCode).toBe(1)
    expect(step(parseReport(wrongDatabase), 'verify').summary).toBe(`${id} is a dump of database "${database}", not of "${template}"`)

    const unknown = await s.run(['restore', 'database-nope', '--yes', '--json'])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/database-nope.*\n.*probe-ops backup list/)

    const refused = await startRefusedPort()
    const down = setup(database, { backup: { dir: s.backupDir }, postgres: { port: refused } })
    const noServer = await down.run(['restore', id, '--yes', '--json'])
    expect(noServer.exitCode).toBe(1)
    // Both steps that run together meet the refusal; the first to fail stops the other.
    const failures = ['safety-backup', 'restore'].map((id) => step(parseReport(noServer), id).summary)
    expect(
      failures.some((f) => /refused the connection/.test(f)),
      failures.join(' | '),
    ).toBe(true)
    expect(step(parseReport(noServer), 'swap').status).toBe('skipped')

    const data = join(s.backupDir, manifest.data)
    const whole = readFileSync(data)
    truncateSync(data, Math.floor(whole.length / 2))
    const truncated = await s.run(['restore', id, '--yes', '--json'])
    expect(truncated.exitCode).toBe(1)
    expect(step(parseReport(truncated), 'verify').summary).toMatch(/truncated or changed/)
    const flipped = Buffer.from(whole)
    flipped[flipped.length - 10] = flipped[flipped.length - 10]! ^ 0xff
    writeFileSync(data, flipped)
    const mismatch = await s.run(['restore', id, '--yes', '--json'])
    expect(mismatch.exitCode).toBe(1)
    expect(step(parseReport(mismatch), 'verify').summary).toMatch(/does not match its checksum/)
    expect(step(parseReport(mismatch), 'restore').status).toBe('skipped')
    rmSync(data)
    const missing = await s.run(['restore', id, '--yes', '--json'])
    expect(missing.exitCode).toBe(1)
    expect(step(parseReport(missing), 'verify').summary).toBe(`the data of backup ${id} is missing: ${data}`)
    expect(await counts(database)).toEqual(changed)

    // Not a dump at all, with a manifest that vouches for it.
    const { createHash } = await import('node:crypto')
    const garbage = Buffer.from('this is not a pg_dump archive\n'.repeat(10))
    writeFileSync(join(s.backupDir, manifest.data), garbage)
    writeFileSync(
      join(s.backupDir, `${id}.manifest.json`),
      JSON.stringify({ ...manifest, bytes: garbage.length, sha256: createHash('sha256').update(garbage).digest('hex') }),
    )
    const notADump = await s.run(['restore', id, '--yes', '--json'])
    expect(notADump.exitCode).toBe(1)
    expect(step(parseReport(notADump), 'verify').summary).toMatch(/is not a readable pg_dump archive/)
    expect(await counts(database)).toEqual(changed)
    expect((await databases()).filter((d) => d.startsWith(`${database}_`))).toEqual([])
  })

  it('survives kill -9 in the middle of a restore: the live database stays whole, cleanup finds the rest', async () => {
    const database = await platform()
    await sql(database, `insert into task_results (task_id, agent_id, execution_time, status) select 1, 1, now(), 'success' from generate_series(1, 300000)`)
    const s = setup(database)
    const { id } = await takeBackup(s)
    const live = await counts(database)
    const root = join(import.meta.dirname, '../..')
    const child = execa(process.execPath, [join(root, 'bin/run.js'), 'restore', id, '--yes', '--config', s.path], {
      env: { PGPASSWORD: bed().postgres.password },
      reject: false,
    })
    for (let i = 0; i < 300; i++) {
      if ((await databases()).some((d) => d.startsWith(`${database}_restore_`))) break
      await new Promise((r) => setTimeout(r, 20))
    }
    child.kill('SIGKILL')
    await child
    expect(await counts(database)).toEqual(live)
    const list = await s.run(['backup', 'list', '--json'])
    const leftovers = step(parseReport(list), 'list').data!.databaseLeftovers as { kind: string }[]
    expect(leftovers.map((l) => l.kind)).toContain('unfinished-restore')
    const cleanup = await s.run(['restore', '--cleanup', '--json'])
    expect(cleanup.exitCode).toBe(0)
    expect((await databases()).filter((d) => d.startsWith(`${database}_restore_`))).toEqual([])

    // Killed with the platform stopped for the swap: the live database is untouched, backup list
    // says the services may be down, and cleanup starts them again.
    const swapKilled = await s.run(['restore', id, '--yes', '--json'], { PROBE_OPS_FAILPOINT: 'restore-swap-services-stopped' })
    expect(swapKilled.exitCode).toBe(-1)
    expect(await counts(database)).toEqual(live)
    await expectCleanupStartsManagement(s)
    expect(parseReport(await s.run(['backup', 'list', '--json'])).steps[0]!.status).toBe('ok')
  })

  /** Management left stopped by a restore cut during its swap: backup list says so, and restore --cleanup starts it. */
  async function expectCleanupStartsManagement(s: ReturnType<typeof setup>): Promise<void> {
    expect(await managementRunning()).toBe('false')
    const listed = await s.run(['backup', 'list', '--json'])
    expect(step(parseReport(listed), 'list').error!.message).toMatch(/a restore stopped management for its swap and was interrupted/)
    const restarted = await s.run(['restore', '--cleanup', '--json'])
    expect(restarted.exitCode, restarted.stdout).toBe(0)
    expect(step(parseReport(restarted), 'cleanup').summary).toMatch(
      /start management, stopped by an interrupted restore: management ready after [\d.]+ m?s \(.* answered 200 .*\); drop database .*_restore_/,
    )
    expect(await managementRunning()).toBe('true')
  }

  /** Whether the management container runs ("true"/"false", as docker inspect says). */
  async function managementRunning(): Promise<string> {
    return (await dockerCli(bed().docker, ['inspect', '-f', '{{.State.Running}}', management])).stdout.trim()
  }

  it('restore --cleanup after a kill while the platform was starting returns only once it answers its health check', async () => {
    const database = await platform()
    const s = setup(database)
    const { id } = await takeBackup(s)
    const killed = await s.run(['restore', id, '--yes', '--json'], { PROBE_OPS_FAILPOINT: 'restore-swap-starting' })
    expect(killed.exitCode).toBe(-1)
    // Its container runs again, but the platform comes up slowly: its first health checks fail.
    let checks = 0
    healthyWhen = async () => ++checks > 2
    try {
      const cleanup = await s.run(['restore', '--cleanup', '--json'])
      expect(cleanup.exitCode, cleanup.stdout).toBe(0)
      // The health check right after cleanup returns: the platform answers.
      expect((await fetch(healthUrl)).status).toBe(200)
      const done = step(parseReport(cleanup), 'cleanup')
      expect(done.summary).toMatch(/^management ready after [\d.]+ m?s \(.* answered 200 .*\): the interrupted restore's note is removed/)
      expect(done.data!.services).toEqual([expect.objectContaining({ service: 'management', action: 'found running', ready: true })])
    } finally {
      healthyWhen = undefined
    }
    // The note is gone: nothing says the platform may be down any more.
    expect(JSON.stringify(parseReport(await s.run(['backup', 'list', '--json'])).steps[0])).not.toMatch(/a restore stopped management/)
  })

  /**
   * A platform database, a backup of it, rows deleted since, and a full restore of the backup
   * held at the pause point `at` (until `pause`, the file it holds on, is removed), to be
   * signalled there.
   */
  async function restoreHeldAt(at: string, extra: string[] = []) {
    const { database, s, id, atBackup, changed: live } = await backedUpAndChanged()
    const pause = join(tempDir('pause'), at)
    const run = startCli(['restore', id, '--yes', '--json', ...extra, '--config', s.path], {
      PGPASSWORD: bed().postgres.password,
      PROBE_OPS_PAUSE: `${at}:${pause}`,
    })
    await run.pausedAt(pause)
    return { database, s, id, atBackup, live, pause, run }
  }

  for (const [signal, at] of [
    ['SIGINT', 'restore-swap-services-stopped'],
    ['SIGTERM', 'restore-swap-swapped'],
    ['SIGHUP', 'restore-swap-services-stopped'],
  ] as const) {
    it(`lets the swap finish when ${signal} comes during it, then reports the run as interrupted`, async () => {
      const { database, s, atBackup, pause, run } = await restoreHeldAt(at)
      expect(await managementRunning()).toBe('false')
      run.kill(signal)
      await run.said(new RegExp(`${signal} came during the swap: letting it end first`))
      rmSync(pause)
      const result = await run.result
      expect(result.exitCode, result.stdout + result.stderr).toBe(1)
      const report = parseReport(result)
      expectValidReport(report)
      expect(report).toMatchObject({ status: 'failed', interrupted: { by: signal } })
      expect(step(report, 'swap')).toMatchObject({
        status: 'ok',
        summary: expect.stringMatching(new RegExp(`^${database} is the restored database.*\\(${signal} came during the swap, which was let end first\\)$`)),
      })
      created.push((step(report, 'swap').data as { preRestore: string }).preRestore)
      expect(await managementRunning()).toBe('true')
      expect((step(report, 'swap').data as { timeline: { event: string }[] }).timeline.at(-1)!.event).toBe('management ready')
      expect(await counts(database)).toEqual(atBackup)
      expect(runRecords(s.dir, 'restore full').log.at(-1)!.message).toMatch(new RegExp(`^restore full: failed \\(interrupted by ${signal}\\)`))
      // Nothing left for --cleanup but the database kept from before, as after any restore.
      const listed = await s.run(['backup', 'list', '--json'])
      const findings = step(parseReport(listed), 'list').findings ?? []
      expect(findings.map((f) => f.message).filter((m) => !m.includes('_pre_restore_'))).toEqual([])
    })
  }

  it('leaves no partial dump and no restored copy when SIGINT comes while the safety backup and the copy are made', async () => {
    const { database, s, id, live, pause, run } = await restoreHeldAt('backup-writing')
    expect(readdirSync(s.backupDir).filter((n) => n.startsWith('.partial-'))).toHaveLength(1)
    run.kill('SIGINT')
    await run.said(/SIGINT: stopping restore full/)
    rmSync(pause)
    const result = await run.result
    expect(result.exitCode, result.stdout + result.stderr).toBe(1)
    const report = parseReport(result)
    expectValidReport(report)
    expect(report.interrupted).toMatchObject({ by: 'SIGINT' })
    expect(step(report, 'safety-backup')).toMatchObject({ status: 'failed', summary: 'interrupted by SIGINT' })
    expect(step(report, 'swap').status).toBe('skipped')
    expect(readdirSync(s.backupDir).filter((n) => !n.startsWith(id))).toEqual(['probe-ops-repository.json'])
    expect(
      (await databases()).filter((d) => d.startsWith(`${database}_`)),
      JSON.stringify(report.steps),
    ).toEqual([])
    expect(await counts(database)).toEqual(live)
    expect(await managementRunning()).toBe('true')
  })

  it('exits at once on a second SIGINT during the swap, and restore --cleanup repairs what it left', async () => {
    const { database, s, live, pause, run } = await restoreHeldAt('restore-swap-services-stopped')
    run.kill('SIGINT')
    await run.said(/SIGINT came during the swap: letting it end first/)
    run.kill('SIGINT')
    // The pause is never lifted: the run exits with the swap held half way, as a real second Ctrl-C would leave it.
    const result = await run.result
    expect(existsSync(pause)).toBe(true)
    expect(result.exitCode, result.stdout + result.stderr).toBe(1)
    expect(result.stderr).toMatch(/SIGINT again: exiting at once; .*restore --cleanup finishes or undoes it/)
    const report = parseReport(result)
    expectValidReport(report)
    expect(step(report, 'swap')).toMatchObject({ status: 'failed', summary: 'cut by a second SIGINT: probe-ops exited while it ran' })
    await expectCleanupStartsManagement(s)
    expect(await counts(database)).toEqual(live)
    rmSync(pause)
  })

  it('holds the lock past --timeout while the swap it let run still runs', async () => {
    const { database, s, atBackup, pause, run } = await restoreHeldAt('restore-swap-services-stopped', ['--timeout', '30', '--skip', 'safety-backup'])
    await run.said(/the job's --timeout of 30 s ran out during the swap: letting it end first/)
    // The report is not out yet and the step still runs: another restore must wait.
    const second = await s.run(['restore', '--cleanup', '--json'])
    expect(second.exitCode, second.stdout + second.stderr).toBe(3)
    rmSync(pause)
    const result = await run.result
    expect(result.exitCode).toBe(1)
    const report = parseReport(result)
    expect(report.interrupted).toMatchObject({ by: 'timeout' })
    expect(step(report, 'swap')).toMatchObject({
      status: 'ok',
      summary: expect.stringMatching(/\(the job's --timeout of 30 s ran out during the swap, which was let end first\)$/),
    })
    created.push((step(report, 'swap').data as { preRestore: string }).preRestore)
    expect(await managementRunning()).toBe('true')
    expect(await counts(database)).toEqual(atBackup)
    expect((await s.run(['restore', '--cleanup', '--json'])).exitCode).toBe(0)
  }, 150_000)

  async function databaseProperties(database: string) {
    const [db] = await sql<{ owner: string; acl: string | null; limit: number; comment: string | null }>(
      'postgres',
      `select pg_get_userbyid(datdba) as owner, datacl::text as acl, datconnlimit as limit, shobj_description(oid, 'pg_database') as comment from pg_database where datname = '${database}'`,
    )
    const settings = await sql<{ role: string | null; setting: string }>(
      'postgres',
      `select case when setrole = 0 then null else pg_get_userbyid(setrole) end as role, unnest(setconfig) as setting from pg_db_role_setting where setdatabase = (select oid from pg_database where datname = '${database}') order by 1 nulls first, 2`,
    )
    const owners = await sql<{ name: string; owner: string }>(
      database,
      `select relname as name, pg_get_userbyid(relowner) as owner from pg_class where relname in ('tasks', 'task_results') order by 1`,
    )
    return { ...db, settings, owners }
  }

  it('gives the restored database its owners, privileges, locale and settings back', async () => {
    const database = await platform()
    const app = uniqueName('app').replaceAll('-', '_')
    // A role name with a dot (LDAP-synced roles) and a double quote: one identifier each.
    const reader = `Rea"der.${uniqueName('x')}`
    const q = (name: string) => `"${name.replaceAll('"', '""')}"`
    await sql('postgres', `create role ${app} login password 'x'; create role ${q(reader)} login password 'x'`)
    try {
      await sql(
        'postgres',
        `alter database ${database} owner to ${app}; revoke all on database ${database} from public; grant connect on database ${database} to ${q(reader)}; alter database ${database} set work_mem = '64MB'; alter database ${database} set search_path = "$user", public, "Odd ""Schema"""; alter role ${q(reader)} in database ${database} set statement_timeout = '5s'; alter database ${database} connection limit 40; comment on database ${database} is 'the platform''s data'`,
      )
      await sql(database, `alter table tasks owner to ${app}; alter table task_results owner to ${app}; grant select on tasks to ${q(reader)}`)
      const s = setup(database)
      const { id, manifest } = await takeBackup(s)
      expect(manifest.databaseProperties).toMatchObject({ owner: app, connectionLimit: 40, comment: "the platform's data" })
      const before = await databaseProperties(database)
      await sql(database, `delete from task_results where id % 3 = 0`)

      const result = await s.run(['restore', id, '--yes', '--json'])
      const report = parseReport(result)
      expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
      expect(step(report, 'restore').summary).toMatch(new RegExp(`owned by ${app}; privileges and 3 settings from the backup`))
      const after = await databaseProperties(database)
      expect(after).toEqual(before)
      expect(after.acl).toContain(`${reader.replaceAll('"', '\\"\\"')}\\"=c/${app}`)
      expect(after.acl).not.toMatch(/(^|[{,])=/)
      // The reader can read again what it could read before.
      const { postgres } = bed()
      const asReader = await execa(
        '/usr/lib/postgresql/15/bin/psql',
        ['-h', postgres.host, '-p', String(postgres.port), '-U', reader, '-d', database, '-Atc', 'select count(*) > 0 from tasks'],
        { env: { PGPASSWORD: 'x' }, reject: false },
      )
      expect(asReader.stdout.trim(), asReader.stderr).toBe('t')
      const preRestore = (step(report, 'swap').data as { preRestore: string }).preRestore
      created.push(preRestore)

      // A server without the owner's role: refused before anything is created, unless told to do without.
      await sql('postgres', `alter role ${app} rename to ${app}_gone`)
      try {
        const refused = await s.run(['restore', id, '--yes', '--json'])
        expect(refused.exitCode).toBe(1)
        const failed = step(parseReport(refused), 'restore')
        expect(failed.summary).toBe(`the backup gives objects or privileges to role ${app}, which does not exist on this server`)
        expect(failed.error!.hint).toMatch(/--no-owner --no-privileges/)
        expect(['ok', 'failed']).toContain(step(parseReport(refused), 'safety-backup').status)
        expect((await databases()).filter((d) => d.startsWith(`${database}_restore_`))).toEqual([])
        expect(readdirSync(s.backupDir).filter((n) => n.startsWith('.partial-'))).toEqual([])

        const without = await s.run(['restore', id, '--yes', '--json', '--no-owner', '--no-privileges'])
        expect(without.exitCode, without.stdout).toBe(0)
        created.push((step(parseReport(without), 'swap').data as { preRestore: string }).preRestore)
        const bare = await databaseProperties(database)
        expect(bare.owner).toBe(postgres.user)
        expect(bare.owners.map((o) => o.owner)).toEqual([postgres.user, postgres.user])
        expect(bare.settings).toEqual(before.settings)
        expect(bare.acl).toBeNull()
      } finally {
        await sql('postgres', `alter role ${app}_gone rename to ${app}`)
      }
    } finally {
      for (const name of await databases()) if (name.startsWith(database)) await dropDatabase(name)
      await sql('postgres', `drop role if exists ${app}; drop role if exists ${q(reader)}`)
    }
  })

  it('restores when the live database is gone (the disaster case), without a safety backup', async () => {
    const database = await platform()
    const s = setup(database)
    const { id } = await takeBackup(s)
    const atBackup = await counts(database)
    await dropDatabase(database)

    const result = await s.run(['restore', id, '--yes', '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.status).toBe('warning')
    expect(step(report, 'safety-backup')).toMatchObject({
      status: 'warning',
      summary: `there is no database ${database} to back up: restoring without a safety backup`,
    })
    expect(step(report, 'disk').status).toBe('ok')
    expect(step(report, 'swap').summary).toMatch(new RegExp(`^${database} is the restored database; there was no ${database} before`))
    expect(await counts(database)).toEqual(atBackup)
    expect((await databases()).filter((d) => d.startsWith(`${database}_`))).toEqual([])

    // The platform does not come up on it: with nothing to go back to, the restored database stays.
    await dropDatabase(database)
    healthy = false
    try {
      const down = await s.run(['restore', id, '--yes', '--json'])
      expect(down.exitCode).toBe(1)
      expect(step(parseReport(down), 'swap').summary).toMatch(
        new RegExp(`not ready after the swap.*the restored database stays as ${database}, since there was none before`),
      )
      expect(await counts(database)).toEqual(atBackup)
    } finally {
      healthy = true
    }

    // --skip safety-backup: the operator's choice when the live database cannot be dumped.
    await sql(database, `delete from task_results where id % 2 = 0`)
    const skipped = await s.run(['restore', id, '--yes', '--json', '--skip', 'safety-backup'])
    expect(skipped.exitCode, skipped.stdout).toBe(0)
    expect(step(parseReport(skipped), 'safety-backup').status).toBe('skipped')
    expect(await counts(database)).toEqual(atBackup)
    created.push((step(parseReport(skipped), 'swap').data as { preRestore: string }).preRestore)
  })

  it('restores chosen tables in one transaction, or beside the live ones', async () => {
    const database = await platform()
    const s = setup(database)
    const { id, manifest } = await takeBackup(s)
    const expected = manifest.tables!.find((t) => t.name === 'public.task_results')!.rows
    await sql(database, `delete from task_results where id % 4 = 0`)
    const side = await s.run(['restore', id, '--mode', 'partial', '--table', 'task_results', '--into-schema', 'compare', '--yes', '--json'])
    expect(side.exitCode, side.stdout).toBe(0)
    expect(Number((await sql<{ n: string }>(database, 'select count(*) as n from compare.task_results'))[0]!.n)).toBe(expected)
    expect((await counts(database)).task_results).toBeLessThan(expected)

    const replaced = await s.run(['restore', id, '--mode', 'partial', '--table', 'task_results', '--yes', '--json'])
    expect(replaced.exitCode, replaced.stdout).toBe(0)
    expect((await counts(database)).task_results).toBe(expected)

    const noOwner = await s.run(['restore', id, '--mode', 'partial', '--table', 'tasks', '--no-owner', '--yes'])
    expect(noOwner.exitCode).toBe(2)
    expect(noOwner.stderr).toMatch(/--no-owner goes with --mode full/)

    // task_results references tasks: tasks is merged, task_results not touched.
    const referenced = await s.run(['restore', id, '--mode', 'partial', '--table', 'tasks', '--yes', '--json'])
    expect(referenced.exitCode, referenced.stdout).toBe(0)
    expect(step(parseReport(referenced), 'restore-tables').summary).toBe('public.tasks: 0 updated, 0 inserted, 0 deleted')
    expect((await counts(database)).tasks).toBe(manifest.tables!.find((t) => t.name === 'public.tasks')!.rows)
    expect((await counts(database)).task_results).toBe(expected)

    // A dump that breaks off mid-table (verification skipped to reach the restore): pg_restore writes
    // whole rows, then fails, and not one of them is committed. Uncompressed, the custom format keeps
    // each row in a block of its own, so a cut after a newline leaves only whole rows to write.
    const z0 = setup(database, { backup: { compress: 0 } })
    const cut = await takeBackup(z0)
    await sql(database, `delete from task_results where id % 5 = 0`)
    const live = (await counts(database)).task_results
    const data = join(z0.backupDir, cut.manifest.data)
    const bytes = readFileSync(data)
    let end = Math.floor(bytes.length * 0.6)
    while (bytes[end - 1] !== 0x0a) end--
    truncateSync(data, end)
    const broken = await z0.run(['restore', cut.id, '--mode', 'partial', '--table', 'task_results', '--skip', 'verify', '--yes', '--json'])
    expect(broken.exitCode, broken.stdout).toBe(1)
    expect(step(parseReport(broken), 'restore-tables').summary).toMatch(/pg_restore could not read the tables/)
    expect((await counts(database)).task_results).toBe(live)
  })

  it('restores a table that others reference without touching them: rows of the backup back, extra rows gone unless referenced', async () => {
    const database = await platform()
    // A foreign key out of users (users -> orgs), and a table referenced through a key that may be null.
    await sql(
      database,
      `create table orgs (id serial primary key, name text not null);
      insert into orgs (name) values ('ops'), ('probes');
      alter table users add column org_id integer references orgs (id);
      update users set org_id = 1 + id % 2;
      create table codes (code text unique, label text);
      insert into codes values ('a', 'A');
      create table code_uses (code text references codes (code));
      insert into code_uses values ('a');`,
    )
    const s = setup(database)
    const { id } = await takeBackup(s)
    type User = { id: number; username: string; email: string; role: string; org_id: number | null }
    const users = () => sql<User>(database, 'select id, username, email, role, org_id from users order by id')
    const tasks = () =>
      sql<{ n: number; content: string }>(database, `select count(*)::int as n, md5(string_agg(t::text, ',' order by id)) as content from tasks t`)
    const atBackup = await users()
    expect(atBackup.map((u) => u.id)).toEqual([1, 2, 3, 4])
    // The platform's own trigger: it fires for the rows the restore writes, as for any write.
    await sql(
      database,
      `create table users_audit (op text, id integer);
      create function users_audit() returns trigger language plpgsql as $$ begin insert into users_audit values (tg_op, coalesce(new.id, old.id)); return null; end $$;
      create trigger users_audit after insert or update or delete on users for each row execute function users_audit();`,
    )
    // Since the backup: one user changed, two deleted (no task references them), one added that
    // nothing references, one added that a new task references; the sequence set back behind them.
    await sql(database, `update users set email = 'changed@example.org', role = 'viewer' where id = 1`)
    await sql(database, `delete from users where id in (3, 4)`)
    const [passing] = await sql<{ id: number }>(
      database,
      `insert into users (username, email, password_hash, role) values ('passing', 'passing@example.org', 'x', 'viewer') returning id`,
    )
    const [newcomer] = await sql<{ id: number }>(
      database,
      `insert into users (username, email, password_hash, role) values ('newcomer', 'newcomer@example.org', 'x', 'operator') returning id`,
    )
    await sql(database, `insert into tasks (name, protocol, target, created_by) values ('newcomer check', 'http', 'http://example.org/', $1)`, [newcomer!.id])
    // A column added since the backup: its values stay where the backup's row is the same, and a
    // row brought back gets its default.
    await sql(database, `alter table users add column theme text not null default 'light'; update users set theme = 'dark' where id = 2`)
    await sql(database, `alter sequence users_id_seq restart with 3; truncate users_audit`)
    const tasksBefore = await tasks()

    const restored = await s.run(['restore', id, '--mode', 'partial', '--table', 'users', '--yes', '--json'])
    const report = parseReport(restored)
    expectValidReport(report)
    expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((x) => x.id)).toEqual(['verify', 'tables', 'safety-backup', 'restore-tables'])
    expect(step(report, 'tables').summary).toBe('public.users merged row by row on (id), referenced by public.tasks')
    const merged = step(report, 'restore-tables')
    expect(merged.status).toBe('warning')
    expect(merged.summary).toMatch(
      new RegExp(
        `^public.users: 1 updated, 2 inserted, 1 deleted, 1 kept; 1 row not in the backup kept, since other rows reference it \\(first: public.users id=${newcomer!.id}, referenced by public.tasks\\)$`,
      ),
    )
    expect(merged.data!.kept).toEqual([{ table: 'public.users', key: { id: newcomer!.id }, referencedBy: ['public.tasks'] }])
    expect(await users()).toEqual([...atBackup, { id: newcomer!.id, username: 'newcomer', email: 'newcomer@example.org', role: 'operator', org_id: null }])
    expect(await tasks()).toEqual(tasksBefore)
    expect(await sql(database, 'select id, theme from users order by id')).toEqual(
      [1, 2, 3, 4, newcomer!.id].map((user) => ({ id: user, theme: user === 2 ? 'dark' : 'light' })),
    )
    expect(await sql(database, 'select op, id from users_audit order by op, id')).toEqual([
      { op: 'DELETE', id: passing!.id },
      { op: 'INSERT', id: 3 },
      { op: 'INSERT', id: 4 },
      { op: 'UPDATE', id: 1 },
    ])
    // The sequence was moved past the restored ids: the next user gets a new one.
    const [next] = await sql<{ id: number }>(
      database,
      `insert into users (username, email, password_hash, role) values ('next', 'next@example.org', 'x', 'viewer') returning id`,
    )
    expect(next!.id).toBe(newcomer!.id + 1)
    await sql(database, `delete from users where id = $1`, [next!.id])

    // The backup's users reference an org that is gone: the restore fails naming the constraint, and changes nothing.
    await sql(
      database,
      `update users set org_id = null where org_id = 2; delete from orgs where id = 2; update users set email = 'again@example.org' where id = 1`,
    )
    const beforeFailure = await users()
    const dangling = await s.run(['restore', id, '--mode', 'partial', '--table', 'users', '--yes', '--json'])
    expect(dangling.exitCode, dangling.stdout).toBe(1)
    const failed = step(parseReport(dangling), 'restore-tables')
    expect(failed.summary).toBe(
      `the restore of public.users was rolled back: the backup's rows reference rows that no longer exist (constraint users_org_id_fkey: Key (org_id)=(2) is not present in table "orgs")`,
    )
    expect(failed.error!.hint).toMatch(/^nothing was changed; restore table orgs as well/)
    expect(await users()).toEqual(beforeFailure)
    expect(await tasks()).toEqual(tasksBefore)

    // A referenced table whose rows cannot be matched (no primary key, no unique not-null key) is refused before anything runs.
    const keyless = await s.run(['restore', id, '--mode', 'partial', '--table', 'codes', '--yes', '--json'])
    expect(keyless.exitCode).toBe(1)
    const refused = parseReport(keyless)
    expect(step(refused, 'tables').summary).toBe(
      `public.codes has no primary key (nor a unique key of not-null columns) to match its rows with the backup's, and public.code_uses references it, so it cannot be emptied and reloaded`,
    )
    expect(step(refused, 'tables').error!.hint).toMatch(/--into-schema NAME/)
    expect(step(refused, 'safety-backup').status).toBe('skipped')

    // A user of the backup (alice, id 4) was deleted and made again under a new id that a task
    // references: that row is kept, and the backup's alice cannot take back her name.
    await sql(database, `insert into orgs (id, name) values (2, 'probes'); delete from users where id = 4`)
    const [alice] = await sql<{ id: number }>(
      database,
      `insert into users (username, email, password_hash, role) values ('alice', 'alice@new.example', 'x', 'operator') returning id`,
    )
    await sql(database, `insert into tasks (name, protocol, target, created_by) values ('alice check', 'http', 'http://example.org/', $1)`, [alice!.id])
    const beforeConflict = await users()
    const tasksWithAlice = await tasks()
    const conflict = await s.run(['restore', id, '--mode', 'partial', '--table', 'users', '--yes', '--json'])
    expect(conflict.exitCode, conflict.stdout).toBe(1)
    const conflicting = step(parseReport(conflict), 'restore-tables')
    expect(conflicting.summary).toBe(
      'the restore of public.users was rolled back: a row of the backup needs a value that a live row holds (constraint users_username_key: Key (username)=(alice) already exists)',
    )
    expect(conflicting.error!.hint).toMatch(/^nothing was changed; that live row is not in the backup and other rows reference it, so it is kept/)
    expect(await users()).toEqual(beforeConflict)
    expect(await tasks()).toEqual(tasksWithAlice)

    // A dump that breaks off inside the users' rows commits nothing (uncompressed: one block per row).
    const z0 = setup(database, { backup: { compress: 0 } })
    const cut = await takeBackup(z0)
    await sql(database, `update users set email = 'later-' || email`)
    const afterCut = await users()
    const data = join(z0.backupDir, cut.manifest.data)
    const bytes = readFileSync(data)
    const firstUser = Math.min(...['@sandbox.example', '@example.org'].map((m) => bytes.indexOf(m)).filter((at) => at >= 0))
    truncateSync(data, bytes.indexOf(0x0a, firstUser) + 1)
    const broken = await z0.run(['restore', cut.id, '--mode', 'partial', '--table', 'users', '--skip', 'verify', '--yes', '--json'])
    expect(broken.exitCode, broken.stdout).toBe(1)
    expect(step(parseReport(broken), 'restore-tables').summary).toMatch(/pg_restore could not read the tables/)
    expect(await users()).toEqual(afterCut)
    expect(await tasks()).toEqual(tasksWithAlice)

    // Restored together, users and tasks are both merged (task_results references tasks): the new
    // tasks go (nothing references them), and with them the last references to the new users,
    // which go before the backup's alice comes back.
    const resultsBefore = await sql(database, `select count(*)::int as n, md5(string_agg(r::text, ',' order by id)) as content from task_results r`)
    const together = await s.run(['restore', id, '--mode', 'partial', '--table', 'tasks', '--table', 'users', '--yes', '--json'])
    expect(together.exitCode, together.stdout).toBe(0)
    expect(step(parseReport(together), 'restore-tables').summary).toBe(
      'public.users: 3 updated, 1 inserted, 2 deleted; public.tasks: 0 updated, 0 inserted, 2 deleted',
    )
    expect(await users()).toEqual(atBackup)
    expect((await tasks())[0]!.n).toBe(tasksBefore[0]!.n - 1)
    expect(await sql(database, `select count(*)::int as n, md5(string_agg(r::text, ',' order by id)) as content from task_results r`)).toEqual(resultsBefore)
  })

  it('stops pg_restore when psql refuses the chosen tables at once, however much data is still to come', async () => {
    const database = await platform()
    // More rows than the pipes between pg_restore and psql hold once psql has stopped reading.
    await sql(
      database,
      `insert into tasks (name, protocol, target, created_by) select 'bulk ' || g, 'http', repeat('x', 300), (select min(id) from users) from generate_series(1, 20000) g`,
    )
    const s = setup(database)
    const { id } = await takeBackup(s)
    // psql refuses at once: the table to restore into is already there in the schema named.
    await sql(database, `create schema side; create table side.tasks (id integer)`)
    const before = await counts(database)
    const refused = await s.run(['restore', id, '--mode', 'partial', '--table', 'tasks', '--into-schema', 'side', '--yes', '--json', '--timeout', '30'])
    expect(refused.exitCode, refused.stdout).toBe(1)
    expect(step(parseReport(refused), 'restore-tables').summary).toMatch(/^the restore of public\.tasks was rolled back: .*already exists/)
    expect(await counts(database)).toEqual(before)
  })

  it('prunes by daily, weekly and monthly retention, and asks first', async () => {
    const s = setup(await platform(), {
      backup: { dir: join(tempDir('prune'), 'b'), keep: { daily: 2, weekly: 1, monthly: 2 }, configPaths: ['/etc/hostname'] },
    })
    const { manifest } = await takeBackup(s)
    const backupDir = s.backupDir
    const days = [1, 2, 3, 10, 40, 70, 100]
    for (const d of days) {
      const at = new Date(Date.now() - d * 86_400_000).toISOString()
      const id = `database-old-${d}`
      writeFileSync(join(backupDir, `${id}.dump`), 'x')
      writeFileSync(
        join(backupDir, `${id}.manifest.json`),
        JSON.stringify({ ...manifest, id, data: `${id}.dump`, startedAt: at, finishedAt: at, verifications: [] }),
      )
    }
    const asked = await s.run(['backup', 'prune'])
    expect(asked.exitCode).toBe(2)
    const dry = await s.run(['backup', 'prune', '--dry-run', '--json'])
    const plan = step(parseReport(dry), 'prune').data as { remove: string[]; keep: { id: string }[] }
    // Which ones go depends on today's date; the policy itself is unit-tested with fixed dates.
    expect(plan.keep.map((k) => k.id)).toContain(manifest.id)
    expect(plan.remove.length).toBeGreaterThan(0)
    // Seven old dumps and manifests, the real one's two, and the repository file its backup wrote.
    expect(readdirSync(backupDir).length).toBe(17)
    const pruned = await s.run(['backup', 'prune', '--yes', '--json'])
    expect(pruned.exitCode).toBe(0)
    const left = readdirSync(backupDir)
      .filter((n) => n.endsWith('.manifest.json'))
      .map((n) => n.replace('.manifest.json', ''))
    expect(left.sort()).toEqual(plan.keep.map((k) => k.id).sort())
    for (const id of plan.remove) expect(existsSync(join(backupDir, `${id}.dump`))).toBe(false)
  })

  it('keeps the newest backup.keep.last whatever their day: a dump taken by hand survives the nightly of the same day', async () => {
    const database = await platform()
    const backupDir = join(tempDir('prune-last'), 'b')
    const s = setup(database, { backup: { dir: backupDir, keep: { last: 2, daily: 1, weekly: 0, monthly: 0 }, configPaths: ['/etc/hostname'] } })
    const oldest = await takeBackup(s)
    const byHand = await takeBackup(s)
    const nightly = await takeBackup(s)
    // Without backup.keep.last the default keeps the newest 3: nothing of these goes.
    const byDefault = await setup(database, { backup: { dir: backupDir, keep: { daily: 1, weekly: 0, monthly: 0 } } }).run([
      'backup',
      'prune',
      '--dry-run',
      '--json',
    ])
    expect(byDefault.exitCode, byDefault.stdout + byDefault.stderr).toBe(0)
    expect(step(parseReport(byDefault), 'prune').data).toMatchObject({ remove: [], policy: { last: 3 } })
    const pruned = await s.run(['backup', 'prune', '--yes', '--json'])
    expect(pruned.exitCode, pruned.stdout + pruned.stderr).toBe(0)
    const plan = step(parseReport(pruned), 'prune').data as { remove: string[]; keep: { id: string; reasons: string[] }[] }
    expect(plan.remove).toEqual([oldest.id])
    expect(step(parseReport(pruned), 'prune').summary).toMatch(/^removed 1 backup \(.*\), kept 2$/)
    expect(plan.keep.find((k) => k.id === byHand.id)!.reasons).toEqual(['one of the newest 2'])
    expect(
      readdirSync(backupDir)
        .filter((n) => n.endsWith('.manifest.json'))
        .sort(),
    ).toEqual([`${byHand.id}.manifest.json`, `${nightly.id}.manifest.json`].sort())
  })
})

describe('backups and restores with pg_dump inside the postgres container', () => {
  let pg: PostgresContainer
  let client: pgClient

  beforeAll(async () => {
    pg = await runPostgresContainer(bed().docker, { name: uniqueName('postgres') })
    client = new pgClient({ connectionString: pg.info.url })
    // The swap ends this connection; a later query reconnects.
    client.on('error', () => undefined)
    await client.connect()
    await client.query(SCHEMA_SQL)
    await client.query(referenceDataSql({ agents: 3, tasks: 5 }))
    await client.query(TASK_RESULTS_SQL, [10, 50])
    await client.query(INDEX_SQL)
  })

  afterAll(async () => {
    await client?.end()
    await pg?.remove()
  })

  /** probe-ops configured for the container's PostgreSQL, pg_dump and pg_restore run through docker exec. */
  function containerRunner(): { backupDir: string; run: (args: string[]) => ReturnType<typeof runCli> } {
    const backupDir = join(tempDir('brc'), 'backups')
    const cfg = writeConfig({
      postgres: { host: '127.0.0.1', port: pg.info.port, user: pg.info.user, database: pg.info.database },
      docker: { host: bed().docker.host },
      services: { web: { enabled: false }, management: { enabled: false }, redis: { enabled: false }, postgres: { container: pg.name } },
      backup: { dir: backupDir, runner: 'container', configPaths: ['/etc/hostname'] },
      restore: { reserveBytes: 0, stopServices: [] },
    })
    return { backupDir, run: (args) => runCli([...args, '--config', cfg.path], { PGPASSWORD: pg.info.password }) }
  }

  it('dumps through docker exec and restores in full through it, the dump fed on standard input', async () => {
    const { run } = containerRunner()
    const backup = await run(['backup', 'database', '--json'])
    expect(backup.exitCode, backup.stdout + backup.stderr).toBe(0)
    const id = step(parseReport(backup), 'dump').data!.id as string
    const count = async () => Number((await client.query('select count(*) as n from task_results')).rows[0].n)
    const atBackup = await count()
    await client.query('delete from task_results where id % 2 = 0')

    const restored = await run(['restore', id, '--yes', '--json'])
    const report = parseReport(restored)
    expect(restored.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(step(report, 'restore').summary).toMatch(/owned by postgres; privileges and 0 settings from the backup/)
    await client.end()
    client = new pgClient({ connectionString: pg.info.url })
    await client.connect()
    expect(await count()).toBe(atBackup)
  })

  it('ends pg_dump in the container and its server session when --timeout cuts the dump', async () => {
    const { backupDir, run } = containerRunner()
    const connect = async () => {
      const c = new pgClient({ connectionString: pg.info.url })
      await c.connect()
      return c
    }
    await expectDumpCutCleanly(connect, run, backupDir, ['-p', String(pg.info.port)])
  })
})
