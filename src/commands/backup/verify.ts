import { Args, Flags } from '@oclif/core'
import { defineJobCommand } from '../../cli/define-job-command.js'
import { repositoryFlags, repositoryOption } from '../../cli/repository-flag.js'
import { backupVerify } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupVerify, {
  summary: 'Check a backup: its checksum, that pg_restore can read it, and with --restore-test a real restore.',
  description: {
    intro: 'Each result is recorded in the manifest, and `backup list` shows the last one.',
    outro:
      'The restore test reports the restore time and the data-loss window (RTO/RPO), against backup.objectives when set. Each step builds on the one before: a failed one skips the rest.',
  },
  examples: [
    '<%= config.bin %> backup verify database-network_probe-20261125T030000Z',
    '<%= config.bin %> backup verify latest --restore-test --json',
    '<%= config.bin %> backup verify latest-base --restore-test',
    '# crontab: 0 5 * * 0 probe-ops backup verify latest --restore-test --fail-on warning',
  ],
  args: {
    backup: Args.string({
      description:
        'backup id (from backup list), the path of its file, directory or manifest in backup.dir, "latest" (the newest dump a backup took) or "latest-base" (the newest base backup)',
      required: true,
    }),
  },
  flags: {
    ...repositoryFlags,
    'restore-test': Flags.boolean({
      description:
        'also restore it where nothing live runs (a dump into a scratch database, a base backup into a scratch cluster) and measure the restore time and data-loss window',
    }),
  },
  options: ({ flags, args }) => ({ backup: args.backup, restoreTest: flags['restore-test'], ...repositoryOption(flags) }),
})
