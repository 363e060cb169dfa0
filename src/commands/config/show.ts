import { Command, Flags } from '@oclif/core'
import { stringify } from 'yaml'
import { describeConfig, loadConfig } from '../../config/load.js'
import { UsageError } from '../../errors.js'

export default class ConfigShow extends Command {
  static override summary = 'Print the effective configuration, secrets redacted.'
  static override description = 'Defaults, the configuration file and the environment (PG*, DATABASE_URL, REDIS_URL, DOCKER_HOST, ALERTMANAGER_URL) merged as every command sees them. Passwords show only where they come from.'
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --config /etc/network-probe/probe-ops.yaml --json']
  static override flags = {
    config: Flags.string({ char: 'c', description: 'configuration file' }),
    json: Flags.boolean({ description: 'print as JSON' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigShow)
    try {
      const shown = describeConfig(loadConfig(flags.config))
      process.stdout.write(flags.json ? `${JSON.stringify(shown, null, 2)}\n` : stringify(shown))
    } catch (error) {
      if (error instanceof UsageError) {
        process.stderr.write(`probe-ops: ${error.message}\n${error.hint ? `  ${error.hint}\n` : ''}`)
        this.exit(2)
      }
      throw error
    }
  }
}
