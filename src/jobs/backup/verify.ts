import { verifyName } from '../../backups/leftovers.js'
import { writeManifest, type Verification } from '../../backups/store.js'
import { compareCounts, listArchive, restoreInto, verifyChecksum } from '../../backups/verify.js'
import { describeError, formatSeconds } from '../../errors.js'
import { formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { createDatabase, dropDatabase, withAdmin } from '../../systems/postgres-admin.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { VerifyContext } from './context.js'
import type { ChecksumData, ReadArchiveData, RestoreTestData } from './data.js'

/** `backup verify`: each check is recorded in the backup's manifest, whatever its outcome (`backup list` shows the last). */

async function record(context: VerifyContext, verification: Verification): Promise<void> {
  context.backup.manifest.verifications.push(verification)
  await writeManifest(context.config.backup.dir, context.backup.manifest)
}

/** Runs a check, records it in the manifest whatever its outcome, and rethrows a failure. */
async function recorded<T>(context: VerifyContext, method: Verification['method'], check: () => Promise<T>, describe: (result: T) => string): Promise<T> {
  const started = performance.now()
  const at = () => ({ at: new Date().toISOString(), method, durationMs: Math.round(performance.now() - started) })
  try {
    const result = await check()
    await record(context, { ...at(), ok: true, detail: describe(result) })
    return result
  } catch (error) {
    await record(context, { ...at(), ok: false, detail: describeError(error) }).catch(() => undefined)
    throw error
  }
}

export const checksumStep: StepDefinition<VerifyContext, ChecksumData> = {
  async run(context) {
    const { backup, unreadable } = context
    const { bytes } = await recorded(
      context,
      'checksum',
      () => verifyChecksum(backup),
      (r) => `sha256 matches, ${r.bytes} bytes`,
    )
    // Named, since `latest` may have chosen it.
    return {
      summary: withRefusedNote(`${backup.manifest.id}: sha256 matches (${formatSize(bytes)})`, unreadable),
      findings: refusedFindings(unreadable),
      data: { id: backup.manifest.id, sha256: backup.manifest.sha256 },
    }
  },
}

export const readArchiveStep: StepDefinition<VerifyContext, ReadArchiveData> = {
  async run(context) {
    const { kind } = context.backup.manifest
    if (kind !== 'database') return { skipped: true, summary: `a ${kind} backup is not a pg_dump archive` }
    const listed = await recorded(
      context,
      'list',
      () => listArchive(context.config, context.runtimes, context.backup),
      (r) => `${r.entries} entries, ${r.tables} tables with data`,
    )
    return { summary: `${listed.entries} entries, ${listed.tables} tables with data`, data: listed }
  },
}

export const restoreTestStep: StepDefinition<VerifyContext, RestoreTestData> = {
  // Cut short, it drops the scratch database before the exit.
  cleanupMs: 10_000,
  async run(context, run) {
    if (!context.restoreTest) return { skipped: true, summary: 'not asked for (--restore-test)' }
    const { config, runtimes, backup } = context
    if (backup.manifest.kind !== 'database') return { skipped: true, summary: `a ${backup.manifest.kind} backup cannot be restored into a database` }
    const scratch = verifyName(new Date())
    const started = performance.now()
    const result = await recorded(
      context,
      'restore-test',
      async () => {
        await withAdmin(config.postgres, (admin) => createDatabase(admin, scratch))
        try {
          await restoreInto(config, runtimes, backup, scratch, { owners: false, privileges: false }, run.signal)
          const restoredMs = Math.round(performance.now() - started)
          const counts = await compareCounts(config, scratch, backup.manifest.tables)
          if (!counts.ok) {
            const m = counts.mismatches[0]!
            throw new Error(
              `restored ${m.name} has ${m.actual ?? 'no table'} rows, the manifest says ${m.expected} (${counts.mismatches.length} tables differ)`,
            )
          }
          return { restoredMs, compared: counts.compared }
        } finally {
          await withAdmin(config.postgres, (admin) => dropDatabase(admin, scratch), { statementTimeoutMs: 0 }).catch(() => undefined)
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
