import { Args, Flags } from '@oclif/core'
import { confirmDestructive } from '../cli/confirm.js'
import { JobCommand, changeFlags, jobFlags } from '../cli/job-command.js'
import { UsageError } from '../errors.js'
import { cleanupJob, restoreJob, type RestoreMode } from '../jobs/restore/job.js'
import type { Report } from '../report/model.js'

/** What to do after a restore cut short at a moment it could not let end. */
const RESUME = 'probe-ops backup list says what it left; probe-ops restore --cleanup finishes or undoes it'

export default class Restore extends JobCommand {
  static override summary = 'Restore a backup without ever losing the live database.'
  static override description = `Replaces disaster-recovery.sh, which dropped the live database before it knew the backup was good.
Every mode first verifies the backup (checksum, pg_restore --list, that it is a dump of this database) and dumps the live database (a safety backup; when there is no live database, a warning and no dump; --skip safety-backup goes without one).
  full     restore into a new database beside the live one (with the backup's owners, privileges, locale and database settings; the roles must exist, or use --no-owner --no-privileges), check every table's row count against the manifest, stop the services in restore.stopServices, swap the names in one transaction (live -> <db>_pre_restore_<time>, restored -> <db>), start the services and wait for them to be ready. A failure before the swap leaves the live database untouched; a failure after it rolls the swap back.
  partial  give the --table tables the backup's rows, in one transaction (or, with --into-schema, restore them beside the live ones for comparison). A table that a table outside the restore references (users: tasks reference it) is merged on its primary key (or a unique key of not-null columns): changed rows updated, missing rows inserted, rows the backup lacks deleted unless something references them (those are kept and listed); the referencing tables are never emptied or cascaded into. Other tables are emptied and reloaded. The tables' own triggers fire for the rows written.
  pitr     a new data directory from the newest base backup before --target-time (BACKUP: a base backup, or "latest"), archived WAL replayed to that time on a side port, checked, then switched in place of the live cluster through its runtime (or, with --side-only, left running on the side port with the next commands printed). A target outside the window the base backups and the WAL archive cover is refused with the window.
Asks for confirmation on a terminal; needs --yes otherwise. --cleanup removes what an interrupted restore left behind.`
  static override examples = [
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode full',
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode full --dry-run',
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode partial --table tasks --yes',
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode partial --table task_results --into-schema compare',
    '<%= config.bin %> restore latest --mode pitr --target-time 2026-11-25T03:15:00Z --side-only',
    '<%= config.bin %> restore --cleanup',
  ]
  static override args = {
    backup: Args.string({
      description:
        'backup id (from backup list), the path of its file, directory or manifest in backup.dir, or "latest" (the newest dump a backup took; with --mode pitr, the newest base backup before --target-time)',
    }),
  }
  static override flags = {
    ...jobFlags,
    ...changeFlags,
    mode: Flags.string({ description: 'what to restore', options: ['full', 'partial', 'pitr'], default: 'full' }),
    table: Flags.string({ description: 'with --mode partial: a table to restore (repeatable)', multiple: true }),
    'into-schema': Flags.string({ description: 'with --mode partial: restore into this schema beside the live tables' }),
    'target-time': Flags.string({ description: 'with --mode pitr: the moment to recover to' }),
    'side-only': Flags.boolean({ description: 'with --mode pitr: leave the recovered cluster running on its side port; do not switch' }),
    'no-owner': Flags.boolean({
      description: "with --mode full: the restoring user owns the database and its objects (for a server without the backup's roles)",
    }),
    'no-privileges': Flags.boolean({ description: 'with --mode full: do not restore GRANTs on the database and its objects' }),
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
    cleanup: Flags.boolean({ description: 'remove what interrupted restores and backups left behind' }),
    'drop-pre-restore': Flags.boolean({ description: 'with --cleanup: also drop the databases kept from before earlier restores' }),
  }

  async run(): Promise<Report> {
    const { flags, args } = await this.parse(Restore)
    if (flags.cleanup) {
      return this.runPlanned(flags, async (config) => {
        if (flags['drop-pre-restore'])
          await confirmDestructive({
            yes: flags.yes,
            dryRun: flags['dry-run'] ?? false,
            what: 'restore --cleanup --drop-pre-restore drops the databases kept from before earlier restores',
            word: 'drop',
          })
        return { ...cleanupJob(config, this.config.version, flags['drop-pre-restore']), lock: 'restore', interruptedHint: RESUME }
      })
    }
    if (!args.backup) throw new UsageError('which backup? give its id', 'probe-ops backup list shows them')
    if (flags['into-schema'] && flags.mode !== 'partial') throw new UsageError('--into-schema goes with --mode partial')
    if ((flags['no-owner'] || flags['no-privileges']) && flags.mode !== 'full')
      throw new UsageError(
        `--${flags['no-owner'] ? 'no-owner' : 'no-privileges'} goes with --mode full`,
        'partial restores only rows; pitr restores the cluster as it was',
      )
    return this.runPlanned(flags, async (config) => {
      const planned = await restoreJob(config, this.config.version, {
        backup: args.backup!,
        mode: flags.mode as RestoreMode,
        tables: flags.table ?? [],
        intoSchema: flags['into-schema'],
        targetTime: flags['target-time'],
        sideOnly: flags['side-only'],
        noOwner: flags['no-owner'],
        noPrivileges: flags['no-privileges'],
      })
      const live = config.postgres.database
      await confirmDestructive({
        yes: flags.yes,
        dryRun: flags['dry-run'] ?? false,
        what:
          flags.mode === 'full'
            ? `restore replaces the live database ${live} with ${planned.context.backup.manifest.id} (the old one is kept)`
            : flags.mode === 'pitr'
              ? flags['side-only']
                ? `restore starts a recovered copy of the cluster at ${flags['target-time']} beside the live one`
                : `restore replaces the live PostgreSQL cluster with its state at ${flags['target-time']} (the old data directory is kept)`
              : `restore replaces rows of ${(flags.table ?? []).join(', ')} in ${live}`,
        word: live,
      })
      return { ...planned, lock: 'restore', interruptedHint: RESUME }
    })
  }
}
