import { defineJobCommand } from '../../cli/define-job-command.js'
import { changeFlags } from '../../cli/job-command.js'
import { backupDatabase } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupDatabase, {
  summary: 'Dump the database: checksummed, atomic, private (0600), with a manifest.',
  description: {
    intro: `pg_dump in custom format (or directory format with backup.jobs workers) streamed to a temporary name with its SHA-256 computed on the way, fsynced and renamed into backup.dir beside a JSON manifest (database, server version, sizes, checksum, tables with row counts from the dump's own snapshot). pg_dump runs on this host or in the postgres container (backup.runner); the password reaches it through its environment, never its arguments. A failed or empty dump is a failure and leaves nothing behind.`,
  },
  examples: ['<%= config.bin %> backup database', '<%= config.bin %> backup database --json'],
  flags: changeFlags,
})
