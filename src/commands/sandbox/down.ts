import { ProbeOpsCommand } from '../../cli/base-command.js'
import { sandboxDirFlag } from '../../cli/sandbox-flags.js'
import { sandboxDown } from '../../sandbox/down.js'

export default class SandboxDown extends ProbeOpsCommand {
  static override summary = 'Stop the sandbox and remove its directory.'
  static override description =
    'Stops PostgreSQL (a fast shutdown, as pg_ctl stop -m fast sends) and the other services (SIGTERM, SIGKILL after 10 s), then removes --dir. Does nothing when there is no sandbox, and refuses a directory that `sandbox up` did not make.'
  static override examples = ['<%= config.bin %> sandbox down', '<%= config.bin %> sandbox down --dir /tmp/probe-sandbox']
  static override flags = {
    dir: sandboxDirFlag(),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxDown)
    const result = await sandboxDown(flags.dir)
    if (!result.existed) await this.print(`No sandbox in ${result.dir}: nothing to stop.\n`)
    else if (result.stopped.length === 0) await this.print(`Nothing of the sandbox was running; removed ${result.dir}.\n`)
    else await this.print(`Stopped ${result.stopped.join(', ')}; removed ${result.dir}.\n`)
  }
}
