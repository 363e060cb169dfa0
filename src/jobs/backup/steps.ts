import { archiveConfig } from '../../backups/config-archive.js'
import { dumpDatabase } from '../../backups/database.js'
import { findDatabaseLeftovers } from '../../backups/leftovers.js'
import { planPrune } from '../../backups/prune.js'
import {
  listBackups,
  manifestPath,
  removeBackup,
  removeLeftover,
  writeManifest,
  type Leftover,
  type StoredBackup,
  type Verification,
} from '../../backups/store.js'
import { refusedProblems, withRefused } from './refused.js'
import { compareCounts, createDatabase, dropDatabase, listArchive, restoreInto, verifyChecksum } from '../../backups/verify.js'
import { verifyName } from '../../backups/leftovers.js'
import { describeError, formatSeconds } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import type { BackupContext } from './context.js'
import { describeInterrupted, interruptedSwitch } from '../restore/pitr-switch.js'
import { describeLeftStopped, leftStopped } from '../restore/stopped-services.js'
import { plural } from '../../lib/words.js'

export const dumpStep: Step<BackupContext> = {
  id: 'dump',
  title: 'Dump the database',
  // Cut short, it ends pg_dump's server session and removes the half-written file before the exit.
  cleanupMs: 10_000,
  async run({ config, runtimes, toolVersion }, run) {
    if (run.dryRun) return { summary: `would dump ${config.postgres.database} (${config.backup.format} format) into ${config.backup.dir}` }
    const { manifest, path } = await dumpDatabase(config, runtimes, { reason: 'manual', toolVersion, signal: run.signal })
    const rows = (manifest.tables ?? []).reduce((s, t) => s + t.rows, 0)
    return {
      summary: `${manifest.id}: ${formatBytes(manifest.bytes)}, ${manifest.tables?.length} tables, ${rows.toLocaleString('en-US')} rows, in ${formatSeconds(manifest.durationMs)}`,
      data: {
        id: manifest.id,
        path,
        bytes: manifest.bytes,
        sha256: manifest.sha256,
        format: manifest.format,
        tables: manifest.tables,
        durationMs: manifest.durationMs,
      },
    }
  },
}

export const archiveConfigStep: Step<BackupContext> = {
  id: 'archive',
  title: 'Archive the configuration files',
  async run({ config, toolVersion }, run) {
    if (run.dryRun) return { summary: `would archive ${config.backup.configPaths.join(', ')} into ${config.backup.dir}` }
    const { manifest, path } = await archiveConfig(config, { reason: 'manual', toolVersion, signal: run.signal })
    const data = { id: manifest.id, path, bytes: manifest.bytes, sha256: manifest.sha256, paths: manifest.paths, missingPaths: manifest.missingPaths }
    const summary = `${manifest.id}: ${formatBytes(manifest.bytes)} of ${manifest.paths!.length} paths`
    if (manifest.missingPaths!.length > 0)
      return {
        status: 'warning',
        summary: `${summary}; missing: ${manifest.missingPaths!.join(', ')}`,
        data,
        error: { message: `not found: ${manifest.missingPaths!.join(', ')}`, hint: 'remove them from backup.configPaths, or find out where they went' },
      }
    return { summary, data }
  },
}

function age(startedAt: string, now = Date.now()): string {
  const hours = (now - Date.parse(startedAt)) / 3_600_000
  return hours < 48 ? `${Math.round(hours)}h` : `${Math.round(hours / 24)}d`
}

