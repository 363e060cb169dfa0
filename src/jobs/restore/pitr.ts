import { existsSync } from 'node:fs'
import { lchown, mkdir, rm, rmdir } from 'node:fs/promises'
import { join } from 'node:path'
import { beginRecovery, switchNames, switchStamp } from '../../backups/run-notes.js'
import { prepareBackupDir } from '../../backups/store.js'
import type { Config } from '../../config/load.js'
import { verifyChecksum } from '../../backups/verify.js'
import { defaultWalCommand, walCommandSettings, walCommands } from '../../wal/settings.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import { readOwnFile, writeFileAtomic } from '../../lib/files.js'
import { freePort } from '../../lib/ports.js'
import { sleep } from '../../lib/time.js'
import { hintOf } from '../hints.js'
import type { StepDefinition } from '../../report/outcome.js'
import { asUser, giveTree, postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { pgCtl, unpackBaseBackup } from '../../systems/pg-tools.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { runProgram } from '../../systems/programs.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { PitrContext, SideCluster } from './context.js'
import type { PitrCheckData, PitrVerifyData, PrepareData, RecoverData } from './data.js'
import { replayEnd, syncAtStart } from './planning.js'
import { liveDataDir, postgresService } from './switch-repair.js'

/**
 * Point-in-time recovery: a new data directory from the newest base backup before the target,
 * WAL from the archive replayed up to the target time, started on a side port and checked; then
 * (pitr-switch.ts) either switched in place of the live cluster through its runtime, or left
 * running on the side for the operator. The side cluster the steps build is context.state.pitr;
 * until the switch (or --side-only) hands it over, a failure or a cut run takes it back.
 */

/** The lines probe-ops adds to the side cluster's postgresql.auto.conf, between these two. */
export const BLOCK_BEGIN = '# probe-ops point-in-time recovery: begin'
export const BLOCK_END = '# probe-ops point-in-time recovery: end'

/** postgresql.auto.conf is a few settings; ALTER SYSTEM never makes a big one. */
const MAX_AUTO_CONF_BYTES = 1024 * 1024
/** The log of a recovery that did not start is a few lines of start-up and replay. */
const MAX_LOG_BYTES = 4 * 1024 * 1024

/** The side cluster as far as the steps before built it; undefined in a dry run (or when prepare was skipped). */
export function sideCluster(context: PitrContext): SideCluster | undefined {
  return context.state.pitr
}

export const verifyBase: StepDefinition<PitrContext, PitrVerifyData> = {
  async run({ base, window, target, unreadable }) {
    if (!window || !target) throw new Error('a point-in-time recovery has a target and a window')
    await verifyChecksum(base)
    return {
      summary: withRefusedNote(
        `${base.manifest.id} (consistent from ${base.manifest.consistentAt}); recoverable window ${window.from} .. ${window.to}`,
        unreadable,
      ),
      findings: refusedFindings(unreadable),
      data: { base: base.manifest.id, window, target: target.toISOString() },
    }
  },
}

/**
 * Changes the recovered cluster's postgresql.auto.conf, as root, in a directory PostgreSQL's user
 * owns (or that a base backup from its server filled): only a regular file is read (no link is
 * followed, no FIFO waited on, nothing bigger than such a file ever is), and the new content
 * replaces it by a rename, which never writes through a link put there meanwhile.
 */
export async function rewriteAutoConf(dataDir: string, user: OsUser | undefined, change: (text: string) => string, hint: string): Promise<void> {
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
  if (asUser(owner).uid === undefined) return rm(dataDir, { recursive: true, force: true })
  await emptyDataDir(dataDir, owner)
  await rmdir(dataDir)
}

/** What is in a data directory PostgreSQL's user owns, removed as that user (see removeDataDir). */
async function emptyDataDir(dataDir: string, owner: OsUser | undefined): Promise<void> {
  const removed = await runProgram('find', ['.', '-mindepth', '1', '-delete'], { user: owner, cwd: dataDir, timeoutMs: 300_000 })
  if (removed.exitCode !== 0) throw new Error(`find -delete in ${dataDir} failed: ${removed.stderr.trim().split('\n').at(-1)}`)
}

/**
 * What this run made for the recovery and did not hand over, taken back: the side cluster is
 * stopped (bounded; started here and left behind, it would run on unseen, holding its port and
 * its disk) and its data directory removed, once. Says what it did, or why it kept them.
 */
async function discardRecovered(context: PitrContext): Promise<string | undefined> {
  const side = sideCluster(context)
  if (!side || side.kept) return undefined
  side.discarding ??= discardSide(context.config, side)
  return side.discarding
}

/** A side cluster's server stopped (when one runs) and its data directory removed: what it did, or why it kept them. */
export async function discardSide(config: Readonly<Config>, side: SideCluster): Promise<string> {
  const { dataDir } = side
  const done: string[] = []
  const where = side.port ? ` on port ${side.port}` : ''
  if (existsSync(join(dataDir, 'postmaster.pid'))) {
    const stop = await pgCtl(config, ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '30'], { user: side.user, timeoutMs: 40_000 })
    // pg_ctl status: 3 when no server runs there (a stale pid file), 0 when one still does.
    if (!stop.ok && (await pgCtl(config, ['-D', dataDir, 'status'], { user: side.user, timeoutMs: 10_000 })).exitCode !== 3) {
      side.kept = true
      return `the side cluster${where} did not stop (${stop.output.split('\n').at(-1)}): it is left running on ${dataDir}; stop it with pg_ctl -D ${dataDir} stop, then remove the directory`
    }
    done.push(`stopped the side cluster${where}`)
  }
  try {
    await removeDataDir(dataDir, side.given ? side.user : undefined)
  } catch (error) {
    return [...done, `could not remove ${dataDir}: ${describeError(error)}`].join('; ')
  }
  return [...done, `removed ${dataDir}`].join(' and ')
}

