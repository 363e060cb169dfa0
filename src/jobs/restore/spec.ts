import type { StepDefinition } from '../../report/outcome.js'
import { defineJob } from '../spec.js'
import type * as Restore from './context.js'
import type { PitrVerifyData } from './data.js'

/**
 * `restore`: one job per mode. A restore never loses the live database: it verifies the backup,
 * checks the disk and dumps the live database before anything changes; a full restore then builds
 * the new database beside the live one (while the safety backup runs: neither touches the live
 * database) and only swaps names once both are done and the copy is checked. Any failure stops the
 * rest. The context (begin.ts) refuses to start over what an interrupted restore left.
 */

/** What to do after a restore cut short at a moment it could not let end. */
const RESUME = 'probe-ops backup list says what it left; probe-ops restore --cleanup finishes or undoes it'

/** Every restore: one at a time (the `restore` lock), its steps in order, each building on the one before. */
const restoreRun = { order: 'sequential', stopOnFailure: true, lock: 'restore', interruptedHint: RESUME } as const

const verify = {
  id: 'verify',
  title: 'Verify the backup',
  summary: 'checksum and size against the manifest, pg_restore --list, and that it is a dump of this database',
  load: async () => (await import('./verify.js')).verifyBackup,
} as const

/** A copy staged for the restore (from S3, or encrypted) goes when the run ends, whatever its end. */
async function removeStaged(context: { staged?: string }): Promise<void> {
  if (context.staged) await (await import('../../backups/staging.js')).removeStaging(context.staged)
}

const safetyBackup = {
  id: 'safety-backup',
  title: 'Back up the live database first',
  summary: 'dump the live database before anything changes (a warning when there is none)',
  load: async () => (await import('./verify.js')).safetyBackup,
} as const

export const restoreFull = defineJob({
  id: 'restore-full',
  command: 'restore full',
  ...restoreRun,
  // Neither touches the live database: the copy is built while the safety backup is taken.
  together: [['safety-backup', 'restore']],
  steps: [
    verify,
    {
      id: 'disk',
      title: 'Check free disk space',
      summary: 'room for a second copy of the database beside the live one, and for the safety backup',
      load: async () => (await import('./verify.js')).checkDisk,
    },
    safetyBackup,
    {
      id: 'restore',
      title: 'Restore into a new database beside the live one',
      summary: "pg_restore into <db>_restore_<time>, with the backup's owners, privileges, locale and settings",
      load: async () => (await import('./restore-beside.js')).restoreBeside,
    },
    {
      id: 'check',
      title: 'Check tables and row counts against the manifest',
      summary: "every table's row count in the copy against the manifest; a difference drops the copy",
      load: async () => (await import('./restore-beside.js')).checkRestored,
    },
    {
      id: 'swap',
      title: 'Stop the platform, swap the databases, start it again',
      summary: 'live -> <db>_pre_restore_<time>, copy -> <db> in one transaction; rolled back if the platform does not come up',
      load: async () => (await import('./swap.js')).swap,
    },
  ],
  confirm: (context: Restore.FullRestoreContext) => ({
    what: `restore replaces the live database ${context.config.postgres.database} with ${context.backup.manifest.id} (the old one is kept)`,
    word: context.config.postgres.database,
  }),
  context: async (config, options: Restore.FullRestoreOptions, toolVersion): Promise<Restore.FullRestoreContext> =>
    (await import('./begin.js')).fullRestoreContext(config, options, toolVersion),
  close: removeStaged,
})

export const restorePartial = defineJob({
  id: 'restore-partial',
  command: 'restore partial',
  ...restoreRun,
  steps: [
    verify,
    {
      id: 'tables',
      title: 'Decide how each table is restored',
      summary: 'emptied and reloaded, or merged row by row when tables outside the restore reference it (before anything changes)',
      load: async () => (await import('./partial.js')).planTablesStep,
    },
    safetyBackup,
    {
      id: 'restore-tables',
      title: 'Restore the chosen tables in one transaction',
      summary: "the backup's rows of the --table tables (or beside them, --into-schema), committed only once all are written",
      load: async () => (await import('./partial.js')).restoreTables,
    },
  ],
  confirm: (context: Restore.PartialRestoreContext) => ({
    what: `restore replaces rows of ${context.tables.join(', ')} in ${context.config.postgres.database}`,
    word: context.config.postgres.database,
  }),
  context: async (config, options: Restore.PartialRestoreOptions, toolVersion): Promise<Restore.PartialRestoreContext> =>
    (await import('./begin.js')).partialRestoreContext(config, options, toolVersion),
  close: removeStaged,
})

