import { Flags } from '@oclif/core'
import { defineJobCommand } from '../../cli/define-job-command.js'
import { backupWalSetup } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupWalSetup, {
  summary: 'Show, or with --apply set, the WAL archiving point-in-time recovery needs, and check it works.',
  description: {
    intro:
      "Wants wal_level replica, archive_mode on, archive_command = probe-ops wal push %p, restore_command = probe-ops wal fetch %f %p (this Node and this probe-ops, or backup.wal.command), archive_timeout = backup.wal.archiveTimeoutSeconds. --apply sets them with ALTER SYSTEM, reloads and reads them back (one set on the command line is reported, not assumed), writes each repository's cluster file and gives PostgreSQL's OS user its local wal/; archive_mode needs a restart (probe-ops recover postgres --force). PostgreSQL in a container is refused until it can run the command. Then it forces a WAL switch and waits for the segment to reach every repository.",
  },
  examples: ['<%= config.bin %> backup wal-setup', '<%= config.bin %> backup wal-setup --apply'],
  flags: {
    apply: Flags.boolean({ description: 'change the settings (ALTER SYSTEM, reload)' }),
    'dry-run': Flags.boolean({ description: 'show what would change' }),
    'new-archive': Flags.boolean({
      description:
        'with --apply: a repository that belongs to another cluster (before an upgrade or a restore of the platform) starts a new archive generation for this server; its old backups and WAL stay listed',
      dependsOn: ['apply'],
    }),
  },
  options: ({ flags }) => ({ apply: flags.apply, newArchive: flags['new-archive'] }),
})
