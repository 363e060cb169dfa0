import { defineJobCommand } from '../../cli/define-job-command.js'
import { changeFlags } from '../../cli/job-command.js'
import { backupBase } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupBase, {
  summary: 'Take a physical base backup: the start of point-in-time recovery.',
  description: {
    intro:
      'pg_basebackup in tar format, compressed, with the WAL it needs to be consistent, into backup.dir with a manifest (checksums, and the moment from which recovery can target). Point-in-time recovery replays the WAL archive (probe-ops backup wal-setup) on top of it.',
  },
  examples: ['<%= config.bin %> backup base', '<%= config.bin %> backup base --json'],
  flags: changeFlags,
})
