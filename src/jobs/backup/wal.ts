import type { Client } from 'pg'
import { applyWalSettings, checkArchiving, readWalSettings } from '../../backups/wal.js'
import { formatSeconds } from '../../errors.js'
import { sleep } from '../../lib/time.js'
import { readRepositoryFile, currentCluster } from '../../repositories/cluster.js'
import { openRepositories } from '../../repositories/open.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { withPostgres } from '../../systems/postgres.js'
import { copiesOf } from '../../wal/archive.js'
import {
  defaultWalCommand,
  fixedBy,
  walCommandSettings,
  settingValue,
  walCommands,
  wantedChanges,
  type WalChange,
  type WalSettings,
} from '../../wal/settings.js'
import type { WalSetupContext } from './context.js'
import type { SettingsData, WalCheckData } from './data.js'
import { checkPostgresCanRun } from './wal-repositories.js'

/**
 * `backup wal-setup`: the settings that make PostgreSQL archive through probe-ops (wal push) and
 * recover through it (wal fetch), shown or (--apply) set and read back, then checked end to end.
 */

const RESTART = 'probe-ops recover postgres --force'
/** How long a reload may take to reach this session before a setting counts as not taken. */
const RELOAD_WAIT_MS = 5_000

function describe(change: WalChange): string {
  return `${change.name}: ${change.from || "''"} -> ${change.to}${change.needsRestart ? ' (restart)' : ''}`
}

/** Changes ALTER SYSTEM cannot make (set on the command line): high findings, whatever --apply. */
function fixedFindings(changes: WalChange[], current: SettingsData['current']): { changeable: WalChange[]; findings: Finding[] } {
  const findings: Finding[] = []
  const changeable: WalChange[] = []
  for (const change of changes) {
    const fixed = fixedBy(change, current)
    if (fixed)
      findings.push({ id: 'wal-setting-fixed', severity: 'high', message: fixed, fix: `set ${change.name} = '${change.to}' where PostgreSQL is started` })
    else changeable.push(change)
  }
  return { changeable, findings }
}

/** A change that shows only after a restart: archive_command reads "(disabled)" while archive_mode is off. */
function waitsForRestart(change: WalChange, settings: WalSettings): boolean {
  return change.needsRestart || (change.name === 'archive_command' && settings.archiveMode === 'off')
}

async function apply(client: Client, context: WalSetupContext, changes: WalChange[], details: string[], base: Finding[]) {
  await checkPostgresCanRun(context)
  await applyWalSettings(client, changes)
  // Read back: a setting PostgreSQL keeps from elsewhere is reported, never assumed set. The
  // reload is a signal each process takes in its own time (this session at its next query).
  const taken = (settings: WalSettings) => changes.every((change) => waitsForRestart(change, settings) || settingValue(settings, change.name) === change.to)
  let after = await readWalSettings(client)
  for (let waited = 0; !taken(after) && waited < RELOAD_WAIT_MS; waited += 100) {
    await sleep(100)
    after = await readWalSettings(client)
  }
  const findings = [...base]
  for (const change of changes)
    if (!waitsForRestart(change, after) && settingValue(after, change.name) !== change.to)
      findings.push({
        id: 'wal-setting-not-taken',
        severity: 'high',
        message: `${change.name} is still ${settingValue(after, change.name) || "''"} after the reload (source: ${after.sources[change.name] ?? 'unknown'})`,
        fix: `set it where that source is, then run probe-ops backup wal-setup`,
      })
  const restart = changes.filter((c) => c.needsRestart).map((c) => c.name)
  context.state.restartNeeded = restart.length > 0
  if (restart.length > 0)
    findings.push({
      id: 'wal-restart-needed',
      severity: 'medium',
      message: 'PostgreSQL must restart for archiving to start',
      fix: `${RESTART}, then probe-ops backup wal-setup to check`,
    })
  const summary =
    restart.length > 0
      ? `applied ${changes.length} settings; ${restart.join(', ')} take effect after a restart`
      : `applied ${changes.length} settings (reloaded, read back)`
  return { summary, findings, details, after }
}

export const settingsStep: StepDefinition<WalSetupContext, SettingsData> = {
  run: (context, run) =>
    withPostgres(context.config.postgres, async (client) => {
      const { state } = context
      const current = await readWalSettings(client)
      const commands = walCommands(walCommandSettings(context.config), defaultWalCommand())
      const changes = wantedChanges(current, walCommandSettings(context.config), defaultWalCommand())
      const data = { commands, current, changes }
      const { changeable, findings } = fixedFindings(changes, current)
      if (changes.length === 0) {
        state.restartNeeded = current.pendingRestart.length > 0
        if (!state.restartNeeded) return { summary: 'archiving through probe-ops wal push', data }
        return {
          summary: `set, but ${current.pendingRestart.join(', ')} waits for a restart`,
          findings: [{ id: 'wal-restart-pending', severity: 'medium', message: 'PostgreSQL must restart for archive_mode to take effect', fix: RESTART }],
          data,
        }
      }
      const details = changes.map(describe)
      if (!context.apply || run.dryRun) {
        state.restartNeeded = true
        return {
          summary: `${changes.length} settings to change (run with --apply)`,
          findings: [
            ...findings,
            {
              id: 'wal-archiving-not-set-up',
              severity: 'medium',
              message: `WAL archiving through probe-ops is not set up: ${changes.map((c) => c.name).join(', ')}`,
              fix: 'probe-ops backup wal-setup --apply',
            },
          ],
          details,
          data,
        }
      }
      const applied = await apply(client, context, changeable, details, findings)
      return { summary: applied.summary, findings: applied.findings, details, data: { ...data, current: applied.after } }
    }),
}

/** Whether every repository lists the segment in its current archive. */
async function inEveryRepository(context: WalSetupContext, segment: string, signal: AbortSignal): Promise<boolean> {
  for (const repository of openRepositories(context.config.backup)) {
    const file = await readRepositoryFile(repository, signal)
    if (!file || (await copiesOf(repository, currentCluster(file).archiveId, segment, signal)).length === 0) return false
  }
  return true
}

export const walCheckStep: StepDefinition<WalSetupContext, WalCheckData> = {
  run: async (context, run) => {
    const { config, state } = context
    if (state.restartNeeded || run.dryRun) return { skipped: true, summary: state.restartNeeded ? 'archiving is not active yet' : 'dry run' }
    return withPostgres(config.postgres, async (client) => {
      const { segment, ms } = await checkArchiving(client, (name) => inEveryRepository(context, name, run.signal))
      return { summary: `segment ${segment} archived in ${formatSeconds(ms)} in every repository`, data: { segment, ms } }
    })
  },
}
