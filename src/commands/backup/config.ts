import { defineJobCommand } from '../../cli/define-job-command.js'
import { changeFlags } from '../../cli/job-command.js'
import { backupConfig } from '../../jobs/backup/spec.js'

export default defineJobCommand(backupConfig, {
  summary: 'Archive the configuration files (tar.gz, 0600) with a manifest.',
  description: {
    intro: `Archives backup.configPaths (compose files, /etc/network-probe, Prometheus and AlertManager configuration...) into backup.dir. Paths that do not exist are a warning.`,
  },
  examples: ['<%= config.bin %> backup config', '<%= config.bin %> backup config --json'],
  flags: changeFlags,
})
