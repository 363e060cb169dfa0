import { defineJobCommand } from '../../cli/define-job-command.js'
import { repositoryFlags, repositoryOption } from '../../cli/repository-flag.js'
import { changeFlags, confirmFlags } from '../../cli/job-command.js'
import { backupPrune } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupPrune, {
  summary: 'Remove backups past their retention (newest N, daily / weekly / monthly).',
  description: {
    intro:
      'Keeps, for each kind, the newest backup.keep.last backups whatever their day (default 3, so that one taken by hand outlives the nightly of the same day), the newest backup of each of the last backup.keep.daily days, .weekly ISO weeks and .monthly months; always the newest good backup of each kind, and the newest base backup (point-in-time recovery starts from it). Safety backups taken by restore never take the place of a scheduled one: each is kept backup.keep.daily days on its own.',
    outro: 'Asks for confirmation on a terminal; needs --yes otherwise. --dry-run shows what would go.',
  },
  examples: ['<%= config.bin %> backup prune --dry-run', '<%= config.bin %> backup prune --yes'],
  flags: { ...repositoryFlags, ...changeFlags, ...confirmFlags },
  options: ({ flags }) => repositoryOption(flags),
})
