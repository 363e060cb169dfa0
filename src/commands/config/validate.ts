import { Flags } from '@oclif/core'
import { ProbeOpsCommand } from '../../cli/base-command.js'
import { findConfigFile } from '../../config/load.js'

export default class ConfigValidate extends ProbeOpsCommand {
  static override summary = 'Check the configuration file: every error names its line and key.'
  static override examples = ['<%= config.bin %> config validate', '<%= config.bin %> config validate --config ./probe-ops.yaml']
  static override flags = {
    config: Flags.string({ char: 'c', description: 'configuration file' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigValidate)
    const config = this.loadConfiguration(flags.config)
    const file = findConfigFile(flags.config)
    await this.print(
      `${file ?? 'no configuration file; the defaults'} ${file ? 'is valid' : 'apply'}: ${config.services.length} services (${config.services.map((s) => `${s.name}/${s.runtime}`).join(', ')})\n`,
    )
  }
}
