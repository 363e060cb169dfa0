import { JobCommand, changeFlags, jobDescription, jobFlags } from '../../cli/job-command.js'
import { backupConfig } from '../../jobs/backup/spec.js'
import type { Report } from '../../report/model.js'

export default class BackupConfig extends JobCommand {
  static override summary = 'Archive the configuration files (tar.gz, 0600) with a manifest.'
  static override description = jobDescription(backupConfig, {
    intro: `Archives backup.configPaths (compose files, /etc/network-probe, Prometheus and AlertManager configuration...) into backup.dir. Paths that do not exist are a warning.`,
  })
  static override examples = ['<%= config.bin %> backup config', '<%= config.bin %> backup config --json']
  static override flags = { ...jobFlags, ...changeFlags }

  async run(): Promise<Report> {
    const { flags } = await this.parse(BackupConfig)
    return this.runJob(backupConfig, flags, {})
  }
}
