import { Args, Flags } from '@oclif/core'
import { JobCommand, jobDescription, jobFlags } from '../../cli/job-command.js'
import { backupVerify } from '../../jobs/backup/spec.js'
import type { Report } from '../../report/model.js'
import { repositoryFlags, repositoryOption } from '../../cli/repository-flag.js'

export default class BackupVerify extends JobCommand {
  static override summary = 'Check a backup: its checksum, that pg_restore can read it, and with --restore-test a real restore.'
  static override description = jobDescription(backupVerify, {
    intro: 'Each result is recorded in the manifest, and `backup list` shows the last one.',
    outro: 'The restore test reports how long the restore took. Each step builds on the one before: a failed one skips the rest.',
  })
  static override examples = [
    '<%= config.bin %> backup verify database-network_probe-20261125T030000Z',
    '<%= config.bin %> backup verify latest --restore-test --json',
    '# crontab: 0 5 * * 0 probe-ops backup verify latest --restore-test --fail-on warning',
  ]
  static override args = {
    backup: Args.string({
      description:
        'backup id (from backup list), the path of its file, directory or manifest in backup.dir, "latest" (the newest dump a backup took) or "latest-base" (the newest base backup)',
      required: true,
    }),
  }
  static override flags = {
    ...jobFlags,
    ...repositoryFlags,
    'restore-test': Flags.boolean({ description: 'also restore it into a scratch database and compare row counts' }),
  }

  async run(): Promise<Report> {
    const { flags, args } = await this.parse(BackupVerify)
    return this.runJob(backupVerify, flags, { backup: args.backup, restoreTest: flags['restore-test'], ...repositoryOption(flags) })
  }
}