/** A recovery from a base backup: a point-in-time recovery, or a physical full restore; they differ in their first step. */
function recoverySteps(verify: { summary: string; load: () => Promise<StepDefinition<Restore.PitrContext, PitrVerifyData>> }) {
  return [
    { id: 'verify', title: 'Verify the base backup', ...verify },
    {
      id: 'prepare',
      title: 'Build a new data directory from the base backup',
      summary: 'unpack it beside the live data directory, set to replay WAL (to --target-time, or to the end of the archive) on a side port',
      load: async () => (await import('./pitr.js')).prepare,
    },
    {
      id: 'recover',
      title: 'Replay WAL on a side port',
      summary: 'start it (pg_ctl), wait until recovery reaches the target (or the end of the archive) and it is promoted',
      load: async () => (await import('./pitr.js')).recover,
    },
    {
      id: 'check',
      title: 'Check the recovered database',
      summary: 'the database is there: its tables and row counts',
      load: async () => (await import('./pitr.js')).checkRecovered,
    },
    {
      id: 'switch',
      title: 'Switch the recovered cluster in place of the live one (--side-only: leave it beside it)',
      summary: 'stop PostgreSQL, move the live data directory aside and the recovered one in, start it; or (--side-only) print what to do with it',
      load: async () => (await import('./pitr-switch.js')).switchRecovered,
    },
  ] as const
}

/** However a recovery ends (but a kill), its side directory is handed over or taken back by then, and its WAL spool goes. */
async function endRecoveryNote(context: Restore.PitrContext): Promise<void> {
  await (await import('./pitr.js')).endSpool(context)
  await (await import('../../backups/run-notes.js')).endRecovery(context.config)
}

/** What a recovery from a base backup puts at stake, for its confirmation. */
function recoveryConfirm(context: Restore.PitrContext) {
  const end = context.target ? `its state at ${context.target.toISOString()}` : `${context.base.manifest.id} recovered to the end of the WAL archive`
  return {
    what: context.sideOnly
      ? `restore starts a recovered copy of the cluster (${end}) beside the live one`
      : `restore replaces the whole PostgreSQL cluster (every database) with ${end}; the old data directory is kept`,
    word: context.config.postgres.database,
  }
}

/** What every recovery from a base backup runs with. */
const recoveryRun = { ...restoreRun, confirm: recoveryConfirm, close: endRecoveryNote } as const

export const restorePitr = defineJob({
  id: 'restore-pitr',
  command: 'restore pitr',
  ...recoveryRun,
  steps: recoverySteps({
    summary: 'checksum against the manifest; the recoverable window the base backups and the WAL archive cover',
    load: async () => (await import('./pitr.js')).verifyBase,
  }),
  context: async (config, options: Restore.PitrRestoreOptions, toolVersion): Promise<Restore.PitrContext> =>
    (await import('./begin.js')).pitrContext(config, options, toolVersion),
})

export const restorePhysical = defineJob({
  id: 'restore-physical',
  command: 'restore full',
  ...recoveryRun,
  steps: recoverySteps({
    summary: "a base of this server's PostgreSQL major, a target it can reach, and the copies this host can decrypt (read, checked and unpacked in prepare)",
    load: async () => (await import('./physical.js')).verifyPhysical,
  }),
  context: async (config, options: Restore.PhysicalRestoreOptions, toolVersion): Promise<Restore.PitrContext> =>
    (await import('./begin.js')).physicalContext(config, options, toolVersion),
})

export const restoreCleanup = defineJob({
  id: 'restore-cleanup',
  command: 'restore cleanup',
  order: 'sequential',
  lock: 'restore',
  interruptedHint: RESUME,
  steps: [
    {
      id: 'cleanup',
      title: 'Remove what interrupted restores and backups left behind',
      summary: 'finish or undo an interrupted switch or swap, start what it stopped, drop leftover databases and files',
      load: async () => (await import('./cleanup.js')).cleanup,
    },
  ],
  confirm: (context: Restore.CleanupContext) =>
    context.dropPreRestore ? { what: 'restore --cleanup --drop-pre-restore drops the databases kept from before earlier restores', word: 'drop' } : undefined,
  context: async (config, options: Restore.CleanupOptions, toolVersion): Promise<Restore.CleanupContext> =>
    (await import('./begin.js')).cleanupContext(config, options, toolVersion),
})
