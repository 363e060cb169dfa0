import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Report } from '../../src/report/model.js'
import { bed } from '../bed/index.js'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { makeFifo, openFifoReader } from '../helpers/fifo.js'
import { tempDir } from '../helpers/temp.js'

/**
 * Fault injection: hostile or broken things where probe-ops, run as root, reads and writes
 * files. Each case is what an outside adversarial pass found; none may harm what was there.
 */

const NO_SERVICES = { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } }

/** Bad usage: one line (and a hint), exit 2, no stack trace; on stdout (--json) only the error document. */
function expectRefused(result: { exitCode: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.exitCode, result.stderr).toBe(2)
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
  if (result.stdout !== '') {
    const document = JSON.parse(result.stdout) as { status: string; exitCode: number }
    expect([document.status, document.exitCode]).toEqual(['error', 2])
  }
}

describe('fault injection: what sits at the paths probe-ops writes', () => {
  const diagnose = (config: string, reportFile: string, ...more: string[]) =>
    runCli(['diagnose', '--config', config, '--only', 'host', '--json', '--report-file', reportFile, ...more])

  it('writes --report-file /dev/null through the device: /dev/null stays a character device', async () => {
    const { path } = writeConfig({ services: NO_SERVICES })
    const result = await diagnose(path, '/dev/null')
    expect(result.exitCode, result.stderr).toBe(0)
    expect(parseReport(result).command).toBe('diagnose')
    expect(result.stderr).not.toMatch(/could not write/)
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true)
  })

  it('writes through any character device it is given, and leaves it a device', async () => {
    const dir = tempDir('po-device')
    const device = join(dir, 'null')
    execFileSync('mknod', [device, 'c', '1', '3'])
    const { path } = writeConfig({ services: NO_SERVICES })
    const result = await diagnose(path, device)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(lstatSync(device).isCharacterDevice()).toBe(true)
    expect(readdirSync(dir)).toEqual(['null'])
  })

  it('writes the report into a FIFO with a reader, and fails at once on a FIFO without one', async () => {
    const { path, dir } = writeConfig({ services: NO_SERVICES })
    const fifo = join(dir, 'report.fifo')
    makeFifo(fifo)
    const reader = openFifoReader(fifo)
    const result = await diagnose(path, fifo)
    expect(result.exitCode, result.stderr).toBe(0)
    const received = JSON.parse(await reader.readUntil(/\n}\n$/))
    expect(received).toEqual(parseReport(result))
    expect(lstatSync(fifo).isFIFO()).toBe(true)

    const lonely = join(dir, 'lonely.fifo')
    makeFifo(lonely)
    // Would hang forever on open() without a reader; it says so instead.
    const noReader = await diagnose(path, lonely)
    expect(noReader.stderr).toMatch(/could not write the report file .*lonely\.fifo: .*lonely\.fifo is a FIFO with no reader/)
    expect(parseReport(noReader).command).toBe('diagnose')
    expect(lstatSync(lonely).isFIFO()).toBe(true)
  })

  it('refuses a symbolic link or a directory as --report-file with exit 2, before the job runs', async () => {
    const { path, dir } = writeConfig({ services: NO_SERVICES, cleanup: { logs: [], temp: [] } })
    const victim = join(dir, 'victim.json')
    writeFileSync(victim, 'keep me\n')
    const link = join(dir, 'report.json')
    symlinkSync(victim, link)
    expectRefused(
      await diagnose(path, link),
      /--report-file .*report\.json is a symbolic link: probe-ops does not write through links\n\s+name the file the link points to/,
    )
    expect(readlinkSync(link)).toBe(victim)
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n')

    const directory = join(dir, 'reports')
    mkdirSync(directory)
    expectRefused(await diagnose(path, directory), /--report-file .*reports is a directory/)
    expect(readdirSync(directory)).toEqual([])

    // The same for a job that takes a lock and changes things: refused before it starts.
    const daily = await runCli(['maintain', 'daily', '--config', path, '--only', 'clean-logs', '--report-file', link])
    expectRefused(daily, /--report-file .*report\.json is a symbolic link/)
    expect(existsSync(join(dir, 'maintenance.log'))).toBe(false)
    expect(existsSync(join(dir, 'metrics'))).toBe(false)
  })

  it('says which of its own files it could not write (a link or a FIFO in its directories) and leaves them', async () => {
    const { path, dir } = writeConfig({ services: NO_SERVICES })
    const victim = join(dir, 'victim')
    writeFileSync(victim, 'keep me\n')
    mkdirSync(join(dir, 'metrics'))
    symlinkSync(victim, join(dir, 'metrics', 'probe_ops_diagnose.prom'))
    symlinkSync(victim, join(dir, 'maintenance.log'))
    const result = await runCli(['diagnose', '--config', path, '--only', 'host', '--json'])
    expect(parseReport(result).command).toBe('diagnose')
    expect(result.stderr).toMatch(/could not write the maintenance log .*maintenance\.log: .*maintenance\.log is a symbolic link/)
    expect(result.stderr).toMatch(/could not write the metrics file in .*metrics: .*probe_ops_diagnose\.prom is a symbolic link/)
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n')
    expect(lstatSync(join(dir, 'maintenance.log')).isSymbolicLink()).toBe(true)
    expect(lstatSync(join(dir, 'metrics', 'probe_ops_diagnose.prom')).isSymbolicLink()).toBe(true)

    // FIFOs without a reader or writer: a plain open of either would wait forever.
    const fifoConfig = writeConfig({ services: NO_SERVICES })
    makeFifo(join(fifoConfig.dir, 'maintenance.log'))
    mkdirSync(join(fifoConfig.dir, 'metrics'))
    makeFifo(join(fifoConfig.dir, 'metrics', 'probe_ops_diagnose.prom'))
    const fifo = await runCli(['diagnose', '--config', fifoConfig.path, '--only', 'host', '--json'])
    expect(fifo.stderr).toMatch(/could not write the maintenance log .*maintenance\.log is a FIFO, not a file probe-ops wrote/)
    expect(fifo.stderr).toMatch(/could not write the metrics file in .*probe_ops_diagnose\.prom is a FIFO, not a file probe-ops wrote/)
    expect(lstatSync(join(fifoConfig.dir, 'maintenance.log')).isFIFO()).toBe(true)
    expect(lstatSync(join(fifoConfig.dir, 'metrics', 'probe_ops_diagnose.prom')).isFIFO()).toBe(true)
  })
})

