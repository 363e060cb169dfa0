import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { execa } from 'execa'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import { PG_BIN_DIR, startPostgres, type PostgresServer } from '../bed/index.js'
import { parseReport, runCli, runRecords, startCli, writeConfig, type CliResult } from '../helpers/cli.js'
import { mountSmallDisk } from '../helpers/full-disk.js'
import { postgresProcessServices } from '../helpers/postgres-service.js'
import { isRunning } from '../helpers/processes.js'
import { tempDir } from '../helpers/temp.js'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

/** A run that `signal` came to during its switch: the switch was let end, and the run says it was interrupted. */
function expectSwitchLetEnd(result: CliResult, signal: 'SIGINT' | 'SIGTERM'): void {
  expect(result.exitCode, result.stdout + result.stderr).toBe(1)
  const report = parseReport(result)
  expect(report.interrupted).toMatchObject({ by: signal })
  expect(step(report, 'switch')).toMatchObject({
    status: 'ok',
    summary: expect.stringMatching(
      new RegExp(`^PostgreSQL runs on the data recovered to .*\\(${signal} came during the switch of data directories, which was let end first\\)$`),
    ),
  })
}

/** Lets every user through the directories on the way to `target` (below /tmp), as a host's /etc and /var/backups are. */
function openToPostgres<T extends string | { path: string }>(target: T): T {
  const path = typeof target === 'string' ? target : target.path
  for (let dir = dirname(path); dir.startsWith('/tmp/') && dir !== '/tmp'; dir = dirname(dir)) if (existsSync(dir)) chmodSync(dir, 0o711)
  return target
}

/** A PostgreSQL of a describe block's own, archiving into a WAL directory of its own, and probe-ops set up for it. */
interface PitrCluster {
  server: PostgresServer
  config: { path: string; dir: string }
  env: Record<string, string>
  query<R extends pg.QueryResultRow>(text: string, port?: number): Promise<R[]>
  /** probe-ops for the cluster (its runtime a process), its backups in `backupDir`. */
  configFor(backupDir: string): { path: string; dir: string }
  stop(): Promise<void>
}

async function startPitrCluster(): Promise<PitrCluster> {
  const server = await startPostgres({ database: 'network_probe' })
  // The server's OS user writes the archive: its parent must let it through.
  const walRoot = mkdtempSync('/tmp/po-wal-')
  chmodSync(walRoot, 0o711)
  const configFor = (backupDir: string) => {
    const dataDir = server.info.dataDir
    // wal push and wal fetch run as PostgreSQL's OS user: it goes through to the configuration and backup.dir, as on a host.
    openToPostgres(backupDir)
    return openToPostgres(
      writeConfig({
        postgres: { host: '127.0.0.1', port: server.info.port, user: 'postgres', database: 'network_probe' },
        backup: { dir: backupDir, walDir: join(walRoot, 'wal') },
        services: postgresProcessServices(dataDir),
      }),
    )
  }
  return {
    server,
    config: configFor(join(tempDir('pitr'), 'backups')),
    env: { PGPASSWORD: server.info.password },
    async query<R extends pg.QueryResultRow>(text: string, port = server.info.port): Promise<R[]> {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: server.info.password, database: 'network_probe' })
      await client.connect()
      try {
        return (await client.query<R>(text)).rows
      } finally {
        await client.end()
      }
    },
    configFor,
    async stop() {
      await server.stop()
      await execa('rm', ['-rf', walRoot])
    },
  }
}

/** A cluster of the describe block's own, started before its tests (handed to `started`) and stopped after them. */
function usePitrCluster(started: (cluster: PitrCluster) => void): { current: PitrCluster } {
  const holder = {} as { current: PitrCluster }
  beforeAll(async () => {
    holder.current = await startPitrCluster()
    started(holder.current)
  })
  afterAll(async () => {
    await holder.current?.stop()
  })
  return holder
}

