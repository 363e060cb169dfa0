import { existsSync } from 'node:fs'
import { appendFile, chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { switchNames, switchStamp } from '../../backups/run-notes.js'
import { verifyChecksum } from '../../backups/verify.js'
import { walDir } from '../../backups/wal.js'
import { StepFailure, formatSeconds } from '../../errors.js'
import { freePort } from '../../lib/ports.js'
import { sleep } from '../../lib/time.js'
import type { StepDefinition } from '../../report/outcome.js'
import { postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { pgCtl, unpackBaseBackup } from '../../systems/pg-tools.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { PitrContext, SideCluster } from './context.js'
import type { PitrCheckData, PitrVerifyData, PrepareData, RecoverData } from './data.js'
import { liveDataDir } from './switch-repair.js'

/**
 * Point-in-time recovery: a new data directory from the newest base backup before the target,
 * WAL from the archive replayed up to the target time, started on a side port and checked; then
 * (pitr-switch.ts) either switched in place of the live cluster through its runtime, or left
 * running on the side for the operator. The side cluster the steps build is context.state.pitr.
 */

/** The lines probe-ops adds to the side cluster's postgresql.auto.conf, between these two. */
export const BLOCK_BEGIN = '# probe-ops point-in-time recovery: begin'
export const BLOCK_END = '# probe-ops point-in-time recovery: end'

/** The side cluster as far as the steps before built it; undefined in a dry run (or when prepare was skipped). */
export function sideCluster(context: PitrContext): SideCluster | undefined {
  return context.state.pitr
}

export const verifyBase: StepDefinition<PitrContext, PitrVerifyData> = {
  async run({ base, window, target, unreadable }) {
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

/** Hands the data directory to PostgreSQL's OS user, as its server wants it. */
async function chownTree(path: string, user: OsUser | undefined): Promise<void> {
  if (!user || process.getuid?.() !== 0) return
  await chown(path, user.uid, user.gid)
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) await chownTree(child, user)
    else await chown(child, user.uid, user.gid)
  }
}

export const prepare: StepDefinition<PitrContext, PrepareData> = {
  async run(context, run) {
    const { config, runtimes, base, target } = context
    const live = await liveDataDir(config, runtimes).catch(() => undefined)
    const liveDir = live && existsSync(live) ? live : undefined
    const stamp = switchStamp(context.at)
    // Beside the live directory, so that switching is a rename on one filesystem.
    const dataDir = liveDir ? switchNames(liveDir, stamp).recovered : join(config.backup.dir, `pitr-${stamp}`)
    if (run.dryRun) return { summary: `would unpack ${base.manifest.id} into ${dataDir} and replay WAL from ${walDir(config)} to ${target.toISOString()}` }
    const user = postgresOsUser(liveDir)
    await mkdir(dataDir, { mode: 0o700 })
    const side: SideCluster = { dataDir, liveDir, user }
    context.state.pitr = side
    await unpackBaseBackup(base.path, dataDir, { signal: run.signal })
    const port = config.restore.pitrPort || (await freePort())
    const settings = {
      restore_command: `cp '${walDir(config)}/%f' '%p'`,
      // The setting's parser takes "2026-11-25 03:15:00.000+00", not ISO's T and Z.
      recovery_target_time: target.toISOString().replace('T', ' ').replace('Z', '+00'),
      recovery_target_action: 'promote',
      // The recovered cluster must not archive into the live cluster's archive.
      archive_mode: 'off',
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dataDir,
    }
    const block = [BLOCK_BEGIN, ...Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`), BLOCK_END, ''].join('\n')
    await appendFile(join(dataDir, 'postgresql.auto.conf'), `\n${block}`)
    await writeFile(join(dataDir, 'recovery.signal'), '')
    await rm(join(dataDir, 'postmaster.pid'), { force: true })
    await chownTree(dataDir, user)
    side.port = port
    return { summary: `unpacked ${base.manifest.id} into ${dataDir}; it will start on port ${port}`, data: { dataDir, port } }
  },
}

/** How long the side cluster may take to start, and then to replay WAL up to the target. */
const START_BOUND_S = 600
const REPLAY_BOUND_MS = 600_000

export const recover: StepDefinition<PitrContext, RecoverData> = {
  async run(context, run) {
    const side = sideCluster(context)
    if (run.dryRun || !side?.port) return { summary: `would start the new cluster and replay WAL to ${context.target.toISOString()}` }
    const started = performance.now()
    const log = join(side.dataDir, 'pitr.log')
    const start = await pgCtl(context.config, ['-D', side.dataDir, '-l', log, '-w', '-t', String(START_BOUND_S), 'start'], {
      user: side.user,
      timeoutMs: START_BOUND_S * 1000 + 20_000,
    })
    if (!start.ok) {
      const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-8)
      throw new StepFailure(
        `the recovered cluster did not start: ${tail.find((l) => /FATAL|PANIC/.test(l)) ?? start.output.split('\n').at(-1)}`,
        `its log is ${log}; the live cluster was not touched`,
        { logTail: tail },
      )
    }
    const pg = { ...context.config.postgres, host: '127.0.0.1', port: side.port }
    const deadline = Date.now() + REPLAY_BOUND_MS
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
      summary: `replayed to ${context.target.toISOString()} and promoted in ${formatSeconds(performance.now() - started)}; running on 127.0.0.1:${side.port}`,
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
