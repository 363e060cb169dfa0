import { Flags } from '@oclif/core'
import { ProbeOpsCommand } from '../../cli/base-command.js'
import { renderConfig } from '../../config/show.js'

export default class ConfigShow extends ProbeOpsCommand {
  static override summary = 'Print the effective configuration as a configuration file, secrets redacted.'
  static override description = `Defaults, the configuration file and the environment (PG*, DATABASE_URL, REDIS_URL, DOCKER_HOST, ALERTMANAGER_URL, PROMETHEUS_URL) merged as every command sees them, written in the file's own schema: the output is a configuration that config validate accepts unchanged. Passwords are never shown: a passwordFile shows as its path, a password inside a URL as [redacted], one from the environment only in the header.`
  static override examples = [
    '<%= config.bin %> config show',
    '<%= config.bin %> config show > probe-ops.yaml',
    '<%= config.bin %> config show --config /etc/network-probe/probe-ops.yaml --json',
  ]
  static override flags = {
    config: Flags.string({ char: 'c', description: 'configuration file' }),
    json: Flags.boolean({ description: 'print the same document as JSON' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigShow)
    await this.print(renderConfig(this.loadConfiguration(flags.config), flags.json ? 'json' : 'yaml'))
  }
}