export const prepare: StepDefinition<PitrContext, PrepareData> = {
  // Cut short, it removes what it unpacked before the job goes on.
  cleanupMs: 30_000,
  async run(context, run) {
    const { config, runtimes, base, target } = context
    const live = await liveDataDir(config, runtimes).catch(() => undefined)
    const liveDir = live && existsSync(live) ? live : undefined
    const stamp = switchStamp(context.at)
    // Beside the live directory, so that switching is a rename on one filesystem.
    const dataDir = liveDir ? switchNames(liveDir, stamp).recovered : join(config.backup.dir, `pitr-${stamp}`)
    if (run.dryRun)
      return { summary: `would unpack ${base.manifest.id} into ${dataDir} and replay WAL from the archive (probe-ops wal fetch) to ${replayEnd(target)}` }
    // Noted before the directory exists: killed from here on, restore --cleanup removes it.
    if (liveDir) {
      await prepareBackupDir(config.backup.dir)
      await beginRecovery(config, { liveDir, ...switchNames(liveDir, stamp), service: postgresService(config).name })
    }
    await mkdir(dataDir, { mode: 0o700 })
    const side: SideCluster = { dataDir, liveDir, user: postgresOsUser(liveDir) }
    context.state.pitr = side
    let from: string | undefined
    try {
      from = await unpack(context, side, run.signal)
    } catch (error) {
      const discarded = await discardRecovered(context)
      throw discarded ? new StepFailure(`${describeError(error)}; ${discarded}`, hintOf(error)) : error
    }
    return {
      summary: `unpacked ${base.manifest.id}${from ? ` (${from})` : ''} into ${dataDir}; it will start on port ${side.port}`,
      data: { dataDir, port: side.port!, ...(from ? { from } : {}) },
    }
  },
  // The recovery is taken back when a later step fails or the run is cut before the switch.
  undo: discardRecovered,
}

/**
 * The base backup unpacked into the side cluster's directory, set to replay WAL to the target (or
 * to the end of the archive) on a side port, and given to PostgreSQL's user. Says where the base
 * came from when it was read from a repository.
 */
