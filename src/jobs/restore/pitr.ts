import { existsSync } from 'node:fs'
import { appendFile, chown, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import type { Config, ServiceConfig } from '../../config/load.js'
import { walDir, newestArchived } from '../../backups/wal.js'
import { LATEST, findBackup, listBackups, type Leftover, type StoredBackup } from '../../backups/store.js'
import { verifyChecksum } from '../../backups/verify.js'
import { StepFailure, UsageError, describeError, formatSeconds } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import { sleep } from '../../lib/time.js'
import type { Step, StepOutcome } from '../../report/runner.js'
import { asUser, postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { waitUntilReady } from '../../systems/readiness.js'
import { withRefused } from '../backup/refused.js'
import type { RestoreContext } from './context.js'
import { beginSwitch, endSwitch, liveDataDir, postgresService, stopForSure, switchNames, switchStamp } from './pitr-switch.js'
import { downtimeBoundMs } from './full.js'

/**
 * Point-in-time recovery: a new data directory from the newest base backup before the target,
 * WAL from the archive replayed up to the target time, started on a side port and checked;
 * then either switched in place of the live cluster through its runtime, or left running on
 * the side for the operator.
 */

export interface PitrPlan {
  target: Date
  base: StoredBackup
  /** Manifests refused while choosing it: reported by the verify step, never used. */
  unreadable: Leftover[]
  window: { from: string; to: string }
  sideOnly: boolean
}

const BLOCK_BEGIN = '# probe-ops point-in-time recovery: begin'
const BLOCK_END = '# probe-ops point-in-time recovery: end'

/** Chooses the base backup, or refuses a target outside what the backups and archive cover. */
export async function planPitr(config: Config, backupName: string, targetTime: string | undefined, sideOnly: boolean): Promise<PitrPlan> {
  if (!targetTime) throw new UsageError('--mode pitr needs --target-time', 'e.g. --target-time "2026-11-25 03:15:00+00"')
  const target = new Date(targetTime)
  if (Number.isNaN(target.getTime())) throw new UsageError(`--target-time "${targetTime}" is not a time`, 'use ISO 8601 with a zone: 2026-11-25T03:15:00Z')
  const { backups, unreadable } = await listBackups(config.backup.dir)
  const bases = backups.filter((b) => b.manifest.kind === 'base' && b.manifest.consistentAt)
  if (bases.length === 0)
    throw new UsageError(
      'there is no base backup to recover from',
      'take one: probe-ops backup base (with WAL archiving set up: probe-ops backup wal-setup --apply)',
    )
  const at = target.toISOString()
  const before = bases.filter((b) => b.manifest.consistentAt! <= at).sort((a, b) => b.manifest.consistentAt!.localeCompare(a.manifest.consistentAt!))
  // A named base backup that cannot reach the target is the reason to give, before the window.
  const named = backupName === LATEST ? undefined : (await findBackup(config.backup.dir, backupName, config.postgres.database, 'base')).backup
  if (named && !named.manifest.consistentAt)
    throw new UsageError(
      `base backup ${named.manifest.id} does not record when it became consistent`,
      'it was not finished by probe-ops backup base; take a new one',
    )
  if (named && named.manifest.consistentAt! > at) {
    throw new UsageError(
      `base backup ${named.manifest.id} is consistent only from ${named.manifest.consistentAt}, after --target-time ${at}: recovery from it cannot stop earlier`,
      before.length
        ? `use a base backup taken before the target (the newest: ${before[0]!.manifest.id}, consistent from ${before[0]!.manifest.consistentAt}), or "latest" to let probe-ops choose it`
        : 'no base backup is older than the target; choose a later --target-time',
    )
  }
  const newestWal = await newestArchived(walDir(config))
  const from = bases.map((b) => b.manifest.consistentAt!).sort()[0]!
  const to = (newestWal ?? new Date(bases[0]!.manifest.consistentAt!)).toISOString()
  const window = { from, to }
  if (at < from || at > to) {
    throw new UsageError(
      `--target-time ${at} is outside the recoverable window ${from} .. ${to}`,
      'choose a time in that window (base backups: probe-ops backup list; WAL: backup.walDir)',
    )
  }
  return { target, base: named ?? before[0]!, unreadable, window, sideOnly }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

interface PitrState {
  dataDir?: string
  port?: number
  user?: OsUser
  liveDir?: string
}

const pitrState = new WeakMap<RestoreContext, PitrState>()
function stateOf(context: RestoreContext): PitrState {
  let s = pitrState.get(context)
  if (!s) pitrState.set(context, (s = {}))
  return s
}

async function pgCtl(config: Config, user: OsUser | undefined, args: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const { execa } = await import('execa')
  const result = await execa(join(config.backup.binDir, 'pg_ctl'), args, { ...asUser(user), reject: false, timeout: timeoutMs, stdin: 'ignore', all: true })
  return { ok: result.exitCode === 0, output: String(result.all ?? '').trim() }
}

async function chownTree(path: string, user: OsUser | undefined): Promise<void> {
  if (!user || process.getuid?.() !== 0) return
  await chown(path, user.uid, user.gid)
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) await chownTree(child, user)
    else await chown(child, user.uid, user.gid)
  }
}

export function pitrSteps(plan: PitrPlan): Step<RestoreContext>[] {
  const verify: Step<RestoreContext> = {
    id: 'verify',
    title: 'Verify the base backup',
    async run(context) {
      context.backup = plan.base
      await verifyChecksum(plan.base)
      return withRefused(
        {
          summary: `${plan.base.manifest.id} (consistent from ${plan.base.manifest.consistentAt}); recoverable window ${plan.window.from} .. ${plan.window.to}`,
          data: { base: plan.base.manifest.id, window: plan.window, target: plan.target.toISOString() },
        },
        plan.unreadable,
      )
    },
  }

  const prepare: Step<RestoreContext> = {
    id: 'prepare',
    title: 'Build a new data directory from the base backup',
    async run(context, run) {
      const { config, runtimes } = context
      const state = stateOf(context)
      const live = await liveDataDir(config, runtimes).catch(() => undefined)
      state.liveDir = live && existsSync(live) ? live : undefined
      const stamp = switchStamp(context.at)
      // Beside the live directory, so that switching is a rename on one filesystem.
      const dir = state.liveDir ? switchNames(state.liveDir, stamp).recovered : join(config.backup.dir, `pitr-${stamp}`)
      if (run.dryRun)
        return { summary: `would unpack ${plan.base.manifest.id} into ${dir} and replay WAL from ${walDir(config)} to ${plan.target.toISOString()}` }
      state.user = postgresOsUser(state.liveDir)
      await mkdir(dir, { mode: 0o700 })
      state.dataDir = dir
      const { execa } = await import('execa')
      const files = (await readdir(plan.base.path)).filter((f) => f.endsWith('.tar.gz'))
      const main = files.find((f) => f === 'base.tar.gz')
      if (!main) throw new StepFailure(`${plan.base.manifest.id} has no base.tar.gz`, 'the base backup is incomplete; take a new one')
      await execa('tar', ['-xzf', join(plan.base.path, main), '-C', dir])
      if (files.includes('pg_wal.tar.gz')) await execa('tar', ['-xzf', join(plan.base.path, 'pg_wal.tar.gz'), '-C', join(dir, 'pg_wal')])
      state.port = config.restore.pitrPort || (await freePort())
      const settings = {
        restore_command: `cp '${walDir(config)}/%f' '%p'`,
        // The setting's parser takes "2026-11-25 03:15:00.000+00", not ISO's T and Z.
        recovery_target_time: plan.target.toISOString().replace('T', ' ').replace('Z', '+00'),
        recovery_target_action: 'promote',
        // The recovered cluster must not archive into the live cluster's archive.
        archive_mode: 'off',
        port: String(state.port),
        listen_addresses: '127.0.0.1',
        unix_socket_directories: dir,
      }
      const block = [BLOCK_BEGIN, ...Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`), BLOCK_END, ''].join('\n')
      await appendFile(join(dir, 'postgresql.auto.conf'), `\n${block}`)
      await writeFile(join(dir, 'recovery.signal'), '')
      await rm(join(dir, 'postmaster.pid'), { force: true })
      await chownTree(dir, state.user)
      return { summary: `unpacked ${plan.base.manifest.id} into ${dir}; it will start on port ${state.port}`, data: { dataDir: dir, port: state.port } }
    },
  }

  const recover: Step<RestoreContext> = {
    id: 'recover',
    title: 'Replay WAL to the target time on a side port',
    async run(context, run) {
      const state = stateOf(context)
      if (run.dryRun || !state.dataDir) return { summary: `would start the new cluster and replay WAL to ${plan.target.toISOString()}` }
      const started = performance.now()
      const log = join(state.dataDir, 'pitr.log')
      const start = await pgCtl(context.config, state.user, ['-D', state.dataDir, '-l', log, '-w', '-t', '600', 'start'], 620_000)
      if (!start.ok) {
        const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-8)
        throw new StepFailure(
          `the recovered cluster did not start: ${tail.find((l) => /FATAL|PANIC/.test(l)) ?? start.output.split('\n').at(-1)}`,
          `its log is ${log}; the live cluster was not touched`,
          { logTail: tail },
        )
      }
      const pg = { ...context.config.postgres, host: '127.0.0.1', port: state.port! }
      const deadline = Date.now() + 600_000
      for (;;) {
        const client = await connectPostgres(pg, { database: 'postgres' }).catch(() => undefined)
        if (client) {
          const [row] = await queryRows<{ recovering: boolean }>(client, 'select pg_is_in_recovery() as recovering').finally(() => closePostgres(client))
          if (!row!.recovering) break
        }
        if (Date.now() > deadline) throw new StepFailure('the recovered cluster is still replaying WAL after 10 minutes', `its log is ${log}`)
        await sleep(200)
      }
      return {
        summary: `replayed to ${plan.target.toISOString()} and promoted in ${formatSeconds(performance.now() - started)}; running on 127.0.0.1:${state.port}`,
        data: { port: state.port, log },
      }
    },
  }

  const check: Step<RestoreContext> = {
    id: 'check',
    title: 'Check the recovered database',
    async run(context, run) {
      const state = stateOf(context)
      if (run.dryRun || !state.port) return { summary: 'would check that the database is there and count its rows' }
      const { tableCounts } = await import('../../backups/database.js')
      const client = await connectPostgres({ ...context.config.postgres, host: '127.0.0.1', port: state.port })
      try {
        const tables = await tableCounts(client)
        return {
          summary: `${context.config.postgres.database}: ${tables.length} tables, ${tables.reduce((s, t) => s + t.rows, 0).toLocaleString('en-US')} rows`,
          data: { tables },
        }
      } finally {
        await closePostgres(client)
      }
    },
  }

  const sideOnly: Step<RestoreContext> = {
    id: 'switch',
    title: 'Leave the recovered cluster running beside the live one',
    async run(context, run) {
      const state = stateOf(context)
      const bin = context.config.backup.binDir
      if (run.dryRun || !state.dataDir) return { summary: 'would leave it running on a side port and print the next commands' }
      const nextSteps = [
        `inspect it:   psql -h 127.0.0.1 -p ${state.port} -U ${context.config.postgres.user} ${context.config.postgres.database}`,
        `stop it:      ${process.getuid?.() === 0 ? 'runuser -u postgres -- ' : ''}${bin}/pg_ctl -D ${state.dataDir} stop -m fast`,
        `switch to it: stop the live PostgreSQL, move ${state.liveDir ?? 'its data directory'} aside, move ${state.dataDir} in its place, remove the probe-ops block from its postgresql.auto.conf, start PostgreSQL`,
        `or drop it:   stop it, then rm -rf ${state.dataDir}`,
      ]
      return {
        summary: `left running on 127.0.0.1:${state.port} (${state.dataDir})`,
        data: { port: state.port, dataDir: state.dataDir, nextSteps, details: nextSteps },
      }
    },
  }

  const switchLive: Step<RestoreContext> = {
    id: 'switch',
    title: 'Switch the recovered cluster in place of the live one',
    async run(context, run) {
      const { config } = context
      const { dataDir, liveDir, port, user } = stateOf(context)
      if (run.dryRun || !dataDir) return { summary: 'would stop the live PostgreSQL, put the recovered data directory in its place and start it' }
      if (!liveDir)
        throw new StepFailure(
          `the live data directory is not visible from here (services.postgres.dataDir)`,
          `the recovered cluster is still running on port ${port}: switch by hand, or use --side-only`,
        )
      const service = postgresService(config)
      const { aside } = switchNames(liveDir, switchStamp(context.at))
      // Ctrl-C, a kill or --timeout from here on lets the switch finish, or undo itself, first.
      return run.critical('the switch of data directories', () => switchDataDirectories(context, service, { liveDir, dataDir, aside, user }), {
        boundMs: downtimeBoundMs([service]) + 120_000,
        repair: 'probe-ops restore --cleanup finishes or undoes the switch and starts PostgreSQL',
      })
    },
  }

  /** Stops the live cluster, puts the recovered data directory in its place and starts it; or, failing that, puts the old one back. */
  async function switchDataDirectories(
    { config, runtimes }: RestoreContext,
    service: ServiceConfig,
    state: { liveDir: string; dataDir: string; aside: string; user?: OsUser },
  ): Promise<StepOutcome> {
    const { aside } = state
    // Noted before anything changes (a backup.dir that cannot take the note stops the switch while
    // the recovered cluster still runs); killed from here on, `restore --cleanup` finishes or
    // undoes the switch from this note.
    await beginSwitch(config, { liveDir: state.liveDir, aside, recovered: state.dataDir, service: service.name })
    const stop = await pgCtl(config, state.user, ['-D', state.dataDir, 'stop', '-m', 'fast', '-w'], 120_000)
    if (!stop.ok) {
      await endSwitch(config)
      throw new StepFailure(`the recovered cluster did not stop: ${stop.output}`, 'the live cluster was not touched')
    }
    // Back to the live cluster's own settings: drop the side-port block.
    const autoConf = join(state.dataDir, 'postgresql.auto.conf')
    const text = await readFile(autoConf, 'utf8')
    await writeFile(autoConf, text.replace(new RegExp(`\\n?${BLOCK_BEGIN}[\\s\\S]*?${BLOCK_END}\\n?`), '\n'))
    const downStarted = performance.now()
    await stopForSure(runtimes, service)
    await rename(state.liveDir, aside)
    await failpoint('pitr-switch-between-renames')
    await rename(state.dataDir, state.liveDir)
    await failpoint('pitr-switch-before-start')
    try {
      await runtimes.start(service)
      const ready = await waitUntilReady(service, config, runtimes)
      if (!ready.ready) throw new StepFailure(`PostgreSQL is not ready on the recovered data: ${ready.detail}`)
    } catch (error) {
      // Switching back moves data directories again: only with PostgreSQL surely stopped, and the
      // note stays until it runs again (else `restore --cleanup` finishes the job).
      await stopForSure(runtimes, service)
      await rename(state.liveDir, state.dataDir)
      await rename(aside, state.liveDir)
      await runtimes.start(service)
      const back = await waitUntilReady(service, config, runtimes)
      if (!back.ready)
        throw new StepFailure(
          `${describeError(error)}; switched back to the old data directory, but PostgreSQL is not ready on it either: ${back.detail}`,
          'probe-ops recover postgres; the recovered data directory is kept at ' + state.dataDir,
        )
      await endSwitch(config)
      throw new StepFailure(`${describeError(error)}; switched back to the live data directory`, `the recovered data directory is kept at ${state.dataDir}`)
    }
    await failpoint('pitr-switch-after-start')
    await endSwitch(config)
    const downtimeMs = Math.round(performance.now() - downStarted)
    return {
      summary: `PostgreSQL runs on the data recovered to ${plan.target.toISOString()}; the old data directory is kept at ${aside}; down for ${formatSeconds(downtimeMs)}`,
      data: { dataDir: state.liveDir, previous: aside, downtimeMs, parent: dirname(state.liveDir) },
    }
  }

  return [verify, prepare, recover, check, plan.sideOnly ? sideOnly : switchLive]
}
