import { Flags } from '@oclif/core'
import { defineJobCommand } from '../../cli/define-job-command.js'
import { backupWalSetup } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupWalSetup, {
  summary: 'Show, or with --apply set, the WAL archiving point-in-time recovery needs, and check it works.',
  description: {
    intro:
      'Wants wal_level replica, archive_mode on, archive_command copying into backup.walDir without overwriting, archive_timeout 300 s. --apply sets them with ALTER SYSTEM and reloads; archive_mode needs a restart (probe-ops recover postgres --force). Then it forces a WAL switch and waits for the segment to reach the archive.',
  },
  examples: ['<%= config.bin %> backup wal-setup', '<%= config.bin %> backup wal-setup --apply'],
  flags: {
    apply: Flags.boolean({ description: 'change the settings (ALTER SYSTEM, reload)' }),
    'dry-run': Flags.boolean({ description: 'show what would change' }),
  },
  options: ({ flags }) => ({ apply: flags.apply }),
})