describe('fault injection: forged and malformed manifests in backup.dir', () => {
  const created: string[] = []

  afterAll(async () => {
    const names = (await sql<{ datname: string }>('postgres', 'select datname from pg_database')).map((r) => r.datname)
    for (const name of names) if (created.some((c) => name.startsWith(c))) await dropDatabase(name)
  })

  /** A platform database with two real dumps in a fresh backup.dir, and a directory beside it to keep safe. */
  async function withBackups() {
    const database = await createPlatformDatabase(databaseName('faults'), { days: 3, rowsPerDay: 20 })
    created.push(database)
    const root = tempDir('po-forged')
    const backupDir = join(root, 'backups')
    const victim = join(root, 'victimdir')
    mkdirSync(victim)
    writeFileSync(join(victim, 'precious'), 'keep me\n')
    const { postgres } = bed()
    const { path } = writeConfig({
      postgres: { host: postgres.host, port: postgres.port, user: postgres.user, database },
      services: NO_SERVICES,
      backup: { dir: backupDir, configPaths: ['/etc/hostname'], keep: { last: 0 } },
      restore: { reserveBytes: 0, stopServices: [] },
    })
    const run = (...args: string[]) => runCli([...args, '--config', path], { PGPASSWORD: postgres.password })
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const taken = await run('backup', 'database', '--json')
      expect(taken.exitCode, taken.stdout + taken.stderr).toBe(0)
      ids.push(parseReport(taken).steps[0]!.data!.id as string)
    }
    const real = JSON.parse(readFileSync(join(backupDir, `${ids[0]}.manifest.json`), 'utf8')) as Record<string, unknown>
    /** A manifest like a real one, old enough for prune to remove, with `changes`. */
    const forge = (id: string, changes: Record<string, unknown>, drop: string[] = []) => {
      const body: Record<string, unknown> = { ...real, id, startedAt: '2020-01-01T00:00:00.000Z', finishedAt: '2020-01-01T00:00:01.000Z', ...changes }
      for (const key of drop) delete body[key]
      writeFileSync(join(backupDir, `${id}.manifest.json`), JSON.stringify(body))
    }
    return { database, backupDir, victim, run, ids, forge }
  }

  /** The files a step refused (one finding each), by name. */
  function unreadableOf(report: Report, step: string): string[] {
    const findings = report.steps.find((s) => s.id === step)!.findings ?? []
    return findings
      .filter((f) => f.id.startsWith('refused:'))
      .map((f) => basename(f.subject!))
      .sort()
  }

  it('never touches what a forged manifest points to: a path out of backup.dir, an absolute path, a link out of it', async () => {
    const { backupDir, victim, run, ids, forge } = await withBackups()
    forge('database-forged-relative', { data: '../victimdir' })
    forge('database-forged-absolute', { data: victim })
    symlinkSync(victim, join(backupDir, 'database-forged-link.dump'))
    forge('database-forged-link', { data: 'database-forged-link.dump' })
    const forged = ['database-forged-absolute.manifest.json', 'database-forged-link.manifest.json', 'database-forged-relative.manifest.json']
    const victimWhole = () => {
      expect(readdirSync(victim)).toEqual(['precious'])
      expect(readFileSync(join(victim, 'precious'), 'utf8')).toBe('keep me\n')
      expect(readlinkSync(join(backupDir, 'database-forged-link.dump'))).toBe(victim)
    }

    const pruned = await run('backup', 'prune', '--yes', '--json')
    victimWhole()
    expect(pruned.exitCode, pruned.stdout + pruned.stderr).toBe(0)
    const prune = parseReport(pruned)
    expect(prune.steps[0]!.status).toBe('warning')
    expect(prune.steps[0]!.data!.remove).toEqual([ids[0]])
    expect(unreadableOf(prune, 'prune')).toEqual(forged)

    const list = parseReport(await run('backup', 'list', '--json'))
    expectValidReport(list)
    expect(list.status).toBe('warning')
    expect((list.steps[0]!.data!.backups as { id: string }[]).map((b) => b.id).sort()).toEqual([ids[1]])
    expect(unreadableOf(list, 'list')).toEqual(forged)
    expect(list.steps[0]!.data!.leftovers).toEqual([])

    for (const name of ['database-forged-relative', 'database-forged-link']) {
      const verify = await run('backup', 'verify', name)
      expectRefused(verify, new RegExp(`backup "${name}" cannot be used: .*${name}\\.manifest\\.json is `))
      const restore = await run('restore', name, '--mode', 'full', '--yes')
      expectRefused(restore, new RegExp(`backup "${name}" cannot be used`))
    }
    const verified = await run('backup', 'verify', 'latest', '--json')
    expect(verified.exitCode, verified.stdout).toBe(0)
    expect(unreadableOf(parseReport(verified), 'checksum')).toEqual(forged)

    const restored = await run('restore', 'latest', '--mode', 'full', '--yes', '--json')
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0)
    expect(unreadableOf(parseReport(restored), 'verify')).toEqual(forged)
    const cleanup = await run('restore', '--cleanup', '--drop-pre-restore', '--yes', '--json')
    expect(cleanup.exitCode, cleanup.stdout + cleanup.stderr).toBe(0)
    victimWhole()
  })

  it('reports one malformed manifest among good ones as one problem, and every command still works', async () => {
    const { backupDir, run, ids, forge } = await withBackups()
    forge('database-nostart', { data: 'database-nostart.dump' }, ['startedAt'])
    forge('database-types', { data: 'database-types.dump', bytes: 'many', verifications: {} })
    writeFileSync(join(backupDir, 'database-nostart.dump'), 'the data of a backup whose manifest was damaged')
    const malformed = ['database-nostart.manifest.json', 'database-types.manifest.json']

    const listed = await run('backup', 'list', '--json')
    expect(listed.exitCode, listed.stdout + listed.stderr).toBe(0)
    const list = parseReport(listed)
    expectValidReport(list)
    expect((list.steps[0]!.data!.backups as { id: string }[]).map((b) => b.id).sort()).toEqual([...ids].sort())
    expect(unreadableOf(list, 'list')).toEqual(malformed)
    expect((list.steps[0]!.data!.unreadable as { path: string }[]).map((u) => basename(u.path)).sort()).toEqual(malformed)
    const problems = (list.steps[0]!.findings ?? []).map((f) => f.message)
    expect(problems).toContainEqual(expect.stringMatching(/database-nostart\.manifest\.json: not a valid manifest: startedAt: Required$/))
    expect(problems).toContainEqual(
      expect.stringMatching(
        /database-types\.manifest\.json: not a valid manifest: bytes: Expected number, received string; verifications: Expected array, received object$/,
      ),
    )
    const text = await run('backup', 'list')
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toMatch(/database-nostart\.manifest\.json: not a valid manifest/)

    const verified = await run('backup', 'verify', 'latest', '--json')
    expect(verified.exitCode, verified.stdout + verified.stderr).toBe(0)
    expect(parseReport(verified).steps.map((s) => s.status)).toEqual(['warning', 'ok', 'skipped', 'skipped'])
    expect(unreadableOf(parseReport(verified), 'checksum')).toEqual(malformed)

    const restored = await run('restore', 'latest', '--mode', 'full', '--yes', '--json')
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0)
    expect(unreadableOf(parseReport(restored), 'verify')).toEqual(malformed)

    const pruned = await run('backup', 'prune', '--yes', '--json')
    expect(pruned.exitCode, pruned.stdout + pruned.stderr).toBe(0)
    expect(unreadableOf(parseReport(pruned), 'prune')).toEqual(malformed)
    // The damaged backup's data is neither pruned nor a leftover for cleanup to remove.
    const cleanup = await run('restore', '--cleanup', '--drop-pre-restore', '--yes', '--json')
    expect(cleanup.exitCode, cleanup.stdout + cleanup.stderr).toBe(0)
    expect(existsSync(join(backupDir, 'database-nostart.dump'))).toBe(true)
  })
})