export const listStep: Step<BackupContext> = {
  id: 'list',
  title: 'List backups',
  async run({ config }) {
    const { backups, leftovers, unreadable, recovered } = await listBackups(config.backup.dir)
    const switching = await interruptedSwitch(config).catch((error: unknown) => ({ unreadable: describeError(error) }))
    const stopped = await leftStopped(config).catch((error: unknown) => ({ unreadable: describeError(error) }))
    let databaseLeftovers: Awaited<ReturnType<typeof findDatabaseLeftovers>> = []
    let databaseCheck: string | undefined
    try {
      databaseLeftovers = await findDatabaseLeftovers(config)
    } catch (error) {
      databaseCheck = `leftover databases not checked: ${describeError(error)}`
    }
    const rows = backups.map(({ manifest: m, path }) => {
      const last = m.verifications.at(-1)
      return {
        id: m.id,
        kind: m.kind,
        reason: m.reason,
        path,
        manifest: manifestPath(config.backup.dir, m.id),
        age: age(m.startedAt),
        startedAt: m.startedAt,
        bytes: m.bytes,
        sha256: m.sha256,
        lastVerification: last ? { at: last.at, ok: last.ok, method: last.method } : null,
      }
    })
    const details = rows.map(
      (r) =>
        `${r.id}  ${r.kind}  ${r.age} old  ${formatBytes(r.bytes)}  ${r.lastVerification ? `${r.lastVerification.ok ? 'verified' : 'FAILED'} ${r.lastVerification.method} ${age(r.lastVerification.at)} ago` : 'not verified'}`,
    )
    const problems = [
      ...(switching
        ? [
            {
              severity: 'warning',
              message: 'unreadable' in switching ? switching.unreadable : describeInterrupted(switching),
              next: 'probe-ops restore --cleanup finishes or undoes it and starts PostgreSQL',
            },
          ]
        : []),
      ...(stopped
        ? [
            {
              severity: 'warning',
              message: 'unreadable' in stopped ? stopped.unreadable : describeLeftStopped(stopped),
              next: 'probe-ops restore --cleanup starts them again',
            },
          ]
        : []),
      ...leftovers.map((l) => ({ severity: 'warning', message: `${l.path}: ${l.why}`, next: 'probe-ops restore --cleanup removes it' })),
      ...refusedProblems(unreadable),
      ...recovered.map((path) => ({
        severity: 'warning',
        message: `${path}: the data directory of a point-in-time recovery (a side cluster may still run on it)`,
        next: `when done with it: pg_ctl -D ${path} stop, then remove it (restore --cleanup leaves it alone)`,
      })),
      ...databaseLeftovers.map((l) => ({
        severity: 'warning',
        message: `database ${l.database}: ${l.what}`,
        next: l.kind === 'pre-restore' ? 'probe-ops restore --cleanup --drop-pre-restore' : 'probe-ops restore --cleanup',
      })),
      ...(databaseCheck ? [{ severity: 'warning', message: databaseCheck, next: 'probe-ops diagnose --only postgres' }] : []),
    ]
    const summary = `${plural(backups.length, 'backup')} in ${config.backup.dir}${problems.length ? `; ${plural(problems.length, 'thing')} to clean up` : ''}`
    const data = { dir: config.backup.dir, backups: rows, leftovers, unreadable, databaseLeftovers, details, problems }
    if (problems.length === 0) return { summary, data }
    return { status: 'warning', summary, data, error: { message: problems[0]!.message, hint: problems[0]!.next } }
  },
}

export interface VerifyContext extends BackupContext {
  backup: StoredBackup
  /** Manifests refused while finding it: reported, never used. */
  unreadable: Leftover[]
}

async function record(context: VerifyContext, verification: Verification): Promise<void> {
  context.backup.manifest.verifications.push(verification)
  await writeManifest(context.config.backup.dir, context.backup.manifest)
}

/** Runs a check, records it in the manifest whatever its outcome, and rethrows a failure. */
async function recorded<T>(context: VerifyContext, method: Verification['method'], check: () => Promise<T>, describe: (result: T) => string): Promise<T> {
  const started = performance.now()
  try {
    const result = await check()
    await record(context, { at: new Date().toISOString(), ok: true, method, durationMs: Math.round(performance.now() - started), detail: describe(result) })
    return result
  } catch (error) {
    await record(context, {
      at: new Date().toISOString(),
      ok: false,
      method,
      durationMs: Math.round(performance.now() - started),
      detail: describeError(error),
    }).catch(() => undefined)
    throw error
  }
}

