import { defineJobCommand } from '../../cli/define-job-command.js'
import { repositoryFlags, repositoryOption } from '../../cli/repository-flag.js'
import { backupList } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupList, {
  summary: 'List every backup with its kind, age, size and last verification, and what needs cleaning up.',
  description: {
    intro: `Also reports what interrupted backups and restores left behind: unfinished files, data without a manifest, and leftover databases.`,
  },
  examples: ['<%= config.bin %> backup list', '<%= config.bin %> backup list --json'],
  flags: repositoryFlags,
  options: ({ flags }) => repositoryOption(flags),
})