describe('fault injection: forged run notes in backup.dir', () => {
  const created: string[] = []

  afterAll(async () => {
    for (const name of created) await dropDatabase(name)
  })

  /** The pid of a process that has exited: a note's writer that is gone. */
  function deadPid(): number {
    return spawnSync(process.execPath, ['-e', '0']).pid
  }

  it('never renames the databases a forged note of a swap names', async () => {
    const { postgres } = bed()
    const root = tempDir('po-notes')
    // A note whose "swap" names another database: cleanup would have renamed it away.
    const victimDb = databaseName('faults_victim')
    const intruderDb = databaseName('faults_intruder')
    for (const name of [victimDb, intruderDb]) {
      await sql('postgres', `create database ${name}`)
      created.push(name)
    }
    const notes = join(root, 'backups-services')
    mkdirSync(notes, { mode: 0o700 })
    writeFileSync(
      join(notes, '.restore-stopped-services.json'),
      JSON.stringify({
        services: [],
        swap: { live: victimDb, restored: `${victimDb}_gone`, preRestore: intruderDb, phase: 'rolling-back' },
        pid: deadPid(),
        startedAt: new Date().toISOString(),
      }),
    )
    const services = writeConfig({
      postgres: { host: postgres.host, port: postgres.port, user: postgres.user, database: databaseName('faults_live') },
      services: NO_SERVICES,
      backup: { dir: notes },
    })
    const env = { PGPASSWORD: postgres.password }
    const cleaned = await runCli(['restore', '--cleanup', '--yes', '--json', '--config', services.path], env)
    expect(cleaned.exitCode).toBe(1)
    expect(parseReport(cleaned).steps[0]!.summary).toMatch(/is not a note probe-ops wrote/)
    const names = (await sql<{ datname: string }>('postgres', 'select datname from pg_database')).map((r) => r.datname)
    expect(names).toEqual(expect.arrayContaining([victimDb, intruderDb]))
    expect(names).not.toContain(`${victimDb}_gone`)
    const list = parseReport(await runCli(['backup', 'list', '--json', '--config', services.path], env))
    expect((list.steps[0]!.findings ?? []).map((f) => f.message)).toContainEqual(
      expect.stringMatching(
        /\.restore-stopped-services\.json is not a note probe-ops wrote \(its swap names databases .*not .*faults_live.* and the copies a restore of it makes\)/,
      ),
    )
  })

  it('never renames the directories a forged point-in-time switch journal names', async () => {
    const { postgres } = bed()
    const root = tempDir('po-notes')
    const env = { PGPASSWORD: postgres.password }
    // A journal naming a directory that is not PostgreSQL's data directory.
    const victim = join(root, 'victimdir')
    mkdirSync(victim)
    writeFileSync(join(victim, 'precious'), 'keep me\n')
    const stamp = '20260101T000000Z'
    mkdirSync(`${victim}.pre-pitr-${stamp}`)
    const journals = join(root, 'backups-switch')
    mkdirSync(journals, { mode: 0o700 })
    writeFileSync(
      join(journals, '.pitr-switch.json'),
      JSON.stringify({
        liveDir: victim,
        aside: `${victim}.pre-pitr-${stamp}`,
        recovered: `${victim}.pitr-${stamp}`,
        service: 'postgres',
        pid: deadPid(),
        startedAt: new Date().toISOString(),
      }),
    )
    const dataDir = join(root, 'pgdata')
    mkdirSync(dataDir)
    const switching = writeConfig({
      postgres: { host: postgres.host, port: postgres.port, user: postgres.user, database: databaseName('faults_live') },
      services: {
        ...NO_SERVICES,
        postgres: { runtime: 'process', pidFile: join(root, 'postmaster.pid'), dataDir, start: ['false'], readinessTimeoutSeconds: 1, stopGraceSeconds: 0 },
      },
      backup: { dir: journals },
    })
    const refused = await runCli(['restore', '--cleanup', '--yes', '--json', '--config', switching.path], env)
    expect(refused.exitCode).toBe(1)
    expect(parseReport(refused).steps[0]!.summary).toMatch(
      new RegExp(`\\.pitr-switch\\.json is not a note probe-ops wrote \\(its data directory ${victim} is not services\\.postgres\\.dataDir`),
    )
    expect(readdirSync(victim)).toEqual(['precious'])
    expect(readdirSync(`${victim}.pre-pitr-${stamp}`)).toEqual([])
    expect(existsSync(`${victim}.pitr-${stamp}`)).toBe(false)
    const restore = await runCli(['restore', 'latest', '--yes', '--config', switching.path], env)
    expect(restore.exitCode).toBe(1)
    expect(restore.stderr).toMatch(/\.pitr-switch\.json is not a note probe-ops wrote/)
  })
})

