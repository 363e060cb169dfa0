import { Flags } from '@oclif/core'
import { JobCommand, jobDescription, jobFlags } from '../../cli/job-command.js'
import { backupWalSetup } from '../../jobs/backup/spec.js'
import type { Report } from '../../report/model.js'

export default class BackupWalSetup extends JobCommand {
  static override summary = 'Show, or with --apply set, the WAL archiving point-in-time recovery needs, and check it works.'
  static override description = jobDescription(backupWalSetup, {
    intro:
      'Wants wal_level replica, archive_mode on, archive_command copying into backup.walDir without overwriting, archive_timeout 300 s. --apply sets them with ALTER SYSTEM and reloads; archive_mode needs a restart (probe-ops recover postgres --force). Then it forces a WAL switch and waits for the segment to reach the archive.',
  })
  static override examples = ['<%= config.bin %> backup wal-setup', '<%= config.bin %> backup wal-setup --apply']
  static override flags = {
    ...jobFlags,
    apply: Flags.boolean({ description: 'change the settings (ALTER SYSTEM, reload)' }),
    'dry-run': Flags.boolean({ description: 'show what would change' }),
  }

  async run(): Promise<Report> {
    const { flags } = await this.parse(BackupWalSetup)
    return this.runJob(backupWalSetup, flags, { apply: flags.apply })
  }
}