describe('point-in-time recovery against a real PostgreSQL with WAL archiving', () => {
  let server: PostgresServer
  let config: { path: string; dir: string }
  let env: Record<string, string>
  const cluster = usePitrCluster((started) => ({ server, config, env } = started))
  const query = <R extends pg.QueryResultRow>(text: string, port?: number) => cluster.current.query<R>(text, port)
  const configFor = (backupDir: string) => cluster.current.configFor(backupDir)

  /**
   * Every mode takes a backup by id, by the path of its data (relative or absolute) or of its
   * manifest; a backup that cannot serve the request is refused with the reason.
   */
  async function expectNamedEveryWay(baseBackup: { id: string; path: string }, target: string): Promise<void> {
    const backupDir = dirname(baseBackup.path)
    const names = [baseBackup.id, baseBackup.path, `${baseBackup.path}/`, join(backupDir, `${baseBackup.id}.manifest.json`), `./${basename(baseBackup.path)}`]
    for (const name of names) {
      const dry = await runCli(
        ['restore', name, '--mode', 'pitr', '--target-time', target, '--side-only', '--dry-run', '--config', config.path, '--json'],
        env,
        backupDir,
      )
      expect(dry.exitCode, `${name}: ${dry.stdout}${dry.stderr}`).toBe(0)
      expect(step(parseReport(dry), 'verify').data!.base, name).toBe(baseBackup.id)
    }
    // A base backup taken after the target cannot stop before it: that is the reason given.
    const later = await runCli(['backup', 'base', '--config', config.path, '--json'], env)
    const laterBackup = step(parseReport(later), 'base').data as { id: string; path: string; consistentAt: string }
    const tooLate = await runCli(['restore', laterBackup.path, '--mode', 'pitr', '--target-time', target, '--side-only', '--yes', '--config', config.path], env)
    expect(tooLate.exitCode).toBe(2)
    expect(tooLate.stderr).toContain(
      `base backup ${laterBackup.id} is consistent only from ${laterBackup.consistentAt}, after --target-time ${new Date(target).toISOString()}`,
    )
    expect(tooLate.stderr).toContain(`the newest: ${baseBackup.id}`)
    // A dump is no base backup, and a base backup no dump.
    const dump = await runCli(['backup', 'database', '--config', config.path, '--json'], env)
    const dumpPath = step(parseReport(dump), 'dump').data!.path as string
    const notBase = await runCli(['restore', dumpPath, '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path], env)
    expect(notBase.exitCode).toBe(2)
    expect(notBase.stderr).toMatch(/database-network_probe-\S+ is a database dump, not a base backup/)
    // (--mode full takes a base backup since the physical full restore: a partial restore still needs a dump.)
    const notDump = await runCli(['restore', baseBackup.path, '--mode', 'partial', '--table', 'events', '--yes', '--config', config.path], env)
    expect(notDump.exitCode).toBe(2)
    expect(notDump.stderr).toContain(`${baseBackup.id} is a base backup, not a database dump`)
    // A file elsewhere that shares a backup's name is not that backup.
    const elsewhere = join(tempDir('pitr-elsewhere'), basename(dumpPath))
    await execa('cp', [dumpPath, elsewhere])
    const outside = await runCli(['restore', elsewhere, '--mode', 'full', '--yes', '--config', config.path], env)
    expect(outside.exitCode).toBe(2)
    expect(outside.stderr).toContain(`${elsewhere} is not in the backup directory`)
  }

  // Some twenty runs of probe-ops, a restart and eight restores among them: minutes on a busy machine.
  it('sets up archiving, takes a base backup, and recovers to a moment beside and then in place of the live cluster', async () => {
    const setup = await runCli(['backup', 'wal-setup', '--apply', '--config', config.path, '--json'], env)
    expect(step(parseReport(setup), 'settings')).toMatchObject({ status: 'warning', error: { hint: expect.stringMatching(/recover postgres --force/) } })
    const restarted = await runCli(['recover', 'postgres', '--force', '--config', config.path, '--json'], env)
    expect(restarted.exitCode, restarted.stdout).toBe(0)
    const checked = await runCli(['backup', 'wal-setup', '--config', config.path, '--json'], env)
    expect(checked.exitCode, checked.stdout).toBe(0)
    expect(step(parseReport(checked), 'check').summary).toMatch(/^segment [0-9A-F]{24} archived/)

    await query(`create table events (n int, at timestamptz default clock_timestamp())`)
    await query(`insert into events (n) select g from generate_series(1, 100) g`)
    const base = await runCli(['backup', 'base', '--config', config.path, '--json'], env)
    expect(base.exitCode, base.stdout).toBe(0)
    const baseBackup = step(parseReport(base), 'base').data as { id: string; path: string }
    await query(`insert into events (n) select g from generate_series(101, 200) g`)
    await new Promise((r) => setTimeout(r, 1100))
    const target = (await query<{ target: string }>(`select now()::text as target`))[0]!.target
    await new Promise((r) => setTimeout(r, 1100))
    await query(`insert into events (n) select g from generate_series(201, 300) g`)
    // The segment holding the last rows must reach the archive.
    expect((await runCli(['backup', 'wal-setup', '--config', config.path], env)).exitCode).toBe(0)

    const tooEarly = await runCli(['restore', 'latest', '--mode', 'pitr', '--target-time', '2000-01-01T00:00:00Z', '--yes', '--config', config.path], env)
    expect(tooEarly.exitCode).toBe(2)
    expect(tooEarly.stderr).toMatch(/outside the recoverable window \d{4}-.* \.\. \d{4}-/)

    // Named by the path of its directory, as ls shows it: that base backup, which ends before the target.
    const side = await runCli(
      ['restore', `${baseBackup.path}/`, '--mode', 'pitr', '--target-time', target, '--side-only', '--yes', '--config', config.path, '--json'],
      env,
    )
    const sideReport = parseReport(side)
    expect(side.exitCode, JSON.stringify(sideReport.steps, null, 1)).toBe(0)
    expect(sideReport.steps.map((s) => s.id)).toEqual(['verify', 'prepare', 'recover', 'check', 'switch'])
    const { port, dataDir } = step(sideReport, 'switch').data as { port: number; dataDir: string }
    expect((await query<{ n: string }>('select count(*) as n from events', port))[0]!.n).toBe('200')
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('300')
    // The unpacked base was made durable by one syncfs, not an fsync of each of its files.
    expect((await query<{ setting: string }>(`select setting from pg_settings where name = 'recovery_init_sync_method'`, port))[0]!.setting).toBe('syncfs')
    await execa('runuser', ['-u', 'postgres', '--', join(PG_BIN_DIR, 'pg_ctl'), '-D', dataDir, 'stop', '-m', 'fast'])
    await expectNamedEveryWay(baseBackup, target)

    const switched = await runCli(['restore', 'latest', '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path, '--json'], env)
    const report = parseReport(switched)
    expect(switched.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    const { previous } = step(report, 'switch').data as { previous: string }
    expect(existsSync(previous)).toBe(true)
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('200')

    // Killed between moving the live data directory aside and moving the recovered one in:
    // PostgreSQL is down with no data directory. backup list says so, another restore is refused,
    // and restore --cleanup puts the old directory back and starts PostgreSQL on it.
    await query(`insert into events (n) values (1000)`)
    const killed = await runCli(['restore', 'latest', '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path, '--json'], {
      ...env,
      PROBE_OPS_FAILPOINT: 'pitr-switch-between-renames',
    })
    expect(killed.exitCode).toBe(-1)
    expect(existsSync(server.info.dataDir)).toBe(false)
    const listed = await runCli(['backup', 'list', '--config', config.path, '--json'], env)
    expect(step(parseReport(listed), 'list').error!.message).toMatch(/a point-in-time switch of .* was interrupted/)
    const refused = await runCli(['restore', 'latest', '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path], env)
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toMatch(/restore --cleanup finishes or undoes it first/)
    const cleaned = await runCli(['restore', '--cleanup', '--config', config.path, '--json'], env)
    expect(cleaned.exitCode, cleaned.stdout).toBe(0)
    expect(step(parseReport(cleaned), 'cleanup').summary).toMatch(/^put the old data directory back .* and start PostgreSQL on it; the recovered one stays at /)
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('201')
    const after = await runCli(['backup', 'list', '--config', config.path, '--json'], env)
    expect(parseReport(after).steps[0]!.status).toBe('ok')

    // Killed once the recovered directory is in place, before PostgreSQL starts: cleanup finishes the switch.
    const late = await runCli(['restore', 'latest', '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path], {
      ...env,
      PROBE_OPS_FAILPOINT: 'pitr-switch-before-start',
    })
    expect(late.exitCode).toBe(-1)
    const finished = await runCli(['restore', '--cleanup', '--config', config.path, '--json'], env)
    expect(finished.exitCode, finished.stdout).toBe(0)
    expect(step(parseReport(finished), 'cleanup').summary).toMatch(
      /^start PostgreSQL on the recovered data, which the interrupted switch had put in place; the old data directory stays at /,
    )
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('200')

    // Killed once PostgreSQL runs on the recovered data: cleanup keeps it so, never takes it back.
    await query(`insert into events (n) values (2000)`)
    const afterStart = await runCli(['restore', 'latest', '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path], {
      ...env,
      PROBE_OPS_FAILPOINT: 'pitr-switch-after-start',
    })
    expect(afterStart.exitCode).toBe(-1)
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('200')
    const kept = await runCli(['restore', '--cleanup', '--config', config.path, '--json'], env)
    expect(kept.exitCode, kept.stdout).toBe(0)
    expect(step(parseReport(kept), 'cleanup').summary).toMatch(/^keep PostgreSQL running on the recovered data, as the interrupted switch left it/)
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('200')
    expect(parseReport(await runCli(['backup', 'list', '--config', config.path, '--json'], env)).steps[0]!.status).toBe('ok')

    // SIGTERM between the renames, with PostgreSQL down and no live data directory: the switch is
    // let end first, and the report says the run was interrupted.
    await query(`insert into events (n) values (3000)`)
    const pause = join(tempDir('pause'), 'switch')
    const signalled = startCli(['restore', 'latest', '--mode', 'pitr', '--target-time', target, '--yes', '--config', config.path, '--json'], {
      ...env,
      PROBE_OPS_PAUSE: `pitr-switch-between-renames:${pause}`,
    })
    await signalled.pausedAt(pause)
    expect(existsSync(server.info.dataDir)).toBe(false)
    signalled.kill('SIGTERM')
    await signalled.said(/SIGTERM came during the switch of data directories: letting it end first/)
    rmSync(pause)
    expectSwitchLetEnd(await signalled.result, 'SIGTERM')
    expect((await query<{ n: string }>('select count(*) as n from events'))[0]!.n).toBe('200')
    expect(parseReport(await runCli(['backup', 'list', '--config', config.path, '--json'], env)).steps[0]!.status).toBe('ok')
  }, 300_000) // a whole archive, base backup and two recoveries: minutes on a loaded machine

  it('fails a base backup that fills its disk as a failed step, and keeps nothing of it', async () => {
    const disk = await mountSmallDisk('1m')
    try {
      const small = configFor(disk.dir)
      const result = await runCli(['backup', 'base', '--config', small.path, '--json'], env)
      expect(result.exitCode, result.stdout + result.stderr).toBe(1)
      const base = step(parseReport(result), 'base')
      expect(base.summary).toMatch(/the disk of .* is full \(no space left on device\)/)
      expect(readdirSync(disk.dir)).toEqual([])
      expect(runRecords(small.dir, 'backup base').metrics).toContain('probe_ops_job_status{job="backup base"} 2')
    } finally {
      await disk.unmount()
    }
  })
})

/**
 * The recovery run as root and cut short, on a cluster of its own: these must not depend on what
 * the recoveries above leave (a cluster switched, more than once, to a timeline whose history file
 * was never archived archives no more: its next segment's name is taken).
 */
describe('point-in-time recovery as root: links, Ctrl-C and --timeout', () => {
  let server: PostgresServer
  let config: { path: string; dir: string }
  let env: Record<string, string>
  const cluster = usePitrCluster((started) => ({ server, config, env } = started))
  const query = <R extends pg.QueryResultRow>(text: string, port?: number) => cluster.current.query<R>(text, port)

  /**
   * Archiving on (set up, and PostgreSQL restarted, when it is not yet), then a new base backup, a
   * row before the target time it returns and one after it.
   */
  async function recoverable(): Promise<{ target: string; atTarget: number }> {
    const archiving = parseReport(await runCli(['backup', 'wal-setup', '--config', config.path, '--json'], env))
    if (step(archiving, 'check').status !== 'ok') {
      await runCli(['backup', 'wal-setup', '--apply', '--config', config.path], env)
      const restarted = await runCli(['recover', 'postgres', '--force', '--config', config.path], env)
      expect(restarted.exitCode, restarted.stdout).toBe(0)
    }
    await query('create table if not exists marks (n int)')
    const base = await runCli(['backup', 'base', '--config', config.path, '--json'], env)
    expect(base.exitCode, base.stdout).toBe(0)
    await query('insert into marks values (1)')
    const atTarget = Number((await query<{ n: string }>('select count(*) as n from marks'))[0]!.n)
    await new Promise((r) => setTimeout(r, 1100))
    const target = (await query<{ target: string }>(`select now()::text as target`))[0]!.target
    await new Promise((r) => setTimeout(r, 1100))
    await query('insert into marks values (2)')
    // The segment holding the last rows must reach the archive.
    const archived = await runCli(['backup', 'wal-setup', '--config', config.path, '--json'], env)
    expect(step(parseReport(archived), 'check').status, archived.stdout).toBe('ok')
    return { target, atTarget }
  }

  /** The recovered data directories beside the live one (a run's own is the one that was not there before it). */
  function recoveredDirs(): string[] {
    const live = server.info.dataDir
    return readdirSync(dirname(live))
      .filter((n) => n.startsWith(`${basename(live)}.pitr-`))
      .map((n) => join(dirname(live), n))
  }

  /** What a run started with PROBE_OPS_PAUSE holds at `at`: its recovered data directory (and its side cluster's postmaster). */
  async function heldAt(at: string, args: string[], options: { ownGroup?: boolean } = {}) {
    const before = recoveredDirs()
    const pause = join(tempDir('pause'), at)
    const run = startCli(args, { ...env, PROBE_OPS_PAUSE: `${at}:${pause}` }, undefined, options)
    await run.pausedAt(pause)
    const dataDir = recoveredDirs().find((d) => !before.includes(d))!
    const postmaster = existsSync(join(dataDir, 'postmaster.pid')) ? Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) : undefined
    return { run, pause, dataDir, postmaster }
  }

  const pitrArgs = (target: string, ...more: string[]) => [
    'restore',
    'latest',
    '--mode',
    'pitr',
    '--target-time',
    target,
    '--yes',
    '--config',
    config.path,
    '--json',
    ...more,
  ]

  it('refuses to rewrite a postgresql.auto.conf replaced by a link before the switch: the file it points to is untouched, the live cluster too', async () => {
    const { target } = await recoverable()
    const live = (await query<{ n: string }>('select count(*) as n from marks'))[0]!.n
    const victim = join(tempDir('pitr-victim'), 'settings.conf')
    const content = "work_mem = '4MB'\n# probe-ops point-in-time recovery: begin\nport = '1'\n# probe-ops point-in-time recovery: end\n"
    writeFileSync(victim, content, { mode: 0o600 })
    const { run, pause, dataDir } = await heldAt('pitr-switch-begun', pitrArgs(target))
    const autoConf = join(dataDir, 'postgresql.auto.conf')
    rmSync(autoConf)
    symlinkSync(victim, autoConf)
    rmSync(pause)
    const result = await run.result
    expect(result.exitCode, result.stdout + result.stderr).toBe(1)
    const report = parseReport(result)
    expect(step(report, 'switch')).toMatchObject({
      status: 'failed',
      summary: expect.stringMatching(/postgresql\.auto\.conf not rewritten: .*postgresql\.auto\.conf is a symbolic link/),
      error: { hint: expect.stringMatching(/^the live cluster was not touched; the recovered data directory, stopped, is kept at /) },
    })
    expect(readFileSync(victim, 'utf8')).toBe(content)
    expect(lstatSync(autoConf).isSymbolicLink()).toBe(true)
    expect((await query<{ n: string }>('select count(*) as n from marks'))[0]!.n).toBe(live)
    expect(parseReport(await runCli(['backup', 'list', '--config', config.path, '--json'], env)).steps[0]!.status).toBe('ok')
    rmSync(dataDir, { recursive: true, force: true })
  }, 240_000)

  it("lets Ctrl-C reach probe-ops alone: the pg_ctl a switch runs is not killed by the terminal's SIGINT to the whole group", async () => {
    const { target, atTarget } = await recoverable()
    // Run as a terminal runs a job: in a process group of its own, which Ctrl-C signals whole.
    const { run, pause, postmaster } = await heldAt('pitr-switch-begun', pitrArgs(target), { ownGroup: true })
    // The side cluster is held still, so that stopping it takes until the signal has come.
    process.kill(postmaster!, 'SIGSTOP')
    try {
      rmSync(pause)
      const stopping = (): boolean =>
        readdirSync('/proc')
          .filter((pid) => /^\d+$/.test(pid))
          .some((pid) => {
            try {
              const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
              return words.some((w) => w.endsWith('/pg_ctl')) && words.includes('stop')
            } catch {
              return false
            }
          })
      while (!stopping()) await new Promise((r) => setTimeout(r, 50))
      run.killGroup('SIGINT')
      await run.said(/SIGINT came during the switch of data directories: letting it end first/)
    } finally {
      process.kill(postmaster!, 'SIGCONT')
    }
    expectSwitchLetEnd(await run.result, 'SIGINT')
    expect((await query<{ n: string }>('select count(*) as n from marks'))[0]!.n).toBe(String(atTarget))
  }, 240_000)

  for (const cut of ['SIGINT', '--timeout'] as const) {
    it(`stops the side cluster it started and removes its data directory when ${cut} comes while WAL is replayed`, async () => {
      const { target } = await recoverable()
      const live = (await query<{ n: string }>('select count(*) as n from marks'))[0]!.n
      const { run, pause, dataDir, postmaster } = await heldAt('pitr-recovering', pitrArgs(target, ...(cut === '--timeout' ? ['--timeout', '30'] : [])))
      expect(isRunning(postmaster!)).toBe(true)
      if (cut === 'SIGINT') {
        run.kill('SIGINT')
        await run.said(/SIGINT: stopping restore pitr/)
        rmSync(pause)
      }
      // Cut by --timeout, the step stays held: what it started is taken back all the same.
      const result = await run.result
      rmSync(pause, { force: true })
      expect(result.exitCode, result.stdout + result.stderr).toBe(1)
      const report = parseReport(result)
      expect(report.interrupted).toMatchObject({ by: cut === 'SIGINT' ? 'SIGINT' : 'timeout' })
      expect(step(report, 'recover').status).toBe('failed')
      expect(step(report, 'prepare').summary).toMatch(
        new RegExp(`; undone as recover failed: stopped the side cluster on port \\d+ and removed ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
      )
      expect(step(report, 'switch').status).toBe('skipped')
      expect(isRunning(postmaster!)).toBe(false)
      expect(existsSync(dataDir)).toBe(false)
      expect((await query<{ n: string }>('select count(*) as n from marks'))[0]!.n).toBe(live)
    }, 240_000)
  }
})
