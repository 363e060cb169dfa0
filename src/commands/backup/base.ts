import { JobCommand, changeFlags, jobDescription, jobFlags } from '../../cli/job-command.js'
import { backupBase } from '../../jobs/backup/spec.js'
import type { Report } from '../../report/model.js'

export default class BackupBase extends JobCommand {
  static override summary = 'Take a physical base backup: the start of point-in-time recovery.'
  static override description = jobDescription(backupBase, {
    intro:
      'pg_basebackup in tar format, compressed, with the WAL it needs to be consistent, into backup.dir with a manifest (checksums, and the moment from which recovery can target). Point-in-time recovery replays the WAL archive (probe-ops backup wal-setup) on top of it.',
  })
  static override examples = ['<%= config.bin %> backup base', '<%= config.bin %> backup base --json']
  static override flags = { ...jobFlags, ...changeFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(BackupBase)
    return this.runJob(backupBase, flags, {})
  }
}