async function unpack(context: PitrContext, side: SideCluster, signal: AbortSignal): Promise<string | undefined> {
  const { config, base, target } = context
  const { dataDir } = side
  let from: string | undefined
  if (context.copies) from = await (await import('./physical.js')).unpackFirstCopy(context, side, signal, () => emptyDataDir(dataDir, side.user))
  else await unpackBaseBackup(base.path, dataDir, { signal })
  const port = config.restore.pitrPort || (await freePort())
  // Without a target, recovery replays every archived segment, then ends and promotes by itself.
  const stop: Record<string, string> = target
    ? // The setting's parser takes "2026-11-25 03:15:00.000+00", not ISO's T and Z.
      { recovery_target_time: target.toISOString().replace('T', ' ').replace('Z', '+00'), recovery_target_action: 'promote' }
    : {}
  const settings: Record<string, string> = {
    // The archive as wal push left it in every repository, read as PostgreSQL's user.
    restore_command: walCommands(walCommandSettings(config), defaultWalCommand()).restore,
    ...stop,
    // The recovered cluster must not archive into the live cluster's archive.
    archive_mode: 'off',
    ...syncAtStart(base.manifest),
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dataDir,
  }
  const block = [BLOCK_BEGIN, ...Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`), BLOCK_END, ''].join('\n')
  await rewriteAutoConf(dataDir, undefined, (text) => `${text}\n${block}`, `the base backup ${base.manifest.id} holds something else there: take a new one`)
  await writeFileAtomic(join(dataDir, 'recovery.signal'), '', 0o600)
  await rm(join(dataDir, 'postmaster.pid'), { force: true })
  side.port = port
  side.given = true
  if (side.user && process.getuid?.() === 0) await giveTree(dataDir, side.user)
  return from
}

/** How long the side cluster may take to start, and then to replay WAL up to the target. */
const START_BOUND_S = 600
const REPLAY_BOUND_MS = 600_000

export const recover: StepDefinition<PitrContext, RecoverData> = {
  // Cut short (Ctrl-C, --timeout), it stops waiting; prepare's undo then stops the side cluster and removes it.
  cleanupMs: 15_000,
  async run(context, run) {
    const side = sideCluster(context)
    if (run.dryRun || !side?.port) return { summary: `would start the new cluster and replay WAL to ${replayEnd(context.target)}` }
    const started = performance.now()
    const log = join(side.dataDir, 'pitr.log')
    const start = await pgCtl(context.config, ['-D', side.dataDir, '-l', log, '-w', '-t', String(START_BOUND_S), 'start'], {
      user: side.user,
      timeoutMs: START_BOUND_S * 1000 + 20_000,
      signal: run.signal,
    })
    run.signal.throwIfAborted()
    if (!start.ok) {
      // In a directory PostgreSQL's user owns: never read through a link put there instead.
      const tail = (await readOwnFile(log, MAX_LOG_BYTES).catch(() => '')).trim().split('\n').slice(-8)
      // Its log, in its data directory, is what to read: both stay.
      side.kept = true
      throw new StepFailure(
        `the recovered cluster did not start: ${tail.find((l) => /FATAL|PANIC/.test(l)) ?? start.output.split('\n').at(-1)}`,
        `its log is ${log}; the live cluster was not touched`,
        { logTail: tail },
      )
    }
    await failpoint('pitr-recovering')
    const pg = { ...context.config.postgres, host: '127.0.0.1', port: side.port }
    const deadline = Date.now() + REPLAY_BOUND_MS
    for (;;) {
      run.signal.throwIfAborted()
      const client = await connectPostgres(pg, { database: 'postgres' }).catch(() => undefined)
      if (client) {
        const [row] = await queryRows<{ recovering: boolean }>(client, 'select pg_is_in_recovery() as recovering').finally(() => closePostgres(client))
        if (!row!.recovering) break
      }
      if (Date.now() > deadline) {
        side.kept = true
        throw new StepFailure('the recovered cluster is still replaying WAL after 10 minutes', `it runs on; its log is ${log}`)
      }
      await sleep(200)
    }
    return {
      summary: `replayed to ${replayEnd(context.target)} and promoted in ${formatSeconds(performance.now() - started)}; running on 127.0.0.1:${side.port}`,
      data: { port: side.port, log },
    }
  },
}

export const checkRecovered: StepDefinition<PitrContext, PitrCheckData> = {
  async run(context, run) {
    const side = sideCluster(context)
    if (run.dryRun || !side?.port) return { summary: 'would check that the database is there and count its rows' }
    const { tableCounts } = await import('../../backups/database.js')
    const client = await connectPostgres({ ...context.config.postgres, host: '127.0.0.1', port: side.port })
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
