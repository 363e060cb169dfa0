import { existsSync } from 'node:fs'
import { lchown, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { beginRecovery, switchNames, switchStamp } from '../../backups/run-notes.js'
import { prepareBackupDir } from '../../backups/store.js'
import type { Config } from '../../config/load.js'
import { verifyChecksum } from '../../backups/verify.js'
import { createSpool, removeSpool, restoreCommand, spoolDirectory, WalSpool } from '../../wal/spool.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import { failpoint } from '../../lib/failpoint.js'
import { readOwnFile, writeFileAtomic } from '../../lib/files.js'
import { formatSize } from '../../lib/format.js'
import { freePort } from '../../lib/ports.js'
import { openRepositories } from '../../repositories/open.js'
import { sleep } from '../../lib/time.js'
import { hintOf } from '../hints.js'
import type { StepDefinition } from '../../report/outcome.js'
import { firstUntraversable, giveTree, postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { pgCtl, unpackBaseBackup } from '../../systems/pg-tools.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { emptyOwnedTree, removeOwnedTree } from '../../systems/owned-tree.js'
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
 * What this run made for the recovery and did not hand over, taken back: the side cluster is
 * stopped (bounded; started here and left behind, it would run on unseen, holding its port and
 * its disk) and its data directory removed, once. Says what it did, or why it kept them.
 */
async function discardRecovered(context: PitrContext): Promise<string | undefined> {
  const side = sideCluster(context)
  if (!side) return undefined
  // Kept or not, the spool has served: a job that reuses these steps without the restore's close leaves none.
  const said = side.kept ? undefined : await (side.discarding ??= discardSide(context.config, side))
  await endSpool(context)
  return said
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
    await removeOwnedTree(dataDir, side.given ? side.user : undefined)
  } catch (error) {
    return [...done, `could not remove ${dataDir}: ${describeError(error)}`].join('; ')
  }
  return [...done, `removed ${dataDir}`].join(' and ')
}

/**
 * A side cluster runs as PostgreSQL's OS user: refused, before anything is written, when that user
 * may not enter `dir` (backup.dir is root's 0700 unless wal-setup opened it).
 */
export function refuseUnreachable(dir: string, user: OsUser | undefined, what: string): void {
  if (!user || process.getuid?.() !== 0 || user.uid === 0) return
  const closed = firstUntraversable(dir, user)
  if (closed)
    throw new StepFailure(
      `PostgreSQL's OS user (uid ${user.uid}) cannot enter ${closed}, so ${what} cannot start in ${dir}`,
      `let it through (chmod o+x ${closed}, or the group), as wal fetch needs for a local repository; nothing was changed`,
    )
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
      return {
        summary: `would unpack ${base.manifest.id} into ${dataDir} and replay WAL from the archive (through a spool beside it) to ${replayEnd(target)}`,
      }
    const side: SideCluster = { dataDir, liveDir, user: postgresOsUser(liveDir) }
    // Without a live cluster in sight the recovered one goes in backup.dir, which must let it run.
    if (!liveDir) refuseUnreachable(config.backup.dir, side.user, 'a recovered cluster')
    // Noted before the directory exists: killed from here on, restore --cleanup removes it.
    if (liveDir) {
      await prepareBackupDir(config.backup.dir)
      await beginRecovery(config, { liveDir, ...switchNames(liveDir, stamp), service: postgresService(config).name })
    }
    await mkdir(dataDir, { mode: 0o700 })
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
export async function unpack(context: PitrContext, side: SideCluster, signal: AbortSignal): Promise<string | undefined> {
  const { config, base, target } = context
  const { dataDir } = side
  let from: string | undefined
  if (context.copies) from = await (await import('./physical.js')).unpackFirstCopy(context, side, signal, () => emptyOwnedTree(dataDir, side.user))
  else await unpackBaseBackup(base.path, dataDir, { signal })
  const port = config.restore.pitrPort || (await freePort())
  // Without a target, recovery replays every archived segment, then ends and promotes by itself.
  const stop: Record<string, string> = target
    ? // The setting's parser takes "2026-11-25 03:15:00.000+00", not ISO's T and Z.
      { recovery_target_time: target.toISOString().replace('T', ' ').replace('Z', '+00'), recovery_target_action: 'promote' }
    : {}
  // Beside the data directory, where PostgreSQL's user surely goes (backup.dir may be closed to it).
  const spool = spoolDirectory(dirname(dataDir), switchStamp(context.at))
  await createSpool(spool, side.user)
  side.spool = spool
  const settings: Record<string, string> = {
    // The archive as wal push left it in every repository, read by this job into the spool (see recover).
    restore_command: restoreCommand(spool),
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

/** How long the side cluster may take to start (replaying WAL up to consistency included). */
const START_BOUND_S = 600

/** The spool's prefetcher for the side cluster's recovery, started (see wal/spool.ts). */
function startPrefetcher(context: PitrContext, side: SideCluster): WalSpool | undefined {
  if (!side.spool) return undefined
  const { config, base } = context
  const encryption = config.backup.encryption
  const prefetcher = new WalSpool({
    dir: side.spool,
    ...(side.user ? { user: side.user } : {}),
    ...(base.manifest.wal ? { start: base.manifest.wal.start, segmentBytes: base.manifest.wal.segmentBytes } : {}),
    prefetch: config.restore.walPrefetch,
    concurrency: config.restore.walFetchConcurrency,
    source: {
      repositories: openRepositories(config.backup),
      ...(encryption?.identityFile === undefined ? {} : { identityFile: encryption.identityFile }),
      ...(encryption ? { runner: encryption.program } : {}),
    },
    fetchTimeoutMs: config.backup.wal.pushTimeoutSeconds * 1000,
  })
  prefetcher.start()
  side.prefetcher = prefetcher
  return prefetcher
}

/**
 * The spool's prefetcher stopped and its directory removed: once recovery is over, and however
 * the run ends (but a kill, after which restore --cleanup removes it). A side cluster still in
 * recovery then gets no more WAL: fetch.sh is gone, and PostgreSQL stops rather than promote.
 */
export async function endSpool(context: PitrContext): Promise<void> {
  const side = sideCluster(context)
  if (!side?.spool) return
  await side.prefetcher?.stop()
  side.prefetcher = undefined
  // Not removed (a file system that fails): restore --cleanup finds it by its name.
  await removeSpool(side.spool).catch(() => undefined)
  side.spool = undefined
}

/** What the spool did, for the recover step's summary. */
function spoolWork(prefetcher: WalSpool | undefined): string {
  if (!prefetcher) return ''
  const { prefetched, onDemand, bytes } = prefetcher.counts
  return `; WAL: ${prefetched + onDemand} files (${formatSize(bytes)}), ${prefetched} of them read ahead`
}

/** The lines of the side cluster's log that say why it stopped: its FATAL, and what fetch.sh said before it. */
async function whyStopped(log: string, fallback: string): Promise<{ reason: string; tail: string[] }> {
  // In a directory PostgreSQL's user owns: never read through a link put there instead.
  const lines = (await readOwnFile(log, MAX_LOG_BYTES).catch(() => '')).trim().split('\n').slice(-20)
  const fatal = lines.find((l) => /FATAL|PANIC/.test(l)) ?? fallback
  const said = lines.findLast((l) => l.startsWith('probe-ops restore: '))
  return { reason: said ? `${fatal} (${said.slice('probe-ops restore: '.length)})` : fatal, tail: lines.slice(-12) }
}

export const recover: StepDefinition<PitrContext, RecoverData> = {
  // Cut short (Ctrl-C, --timeout), it stops waiting; prepare's undo then stops the side cluster and removes it.
  cleanupMs: 15_000,
  async run(context, run) {
    const side = sideCluster(context)
    if (run.dryRun || !side?.port) return { summary: `would start the new cluster and replay WAL to ${replayEnd(context.target)}` }
    const started = performance.now()
    const log = join(side.dataDir, 'pitr.log')
    const prefetcher = startPrefetcher(context, side)
    const start = await pgCtl(context.config, ['-D', side.dataDir, '-l', log, '-w', '-t', String(START_BOUND_S), 'start'], {
      user: side.user,
      timeoutMs: START_BOUND_S * 1000 + 20_000,
      signal: run.signal,
    })
    run.signal.throwIfAborted()
    if (!start.ok) {
      const { reason, tail } = await whyStopped(log, start.output.split('\n').at(-1) ?? '')
      // Its log, in its data directory, is what to read: both stay.
      side.kept = true
      throw new StepFailure(`the recovered cluster did not start: ${reason}`, `its log is ${log}; the live cluster was not touched`, { logTail: tail })
    }
    await failpoint('pitr-recovering')
    const pg = { ...context.config.postgres, host: '127.0.0.1', port: side.port }
    const boundS = context.config.restore.recoveryTimeoutSeconds
    const deadline = Date.now() + boundS * 1000
    for (;;) {
      run.signal.throwIfAborted()
      const client = await connectPostgres(pg, { database: 'postgres' }).catch(() => undefined)
      if (client) {
        const [row] = await queryRows<{ recovering: boolean }>(client, 'select pg_is_in_recovery() as recovering').finally(() => closePostgres(client))
        if (!row!.recovering) break
      } else if (!existsSync(join(side.dataDir, 'postmaster.pid'))) {
        // It stopped (a FATAL in recovery: a hole in the WAL, a file that could not be read); prepare's undo removes it.
        const { reason, tail } = await whyStopped(log, 'no FATAL line in its log')
        throw new StepFailure(`the recovered cluster stopped while replaying WAL: ${reason}`, 'the live cluster was not touched', { logTail: tail })
      }
      if (Date.now() > deadline) {
        side.kept = true
        throw new StepFailure(
          `the recovered cluster is still replaying WAL after ${formatSeconds(boundS * 1000)} (restore.recoveryTimeoutSeconds)`,
          `it runs on without more WAL from the archive (the restore's spool ends with it); its log is ${log}`,
        )
      }
      await sleep(200)
    }
    const spooled = spoolWork(prefetcher)
    await endSpool(context)
    return {
      summary: `replayed to ${replayEnd(context.target)} and promoted in ${formatSeconds(performance.now() - started)}; running on 127.0.0.1:${side.port}${spooled}`,
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
