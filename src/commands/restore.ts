import { Args, Flags } from '@oclif/core'
import { JobCommand, changeFlags, confirmFlags, jobFlags } from '../cli/job-command.js'
import { repositoryFlags } from '../cli/repository-flag.js'
import { restoreOptions } from '../jobs/restore/options.js'
import { restoreCleanup, restoreFull, restorePartial, restorePhysical, restorePitr } from '../jobs/restore/spec.js'
import { stepHelp } from '../jobs/spec.js'
import type { Report } from '../report/model.js'

export default class Restore extends JobCommand {
  static override summary = 'Restore a backup without ever losing the live database.'
  static override description = `Replaces disaster-recovery.sh, which dropped the live database before it knew the backup was good.
Every mode first verifies the backup (checksum, pg_restore --list, that it is a dump of this database) and dumps the live database (a safety backup; when there is no live database, a warning and no dump; --skip safety-backup goes without one).
  full     restore into a new database beside the live one (with the backup's owners, privileges, locale and database settings; the roles must exist, or use --no-owner --no-privileges), check every table's row count against the manifest, stop the services in restore.stopServices, swap the names in one transaction (live -> <db>_pre_restore_<time>, restored -> <db>), start the services and wait for them to be ready. A failure before the swap leaves the live database untouched; a failure after it rolls the swap back.
  full, from a base backup (BACKUP: its id, or "latest-base")  the whole cluster replaced, physically: the base is read from the first repository whose copy is whole (checksums, age decryption), unpacked as PostgreSQL's user beside the live data directory, WAL replayed on a side port to the end of the archive (or to --target-time), the cluster checked, then switched in place of the live one as pitr does (the old data directory kept; --side-only leaves it beside). A base of another PostgreSQL major is refused: restore a dump instead.
  partial  give the --table tables the backup's rows, in one transaction (or, with --into-schema, restore them beside the live ones for comparison). A table that a table outside the restore references (users: tasks reference it) is merged on its primary key (or a unique key of not-null columns): changed rows updated, missing rows inserted, rows the backup lacks deleted unless something references them (those are kept and listed); the referencing tables are never emptied or cascaded into. Other tables are emptied and reloaded. The tables' own triggers fire for the rows written.
  pitr     a new data directory from the newest base backup before --target-time (BACKUP: a base backup, or "latest"), archived WAL replayed to that time on a side port, checked, then switched in place of the live cluster through its runtime (or, with --side-only, left running on the side port with the next commands printed). A target outside the window the base backups and the WAL archive cover is refused with the window.
With backup.repositories, full and partial read the first repository (in configuration order, or among --repository) whose copy passes; a copy from S3 or encrypted is staged in backup.dir as .restore-staging-<id> and checked whole first, so a fresh host with only the off-site repository and backup.encryption.identityFile restores.
Asks for confirmation on a terminal; needs --yes otherwise. --cleanup removes what an interrupted restore left behind.

Steps of each mode, in order (each can be chosen with --only/--skip):
full:
${stepHelp(restoreFull)}
full, from a base backup:
${stepHelp(restorePhysical)}
partial:
${stepHelp(restorePartial)}
pitr:
${stepHelp(restorePitr)}
--cleanup:
${stepHelp(restoreCleanup)}`
  static override examples = [
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode full',
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode full --dry-run',
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode partial --table tasks --yes',
    '<%= config.bin %> restore database-network_probe-20261125T030000Z --mode partial --table task_results --into-schema compare',
    '<%= config.bin %> restore latest-base --mode full --yes',
    '<%= config.bin %> restore latest-base --mode full --target-time 2026-11-25T03:15:00Z --repository offsite',
    '<%= config.bin %> restore latest --mode pitr --target-time 2026-11-25T03:15:00Z --side-only',
    '<%= config.bin %> restore --cleanup',
  ]
  static override args = {
    backup: Args.string({
      description:
        'backup id (from backup list), the path of its file, directory or manifest in backup.dir, "latest" (the newest dump a backup took; with --mode pitr, the newest base backup before --target-time) or "latest-base" (the newest base backup: a physical full restore)',
    }),
  }
  static override flags = {
    ...jobFlags,
    ...changeFlags,
    ...confirmFlags,
    ...repositoryFlags,
    mode: Flags.string({ description: 'what to restore', options: ['full', 'partial', 'pitr'], default: 'full' }),
    table: Flags.string({ description: 'with --mode partial: a table to restore (repeatable)', multiple: true }),
    'into-schema': Flags.string({ description: 'with --mode partial: restore into this schema beside the live tables' }),
    'target-time': Flags.string({
      description:
        'with --mode pitr, or --mode full from a base backup: the moment to recover to (without it, a base backup is recovered to the end of the WAL archive)',
    }),
    'side-only': Flags.boolean({
      description: 'with --mode pitr, or --mode full from a base backup: leave the recovered cluster running on its side port; do not switch',
    }),
    'no-owner': Flags.boolean({
      description: "with --mode full: the restoring user owns the database and its objects (for a server without the backup's roles)",
    }),
    'no-privileges': Flags.boolean({ description: 'with --mode full: do not restore GRANTs on the database and its objects' }),
    cleanup: Flags.boolean({ description: 'remove what interrupted restores and backups left behind' }),
    'drop-pre-restore': Flags.boolean({ description: 'with --cleanup: also drop the databases kept from before earlier restores' }),
  }

  async run(): Promise<Report> {
    const { flags, args } = await this.parse(Restore)
    const options = restoreOptions({ ...flags, backup: args.backup })
    switch (options.mode) {
      case 'cleanup':
        return this.runJob(restoreCleanup, flags, options)
      case 'full':
        return this.runJob(restoreFull, flags, options)
      case 'partial':
        return this.runJob(restorePartial, flags, options)
      case 'pitr':
        return this.runJob(restorePitr, flags, options)
      case 'physical':
        return this.runJob(restorePhysical, flags, options)
    }
  }
}
