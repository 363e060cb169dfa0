import type { BackupCopy } from '../../backups/catalog.js'
import { copyOptions } from '../../backups/copy.js'
import { verifyName } from '../../backups/leftovers.js'
import { readableCopy, removeStaging } from '../../backups/staging.js'
import { compareCounts, restoreInto } from '../../backups/verify.js'
import { describeError, StepFailure } from '../../errors.js'
import { formatCount } from '../../lib/format.js'
import type { Finding, StepDefinition, StepRun } from '../../report/outcome.js'
import { createDatabase, dropDatabase, withAdmin } from '../../systems/postgres-admin.js'
import { hintOf } from '../hints.js'
import type { VerifyContext } from './context.js'
import type { RestoreTestData } from './data.js'
import { describeFigures, objectiveFindings, rpoSeconds, type RestoreFigures } from './restore-figures.js'
import { recorded, unrecordedFindings } from './verify.js'

/**
 * `backup verify --restore-test` (design-14 §7.3): the copy restored where nothing live is touched,
 * and two figures a weekly rehearsal proves the backups with. RTO, the achieved restore time: from
 * reading the copy until the data is back and checked. RPO, the data-loss window: losing the host
 * at the start of the test would have lost everything after the newest moment the restore gave
 * back. A dump is restored into a scratch database (here); a base backup into a scratch cluster in
 * backup.dir, recovered to the end of the WAL archive (restore-test-base.ts).
 */

interface DumpTest extends RestoreFigures {
  kind: 'database'
  scratchDatabase: string
  restoreMs: number
  tablesCompared: number
}

/** The dump restored into a scratch database (dropped whatever happens), every table's count compared with the manifest. */
async function testDump(context: VerifyContext, copy: BackupCopy, signal: AbortSignal): Promise<DumpTest> {
  const { config, runtimes } = context
  const scratch = verifyName(new Date())
  const started = performance.now()
  const readable = await readableCopy(config, copy, copyOptions(config, signal))
  await withAdmin(config.postgres, (admin) => createDatabase(admin, scratch))
  try {
    await restoreInto(config, runtimes, readable.backup, scratch, { owners: false, privileges: false }, signal)
    const restoreMs = Math.round(performance.now() - started)
    const counts = await compareCounts(config, scratch, copy.manifest.tables)
    if (!counts.ok) {
      const m = counts.mismatches[0]!
      throw new Error(`restored ${m.name} has ${m.actual ?? 'no table'} rows, the manifest says ${m.expected} (${counts.mismatches.length} tables differ)`)
    }
    // pg_dump's snapshot is taken as it starts: the dump holds nothing newer.
    const dumped = new Date(copy.manifest.startedAt)
    return {
      kind: 'database',
      scratchDatabase: scratch,
      restoreMs,
      tablesCompared: counts.compared,
      rtoMs: performance.now() - started,
      recoveredTo: dumped,
      floor: dumped,
    }
  } finally {
    await withAdmin(config.postgres, (admin) => dropDatabase(admin, scratch), { statementTimeoutMs: 0 }).catch(() => undefined)
    if (readable.staged) await removeStaging(readable.staged)
  }
}

export const restoreTestStep: StepDefinition<VerifyContext, RestoreTestData> = {
  // Cut short, it drops the scratch database, or stops the scratch cluster (pg_ctl's own 40 s bound) and removes it.
  cleanupMs: 60_000,
  async run(context, run) {
    if (!context.restoreTest) return { skipped: true, summary: 'not asked for (--restore-test)' }
    const { config, entry } = context
    const kind = entry.manifest.kind
    if (kind === 'config') return { skipped: true, summary: 'a config backup cannot be restored into a database' }
    const copy = context.state.passed[0]
    if (!copy) throw new StepFailure(`no copy of ${entry.manifest.id} passed its checksum`, 'choose another backup (probe-ops backup list)')
    const startedAt = new Date()
    const tested = { kind, repository: copy.repository.name, startedAt: startedAt.toISOString() }
    const findings: Finding[] = []
    const test = (): Promise<DumpTest | BaseTest> =>
      kind === 'database' ? testDump(context, copy, run.signal) : testBase(context, copy, startedAt, run, findings)
    let result: DumpTest | BaseTest
    try {
      result = await recorded(context, copy, 'restore-test', test, (r) => `${describeFigures(r.rtoMs, rpoSeconds(r, startedAt))}${describeCheck(r)}`)
    } catch (error) {
      if (run.signal.aborted) throw error
      // The copy and its kind stay in the data: the metrics say which rehearsal failed.
      throw new StepFailure(describeError(error), hintOf(error) ?? 'the live database was not touched', { ...tested, failed: true })
    }
    const rtoSeconds = Math.round(result.rtoMs) / 1000
    const rpo = Math.round(rpoSeconds(result, startedAt))
    const objectives = config.backup.objectives
    const from = context.copies.length > 1 ? ` from ${copy.repository.name}` : ''
    const figures = {
      ...tested,
      rtoSeconds,
      rpoSeconds: rpo,
      recoveredTo: result.recoveredTo?.toISOString() ?? null,
      objectives: { ...objectives },
    }
    return {
      summary: `${describeFigures(result.rtoMs, rpo, from)}${describeCheck(result)}`,
      findings: [...objectiveFindings(rtoSeconds, rpo, objectives), ...findings, ...unrecordedFindings(context)],
      data:
        result.kind === 'database'
          ? { ...figures, kind: 'database', scratchDatabase: result.scratchDatabase, restoreMs: result.restoreMs, tablesCompared: result.tablesCompared }
          : {
              ...figures,
              kind: 'base',
              scratchDirectory: result.scratchDirectory,
              port: result.port,
              ...(result.lastSegment ? { lastSegment: result.lastSegment } : {}),
              ...(result.reaches ? { lastSegmentArchivedAt: result.reaches.toISOString() } : {}),
              tables: result.tables,
              rows: result.rows,
            },
    }
  },
}

/** What the test checked, after the figures. */
function describeCheck(result: DumpTest | BaseTest): string {
  if (result.kind === 'database') return `; ${result.tablesCompared} tables' row counts match the manifest`
  const to = result.recoveredTo ? `, last transaction ${result.recoveredTo.toISOString()}` : ''
  return `; recovered to the end of the WAL archive${to}: ${formatCount(result.tables)} tables, ${formatCount(result.rows)} rows`
}

// Loaded here so that a dump's test does not load the physical restore's modules.
type BaseTest = import('./restore-test-base.js').BaseTest

async function testBase(context: VerifyContext, copy: BackupCopy, startedAt: Date, run: StepRun, findings: Finding[]): Promise<BaseTest> {
  return (await import('./restore-test-base.js')).testBase(context, copy, startedAt, run, findings)
}
