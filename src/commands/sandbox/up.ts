import { Flags } from '@oclif/core'
import { ProbeOpsCommand } from '../../cli/base-command.js'
import { sandboxDirFlag } from '../../cli/sandbox-flags.js'
import { DEFAULT_SEED } from '../../sandbox/schema.js'
import { shellQuote } from '../../sandbox/layout.js'
import { sandboxUp, type UpResult } from '../../sandbox/up.js'
import { formatSeconds } from '../../errors.js'

export default class SandboxUp extends ProbeOpsCommand {
  static override summary = 'Start a throwaway local platform to try every command on.'
  static override description = `PostgreSQL 15 with the platform's schema and --days of task results, Redis with a password, AlertManager (when installed), stand-ins for the management API and web UI, and the monitoring the guide deploys when its programs are installed (Prometheus with the guide's alert rules, the node/postgres/redis exporters, --agents generated agents, Loki receiving their logs), each a background process on 127.0.0.1 at a free port, everything under --dir. Writes DIR/probe-ops.yaml, which points probe-ops at it all. Running it again while the sandbox runs changes nothing; \`sandbox down\` removes it. Run as root, PostgreSQL runs as the postgres OS user.`
  static override examples = ['<%= config.bin %> sandbox up', '<%= config.bin %> sandbox up --dir /tmp/probe-sandbox --days 30 --rows-per-day 10000']
  static override flags = {
    dir: sandboxDirFlag('directory that holds the sandbox (created when missing)'),
    days: Flags.integer({ description: 'days of task results to generate, ending now', default: DEFAULT_SEED.days, min: 1, max: 3650 }),
    'rows-per-day': Flags.integer({ description: 'task results per day', default: DEFAULT_SEED.rowsPerDay, min: 1, max: 1_000_000 }),
    agents: Flags.integer({ description: 'generated agents for Prometheus to scrape (0 for none)', default: DEFAULT_SEED.agents, min: 0, max: 2000 }),
    loki: Flags.string({ description: 'Grafana Loki server binary (default: `loki` on PATH, or the one scripts/install-test-deps.sh installs)' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxUp)
    const result = await sandboxUp({
      dir: flags.dir,
      days: flags.days,
      rowsPerDay: flags['rows-per-day'],
      agents: flags.agents,
      loki: flags.loki,
      onProgress: (line) => process.stderr.write(`  ${line}\n`),
    })
    await this.print(render(result, this.config.bin))
  }
}

function render(result: UpResult, bin: string): string {
  const { state } = result
  const dir = shellQuote(result.dir)
  const config = shellQuote(result.configFile)
  const c = state.components
  const data = state.data ? `  ${state.postgres?.database}: ${state.data.rows.toLocaleString('en-US')} task results over ${state.data.days} days` : ''
  const lines = [
    result.alreadyRunning
      ? `Sandbox already running in ${result.dir}; nothing changed.`
      : `Sandbox running in ${result.dir} (up in ${formatSeconds(result.durationMs)}).`,
    `  postgres      ${c.postgres?.address}${data}`,
    `  redis         ${c.redis?.address}`,
    `  alertmanager  ${c.alertmanager?.address}${c.alertmanager?.standIn ? '  (stand-in)' : ''}`,
    `  management    ${c.management?.address}`,
    `  web           ${c.web?.address}`,
    ...monitoringLines(state),
    `  config        ${result.configFile}  (passwords in ${result.dir}/secrets)`,
    ...state.notes.map((n) => `  note: ${n}`),
    '',
    'Next:',
    `  ${bin} diagnose --config ${config}`,
    `  ${bin} config show --config ${config}`,
    `  export PROBE_OPS_CONFIG=${config}    # then every command uses the sandbox`,
    `  ${bin} sandbox status --dir ${dir}`,
    `  ${bin} sandbox down --dir ${dir}`,
    '',
  ]
  return lines.join('\n')
}

function monitoringLines(state: UpResult['state']): string[] {
  const c = state.components
  const agents = state.agents ?? []
  const troubled = agents.filter((agent) => agent.state !== 'healthy').map((agent) => `${agent.id} ${agent.state}`)
  const line = (name: string, value: string | undefined) => (value ? [`  ${name.padEnd(13)} ${value}`] : [])
  return [
    ...line('prometheus', c.prometheus?.address),
    ...line('loki', c.loki?.address),
    ...line('agents', c.agents && `${agents.length} generated${troubled.length > 0 ? ` (${troubled.join(', ')})` : ''}`),
    ...line(
      'exporters',
      (['node-exporter', 'postgres-exporter', 'redis-exporter'] as const).flatMap((name) => (c[name] ? [`${name} ${c[name].address}`] : [])).join(', '),
    ),
  ]
}