export const checksumStep: Step<VerifyContext> = {
  id: 'checksum',
  title: 'Compare the checksum with the manifest',
  async run(context) {
    const { bytes } = await recorded(
      context,
      'checksum',
      () => verifyChecksum(context.backup),
      (r) => `sha256 matches, ${r.bytes} bytes`,
    )
    // Named, since `latest` may have chosen it.
    return withRefused(
      {
        summary: `${context.backup.manifest.id}: sha256 matches (${formatBytes(bytes)})`,
        data: { id: context.backup.manifest.id, sha256: context.backup.manifest.sha256 },
      },
      context.unreadable,
    )
  },
}

export const archiveStep: Step<VerifyContext> = {
  id: 'archive',
  title: 'Read the archive with pg_restore --list',
  async run(context) {
    if (context.backup.manifest.kind !== 'database') return { status: 'skipped', summary: `a ${context.backup.manifest.kind} backup is not a pg_dump archive` }
    const listed = await recorded(
      context,
      'list',
      () => listArchive(context.config, context.runtimes, context.backup),
      (r) => `${r.entries} entries, ${r.tables} tables with data`,
    )
    return { summary: `${listed.entries} entries, ${listed.tables} tables with data`, data: listed }
  },
}

export function restoreTestStep(enabled: boolean): Step<VerifyContext> {
  return {
    id: 'restore-test',
    title: 'Restore into a scratch database and compare row counts',
    cleanupMs: 10_000,
    async run(context, run) {
      if (!enabled) return { status: 'skipped', summary: 'not asked for (--restore-test)' }
      if (context.backup.manifest.kind !== 'database')
        return { status: 'skipped', summary: `a ${context.backup.manifest.kind} backup cannot be restored into a database` }
      const scratch = verifyName(new Date())
      const started = performance.now()
      const result = await recorded(
        context,
        'restore-test',
        async () => {
          await createDatabase(context.config, scratch)
          try {
            await restoreInto(context.config, context.runtimes, context.backup, scratch, { owners: false, privileges: false }, run.signal)
            const restoredMs = Math.round(performance.now() - started)
            const counts = await compareCounts(context.config, scratch, context.backup.manifest.tables)
            if (!counts.ok) {
              const m = counts.mismatches[0]!
              throw new Error(
                `restored ${m.name} has ${m.actual ?? 'no table'} rows, the manifest says ${m.expected} (${counts.mismatches.length} tables differ)`,
              )
            }
            return { restoredMs, compared: counts.compared }
          } finally {
            await dropDatabase(context.config, scratch).catch(() => undefined)
          }
        },
        (r) => `restored in ${r.restoredMs} ms, ${r.compared} tables' row counts match`,
      )
      return {
        summary: `restored in ${formatSeconds(result.restoredMs)}; ${result.compared} tables' row counts match the manifest`,
        data: { scratchDatabase: scratch, restoreMs: result.restoredMs, tablesCompared: result.compared },
      }
    },
  }
}

export function pruneStep(): Step<BackupContext> {
  return {
    id: 'prune',
    title: 'Remove backups past their retention',
    async run({ config }, run) {
      const { backups, unreadable } = await listBackups(config.backup.dir)
      const plan = planPrune(backups, config.backup.keep)
      const bytes = plan.remove.reduce((s, b) => s + b.manifest.bytes, 0)
      const data = {
        keep: plan.keep.map((k) => ({ id: k.backup.manifest.id, reasons: k.reasons })),
        remove: plan.remove.map((b) => b.manifest.id),
        bytes,
        policy: config.backup.keep,
      }
      if (run.dryRun)
        return withRefused(
          { summary: `would remove ${plural(plan.remove.length, 'backup')} (${formatBytes(bytes)}), keep ${plan.keep.length}`, data },
          unreadable,
        )
      for (const backup of plan.remove) await removeBackup(config.backup.dir, backup)
      return withRefused({ summary: `removed ${plural(plan.remove.length, 'backup')} (${formatBytes(bytes)}), kept ${plan.keep.length}`, data }, unreadable)
    },
  }
}

export { removeLeftover }