describe('fault injection: what a crash or a stranger leaves at the lock path', () => {
  /** maintain daily (a job with a lock) against a lock directory prepared by `prepare`. */
  async function daily(prepare: (lock: string) => void) {
    const { path, dir } = writeConfig({ services: NO_SERVICES, cleanup: { logs: [], temp: [] } })
    mkdirSync(join(dir, 'lock'))
    const lock = join(dir, 'lock', 'maintain-daily.lock')
    prepare(lock)
    const result = await runCli(['maintain', 'daily', '--config', path, '--only', 'clean-logs', '--json'])
    const log = existsSync(join(dir, 'maintenance.log')) ? readFileSync(join(dir, 'maintenance.log'), 'utf8') : ''
    return { result, lock, log }
  }

  const old = new Date(Date.now() - 3_600_000)

  it('takes over an empty or garbage lock file past its grace, and says so on stderr, in the report and in the log', async () => {
    for (const content of ['', 'garbage, not JSON']) {
      const { result, lock, log } = await daily((path) => {
        writeFileSync(path, content)
        utimesSync(path, old, old)
      })
      expect(result.exitCode, result.stderr).toBe(0)
      expect(result.stderr).toMatch(new RegExp(`probe-ops: warning: took over the lock ${lock}: the lock file (was empty|held no holder probe-ops wrote)`))
      const report = parseReport(result)
      expectValidReport(report)
      expect(report.lockTakeover).toMatchObject({ path: lock, reason: expect.stringMatching(/^the lock file /) })
      expect(
        log
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      ).toContainEqual(expect.objectContaining({ level: 'warning', message: expect.stringMatching(/^took over the lock /) }))
      // Released at the end, as any lock it takes.
      expect(existsSync(lock)).toBe(false)
    }
  })

  it('keeps a fresh empty lock file (a run may be writing it): exit 3', async () => {
    const { result } = await daily((path) => writeFileSync(path, ''))
    expect(result.exitCode).toBe(3)
    expect(result.stderr).toMatch(/maintain daily may be starting in another run: .*maintain-daily\.lock is empty/)
  })

  it('moves a directory or a symbolic link at the lock path aside, never following or emptying it', async () => {
    const dir = await daily((path) => {
      mkdirSync(path)
      writeFileSync(join(path, 'inside'), 'keep me')
    })
    expect(dir.result.exitCode, dir.result.stderr).toBe(0)
    const movedTo = parseReport(dir.result).lockTakeover!.movedTo!
    expect(dir.result.stderr).toContain(`a directory was at the lock path; moved aside to ${movedTo}`)
    expect(readFileSync(join(movedTo, 'inside'), 'utf8')).toBe('keep me')

    // A link to a file naming a live process (this test): followed, it would block every run.
    const target = join(tempDir('po-lock-target'), 'holder.json')
    const holder = JSON.stringify({ pid: process.pid, command: 'maintain daily', since: new Date().toISOString() })
    writeFileSync(target, holder)
    const link = await daily((path) => symlinkSync(target, path))
    expect(link.result.exitCode, link.result.stderr).toBe(0)
    expect(readlinkSync(parseReport(link.result).lockTakeover!.movedTo!)).toBe(target)
    expect(readFileSync(target, 'utf8')).toBe(holder)
  })

  it('still exits 3 behind a live holder, and takes over from a dead one', async () => {
    const live = await daily((path) => writeFileSync(path, JSON.stringify({ pid: process.pid, command: 'maintain daily', since: new Date().toISOString() })))
    expect(live.result.exitCode).toBe(3)
    expect(live.result.stderr).toMatch(new RegExp(`maintain daily is already running: process ${process.pid} `))
    const dead = spawnSync(process.execPath, ['-e', '0']).pid
    const gone = await daily((path) => writeFileSync(path, JSON.stringify({ pid: dead, command: 'maintain daily', since: '2026-01-01T00:00:00.000Z' })))
    expect(gone.result.exitCode, gone.result.stderr).toBe(0)
    expect(parseReport(gone.result).lockTakeover).toEqual({
      path: gone.lock,
      reason: `its holder, process ${dead} (maintain daily, since 2026-01-01T00:00:00.000Z), is gone`,
      holder: { pid: dead, command: 'maintain daily', since: '2026-01-01T00:00:00.000Z' },
    })
  })
})
