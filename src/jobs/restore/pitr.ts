import { existsSync } from 'node:fs'
import { lchown, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import type { Config, ServiceConfig } from '../../config/load.js'
import { walDir, newestArchived } from '../../backups/wal.js'
import { LATEST, findBackup, listBackups, type Leftover, type StoredBackup } from '../../backups/store.js'
import { verifyChecksum } from '../../backups/verify.js'
import { HintedError, StepFailure, UsageError, describeError, formatSeconds } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import { readOwnFile, writeFileAtomic } from '../../lib/files.js'
import { sleep } from '../../lib/time.js'
import type { Step, StepOutcome } from '../../report/runner.js'
import { asUser, giveTree, postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { runInOwnGroup } from '../../systems/process-group.js'
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
  /** The data directory has been given to PostgreSQL's user (giveTree began). */
  given?: boolean
  /** The directory is the operator's now (a failure names it, or the switch took it): never discarded. */
  kept?: boolean
  /** The discarding under way or done (see discardRecovered), so that it happens once. */
  discarding?: Promise<string | undefined>
}

const pitrState = new WeakMap<RestoreContext, PitrState>()
function stateOf(context: RestoreContext): PitrState {
  let s = pitrState.get(context)
  if (!s) pitrState.set(context, (s = {}))
  return s
}

async function pgCtl(
  config: Config,
  user: OsUser | undefined,
  args: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ ok: boolean; exitCode?: number; output: string }> {
  const result = await runInOwnGroup(join(config.backup.binDir, 'pg_ctl'), args, {
    ...asUser(user),
    reject: false,
    timeout: timeoutMs,
    ...(signal ? { cancelSignal: signal } : {}),
    // pg_ctl start, cut with SIGINT, also tells the postmaster it started to shut down.
    killSignal: 'SIGINT',
    stdin: 'ignore',
    all: true,
  })
  return { ok: result.exitCode === 0, exitCode: result.exitCode, output: String(result.all ?? '').trim() }
}

/** postgresql.auto.conf is a few settings; ALTER SYSTEM never makes a big one. */
const MAX_AUTO_CONF_BYTES = 1024 * 1024
/** The log of a recovery that did not start is a few lines of start-up and replay. */
const MAX_LOG_BYTES = 4 * 1024 * 1024

/**
 * Changes the recovered cluster's postgresql.auto.conf, as root, in a directory PostgreSQL's user
 * owns (or that a base backup from its server filled): only a regular file is read (no link is
 * followed, no FIFO waited on, nothing bigger than such a file ever is), and the new content
 * replaces it by a rename, which never writes through a link put there meanwhile.
 */
async function rewriteAutoConf(dataDir: string, user: OsUser | undefined, change: (text: string) => string, hint: string): Promise<void> {
  const path = join(dataDir, 'postgresql.auto.conf')
  try {
    let text = ''
    try {
      text = await readOwnFile(path, MAX_AUTO_CONF_BYTES)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    await writeFileAtomic(path, change(text), 0o600)
    if (user && process.getuid?.() === 0) await lchown(path, user.uid, user.gid)
  } catch (error) {
    throw new StepFailure(`${path} not rewritten: ${describeError(error)} (probe-ops reads and writes only a regular file there, never through a link)`, hint)
  }
}

/**
 * Removes a recovered data directory. Once given to PostgreSQL's user, its content is removed as
 * that user (find -delete, which follows no link): whatever was put in it meanwhile, a link out
 * of it included, root removes nothing through it. The directory itself, in a parent that may be
 * root's (backup.dir), is then removed by root, only if it is still an empty directory.
 */
async function removeDataDir(dataDir: string, owner: OsUser | undefined): Promise<void> {
  const asOwner = asUser(owner)
  if (asOwner.uid === undefined) return rm(dataDir, { recursive: true, force: true })
  const removed = await runInOwnGroup('find', ['.', '-mindepth', '1', '-delete'], {
    ...asOwner,
    cwd: dataDir,
    reject: false,
    stdin: 'ignore',
    timeout: 300_000,
  })
  if (removed.exitCode !== 0) throw new Error(`find -delete in ${dataDir} failed: ${String(removed.stderr).trim().split('\n').at(-1)}`)
  await rmdir(dataDir)
}

/**
 * What this run made for the recovery and did not hand over, taken back: the side cluster is
 * stopped (bounded; started here and left behind, it would run on unseen, holding its port and
 * its disk) and its data directory removed, once. Says what it did, or why it kept them.
 */
async function discardRecovered(context: RestoreContext): Promise<string | undefined> {
  const state = stateOf(context)
  if (!state.dataDir || state.kept) return undefined
  state.discarding ??= (async () => {
    const dataDir = state.dataDir!
    const done: string[] = []
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      const stop = await pgCtl(context.config, state.user, ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '30'], 40_000)
      // pg_ctl status: 3 when no server runs there (a stale pid file), 0 when one still does.
      if (!stop.ok && (await pgCtl(context.config, state.user, ['-D', dataDir, 'status'], 10_000)).exitCode !== 3) {
        state.kept = true
        return `the side cluster on port ${state.port} did not stop (${stop.output.split('\n').at(-1)}): it is left running on ${dataDir}; stop it with pg_ctl -D ${dataDir} stop, then remove the directory`
      }
      done.push(`stopped the side cluster on port ${state.port}`)
    }
    try {
      await removeDataDir(dataDir, state.given ? state.user : undefined)
    } catch (error) {
      return [...done, `could not remove ${dataDir}: ${describeError(error)}`].join('; ')
    }
    return [...done, `removed ${dataDir}`].join(' and ')
  })()
  return state.discarding
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
    // Cut short, it removes what it unpacked before the job goes on.
    cleanupMs: 30_000,
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
      const files = (await readdir(plan.base.path)).filter((f) => f.endsWith('.tar.gz'))
      const main = files.find((f) => f === 'base.tar.gz')
      if (!main) throw new StepFailure(`${plan.base.manifest.id} has no base.tar.gz`, 'the base backup is incomplete; take a new one')
      await mkdir(dir, { mode: 0o700 })
      state.dataDir = dir
      try {
        await unpack(context, dir, files, run.signal)
      } catch (error) {
        const discarded = await discardRecovered(context)
        throw discarded ? new StepFailure(`${describeError(error)}; ${discarded}`, error instanceof HintedError ? error.hint : undefined) : error
      }
      return { summary: `unpacked ${plan.base.manifest.id} into ${dir}; it will start on port ${state.port}`, data: { dataDir: dir, port: state.port } }
    },
    // The recovery is taken back when a later step fails or the run is cut before the switch.
    undo: discardRecovered,
  }

  /** The base backup unpacked into `dir`, set to replay WAL to the target on a side port, and given to PostgreSQL's user. */
  async function unpack(context: RestoreContext, dir: string, files: string[], signal: AbortSignal): Promise<void> {
    const { config } = context
    const state = stateOf(context)
    const tar = (archive: string, into: string) =>
      runInOwnGroup('tar', ['-xzf', join(plan.base.path, archive), '-C', into], { cancelSignal: signal, stdin: 'ignore' })
    await tar('base.tar.gz', dir)
    if (files.includes('pg_wal.tar.gz')) await tar('pg_wal.tar.gz', join(dir, 'pg_wal'))
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
    await rewriteAutoConf(dir, undefined, (text) => `${text}\n${block}`, `the base backup ${plan.base.manifest.id} holds something else there: take a new one`)
    await writeFileAtomic(join(dir, 'recovery.signal'), '', 0o600)
    await rm(join(dir, 'postmaster.pid'), { force: true })
    state.given = true
    if (state.user && process.getuid?.() === 0) await giveTree(dir, state.user)
  }

  const recover: Step<RestoreContext> = {
    id: 'recover',
    title: 'Replay WAL to the target time on a side port',
    // Cut short (Ctrl-C, --timeout), it stops waiting; prepare's undo then stops the side cluster and removes it.
    cleanupMs: 15_000,
    async run(context, run) {
      const state = stateOf(context)
      if (run.dryRun || !state.dataDir) return { summary: `would start the new cluster and replay WAL to ${plan.target.toISOString()}` }
      const started = performance.now()
      const log = join(state.dataDir, 'pitr.log')
      const start = await pgCtl(context.config, state.user, ['-D', state.dataDir, '-l', log, '-w', '-t', '600', 'start'], 620_000, run.signal)
      run.signal.throwIfAborted()
      if (!start.ok) {
        // In a directory PostgreSQL's user owns: never read through a link put there instead.
        const tail = (await readOwnFile(log, MAX_LOG_BYTES).catch(() => '')).trim().split('\n').slice(-8)
        // Its log, in its data directory, is what to read: both stay.
        state.kept = true
        throw new StepFailure(
          `the recovered cluster did not start: ${tail.find((l) => /FATAL|PANIC/.test(l)) ?? start.output.split('\n').at(-1)}`,
          `its log is ${log}; the live cluster was not touched`,
          { logTail: tail },
        )
      }
      await failpoint('pitr-recovering')
      const pg = { ...context.config.postgres, host: '127.0.0.1', port: state.port! }
      const deadline = Date.now() + 600_000
      for (;;) {
        run.signal.throwIfAborted()
        const client = await connectPostgres(pg, { database: 'postgres' }).catch(() => undefined)
        if (client) {
          const [row] = await queryRows<{ recovering: boolean }>(client, 'select pg_is_in_recovery() as recovering').finally(() => closePostgres(client))
          if (!row!.recovering) break
        }
        if (Date.now() > deadline) {
          state.kept = true
          throw new StepFailure('the recovered cluster is still replaying WAL after 10 minutes', `it runs on; its log is ${log}`)
        }
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
      state.kept = true
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
      const state = stateOf(context)
      const { dataDir, liveDir, port, user } = state
      if (run.dryRun || !dataDir) return { summary: 'would stop the live PostgreSQL, put the recovered data directory in its place and start it' }
      // From here on the switch says where the recovered data directory is, or moves it in.
      state.kept = true
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
    await failpoint('pitr-switch-begun')
    const stop = await pgCtl(config, state.user, ['-D', state.dataDir, 'stop', '-m', 'fast', '-w'], 120_000)
    if (!stop.ok) {
      await endSwitch(config)
      throw new StepFailure(`the recovered cluster did not stop: ${stop.output}`, 'the live cluster was not touched')
    }
    // Back to the live cluster's own settings: drop the side-port block.
    try {
      await rewriteAutoConf(
        state.dataDir,
        state.user,
        (text) => text.replace(new RegExp(`\\n?${BLOCK_BEGIN}[\\s\\S]*?${BLOCK_END}\\n?`), '\n'),
        `the live cluster was not touched; the recovered data directory, stopped, is kept at ${state.dataDir}: find out what replaced its postgresql.auto.conf`,
      )
    } catch (error) {
      await endSwitch(config)
      throw error
    }
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
