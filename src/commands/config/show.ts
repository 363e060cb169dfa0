import { Flags } from '@oclif/core'
import { ProbeOpsCommand } from '../../cli/base-command.js'
import { stringify } from 'yaml'
import { describeConfig } from '../../config/load.js'

export default class ConfigShow extends ProbeOpsCommand {
  static override summary = 'Print the effective configuration, secrets redacted.'
  static override description = 'Defaults, the configuration file and the environment (PG*, DATABASE_URL, REDIS_URL, DOCKER_HOST, ALERTMANAGER_URL) merged as every command sees them. Passwords show only where they come from.'
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --config /etc/network-probe/probe-ops.yaml --json']
  static override flags = {
    config: Flags.string({ char: 'c', description: 'configuration file' }),
    json: Flags.boolean({ description: 'print as JSON' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigShow)
    const shown = describeConfig(this.loadConfiguration(flags.config))
    await this.print(flags.json ? `${JSON.stringify(shown, null, 2)}\n` : stringify(shown))
  }
}
