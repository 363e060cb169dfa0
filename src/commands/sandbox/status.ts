import { Flags } from '@oclif/core'
import { ProbeOpsCommand } from '../../cli/base-command.js'
import { sandboxDirFlag } from '../../cli/sandbox-flags.js'
import { sandboxStatus, type SandboxStatus } from '../../sandbox/status.js'

export default class SandboxStatusCommand extends ProbeOpsCommand {
  static override summary = 'Show whether each part of the sandbox runs, and where.'
  static override description = 'Exits 0 when every component runs, 1 when some or all are down or there is no sandbox.'
  static override examples = ['<%= config.bin %> sandbox status', '<%= config.bin %> sandbox status --dir /tmp/probe-sandbox --json']
  static override flags = {
    dir: sandboxDirFlag(),
    json: Flags.boolean({ description: 'print as JSON' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxStatusCommand)
    const status = await sandboxStatus(flags.dir)
    await this.print(flags.json ? `${JSON.stringify(status, null, 2)}\n` : render(status))
    if (status.status !== 'running') this.exit(1)
  }
}

function render(status: SandboxStatus): string {
  if (status.status === 'absent') return `No sandbox in ${status.dir}.\n`
  const lines = [`Sandbox in ${status.dir}: ${status.status}`]
  for (const c of status.components) {
    const name = `${c.name}${c.standIn ? ' (stand-in)' : ''}`.padEnd(26)
    lines.push(`  ${name}${(c.running ? 'running' : 'stopped').padEnd(9)}${(c.pid ? `pid ${c.pid}` : '').padEnd(11)}${c.address ?? ''}`)
  }
  if (status.configFile) lines.push(`  config                    ${status.configFile}`)
  if (status.data) lines.push(`  data                      ${status.data.rows.toLocaleString('en-US')} task results over ${status.data.days} days`)
  return `${lines.join('\n')}\n`
}
