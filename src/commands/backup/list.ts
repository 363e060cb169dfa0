import { JobCommand, jobDescription, jobFlags } from '../../cli/job-command.js'
import { backupList } from '../../jobs/backup/spec.js'
import type { Report } from '../../report/model.js'
import { repositoryFlags, repositoryOption } from '../../cli/repository-flag.js'

export default class BackupList extends JobCommand {
  static override summary = 'List every backup with its kind, age, size and last verification, and what needs cleaning up.'
  static override description = jobDescription(backupList, {
    intro: `Also reports what interrupted backups and restores left behind: unfinished files, data without a manifest, and leftover databases.`,
  })
  static override examples = ['<%= config.bin %> backup list', '<%= config.bin %> backup list --json']
  static override flags = { ...jobFlags, ...repositoryFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(BackupList)
    return this.runJob(backupList, flags, repositoryOption(flags))
  }
}
