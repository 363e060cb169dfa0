import { JobCommand, jobFlags } from '../../cli/job-command.js'
import { backupContext, backupListJob } from '../../jobs/backup/job.js'
import type { Report } from '../../report/model.js'

export default class BackupList extends JobCommand {
  static override summary = 'List every backup with its kind, age, size and last verification, and what needs cleaning up.'
  static override description = `Also reports what interrupted backups and restores left behind: unfinished files, data without a manifest, and leftover databases.`
  static override examples = ['<%= config.bin %> backup list', '<%= config.bin %> backup list --json']
  static override flags = { ...jobFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(BackupList)
    return this.runPlanned(flags, (config) => ({ job: backupListJob, context: backupContext(config, this.config.version) }))
  }
}
