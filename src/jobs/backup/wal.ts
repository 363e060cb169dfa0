import { takeBaseBackup } from '../../backups/base.js'
import { applyWalSettings, checkArchiving, prepareWalDir, readWalSettings, walDir, wantedChanges } from '../../backups/wal.js'
import { formatSeconds } from '../../errors.js'
import type { Job, Step } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import { withPostgres } from '../../systems/postgres.js'
import type { BackupContext } from './context.js'

export const baseBackupStep: Step<BackupContext> = {
  id: 'base',
  title: 'Take a base backup (pg_basebackup)',
  cleanupMs: 10_000,
  async run({ config, runtimes, toolVersion }, run) {
    if (run.dryRun) return { summary: `would take a base backup into ${config.backup.dir}` }
    const { manifest, path } = await takeBaseBackup(config, runtimes, { toolVersion, signal: run.signal })
    return {
      summary: `${manifest.id}: ${formatBytes(manifest.bytes)} in ${formatSeconds(manifest.durationMs)}; recovery can target any time after ${manifest.consistentAt}`,
      data: { id: manifest.id, path, bytes: manifest.bytes, consistentAt: manifest.consistentAt },
    }
  },
}

function walSetupSteps(apply: boolean): Step<BackupContext>[] {
  let restartNeeded = false
  const settings: Step<BackupContext> = {
    id: 'settings',
    title: 'WAL archiving settings',
    run: ({ config }, run) =>
      withPostgres(config.postgres, async (client) => {
        const dir = walDir(config)
        const current = await readWalSettings(client)
        const changes = wantedChanges(current, dir)
        const data = { walDir: dir, current, changes }
        if (changes.length === 0) {
          restartNeeded = current.pendingRestart.length > 0
          if (restartNeeded)
            return {
              status: 'warning',
              summary: `set, but ${current.pendingRestart.join(', ')} waits for a restart`,
              data,
              error: { message: 'PostgreSQL must restart for archive_mode to take effect', hint: 'probe-ops recover postgres --force' },
            }
          return { summary: `archiving into ${dir}`, data }
        }
        const listing = changes.map((c) => `${c.name}: ${c.from || "''"} -> ${c.to}${c.needsRestart ? ' (restart)' : ''}`)
        if (!apply || run.dryRun) {
          restartNeeded = true
          return {
            status: 'warning',
            summary: `${changes.length} settings to change (run with --apply)`,
            data: { ...data, details: listing },
            error: { message: `WAL archiving is not set up: ${changes.map((c) => c.name).join(', ')}`, hint: 'probe-ops backup wal-setup --apply' },
          }
        }
        await prepareWalDir(config, config.services.find((s) => s.name === 'postgres')?.dataDir)
        await applyWalSettings(client, changes)
        restartNeeded = changes.some((c) => c.needsRestart)
        if (restartNeeded)
          return {
            status: 'warning',
            summary: `applied ${changes.length} settings; ${changes
              .filter((c) => c.needsRestart)
              .map((c) => c.name)
              .join(', ')} take effect after a restart`,
            data: { ...data, details: listing },
            error: {
              message: 'PostgreSQL must restart for archiving to start',
              hint: 'probe-ops recover postgres --force, then probe-ops backup wal-setup to check',
            },
          }
        return { summary: `applied ${changes.length} settings (reloaded)`, data: { ...data, details: listing } }
      }),
  }
  const check: Step<BackupContext> = {
    id: 'check',
    title: 'Check that a WAL segment reaches the archive',
    run: ({ config }, run) => {
      if (restartNeeded || run.dryRun)
        return Promise.resolve({ status: 'skipped' as const, summary: restartNeeded ? 'archiving is not active yet' : 'dry run' })
      return withPostgres(config.postgres, async (client) => {
        const { segment, ms } = await checkArchiving(client, walDir(config))
        return { summary: `segment ${segment} archived in ${formatSeconds(ms)}`, data: { segment, ms } }
      })
    },
  }
  return [settings, check]
}

export const backupBaseJob: Job<BackupContext> = { command: 'backup base', concurrent: false, steps: [baseBackupStep] }
export function walSetupJob(apply: boolean): Job<BackupContext> {
  return { command: 'backup wal-setup', concurrent: false, steps: walSetupSteps(apply) }
}
