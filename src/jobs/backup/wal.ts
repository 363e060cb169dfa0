import { applyWalSettings, checkArchiving, prepareWalDir, readWalSettings, walDir, wantedChanges } from '../../backups/wal.js'
import { formatSeconds } from '../../errors.js'
import type { StepDefinition } from '../../report/outcome.js'
import { withPostgres } from '../../systems/postgres.js'
import type { WalSetupContext } from './context.js'
import type { SettingsData, WalCheckData } from './data.js'

/** `backup wal-setup`: the WAL archiving point-in-time recovery needs, shown or (--apply) set, then checked. */

const RESTART = 'probe-ops recover postgres --force'

export const settingsStep: StepDefinition<WalSetupContext, SettingsData> = {
  run: (context, run) =>
    withPostgres(context.config.postgres, async (client) => {
      const { config, state } = context
      const dir = walDir(config)
      const current = await readWalSettings(client)
      const changes = wantedChanges(current, dir)
      const data = { walDir: dir, current, changes }
      if (changes.length === 0) {
        state.restartNeeded = current.pendingRestart.length > 0
        if (!state.restartNeeded) return { summary: `archiving into ${dir}`, data }
        return {
          summary: `set, but ${current.pendingRestart.join(', ')} waits for a restart`,
          findings: [{ id: 'wal-restart-pending', severity: 'medium', message: 'PostgreSQL must restart for archive_mode to take effect', fix: RESTART }],
          data,
        }
      }
      const details = changes.map((c) => `${c.name}: ${c.from || "''"} -> ${c.to}${c.needsRestart ? ' (restart)' : ''}`)
      if (!context.apply || run.dryRun) {
        state.restartNeeded = true
        return {
          summary: `${changes.length} settings to change (run with --apply)`,
          findings: [
            {
              id: 'wal-archiving-not-set-up',
              severity: 'medium',
              message: `WAL archiving is not set up: ${changes.map((c) => c.name).join(', ')}`,
              fix: 'probe-ops backup wal-setup --apply',
            },
          ],
          details,
          data,
        }
      }
      await prepareWalDir(config, config.services.find((s) => s.name === 'postgres')?.dataDir)
      await applyWalSettings(client, changes)
      const restart = changes.filter((c) => c.needsRestart).map((c) => c.name)
      state.restartNeeded = restart.length > 0
      if (!state.restartNeeded) return { summary: `applied ${changes.length} settings (reloaded)`, details, data }
      return {
        summary: `applied ${changes.length} settings; ${restart.join(', ')} take effect after a restart`,
        findings: [
          {
            id: 'wal-restart-needed',
            severity: 'medium',
            message: 'PostgreSQL must restart for archiving to start',
            fix: `${RESTART}, then probe-ops backup wal-setup to check`,
          },
        ],
        details,
        data,
      }
    }),
}

export const walCheckStep: StepDefinition<WalSetupContext, WalCheckData> = {
  run: async ({ config, state }, run) => {
    if (state.restartNeeded || run.dryRun) return { skipped: true, summary: state.restartNeeded ? 'archiving is not active yet' : 'dry run' }
    return withPostgres(config.postgres, async (client) => {
      const { segment, ms } = await checkArchiving(client, walDir(config))
      return { summary: `segment ${segment} archived in ${formatSeconds(ms)}`, data: { segment, ms } }
    })
  },
}
