import type { StepWork } from '../../report/runner.js'
import { syncAlerts, type AlertState } from '../../systems/alert-sync.js'
import { diskUsage, formatBytes } from '../../systems/host.js'
import type { MaintenanceContext } from './context.js'

/**
 * Disk usage of the configured paths against the warning and critical percents, pushed to
 * AlertManager through API v2 (the guide posts to the v1 endpoint, gone from current
 * AlertManager), and resolved there once usage is back under the threshold.
 */
export const diskStep: StepWork<MaintenanceContext> = {
  async run({ config }, run) {
    const { warningPercent, criticalPercent } = config.disk
    const disks = await Promise.all(config.disk.paths.map((p) => diskUsage(p)))
    const alerts: AlertState[] = []
    let worst: 'ok' | 'warning' | 'failed' = 'ok'
    const problems: string[] = []
    for (const d of disks) {
      if (d.error) {
        problems.push(`${d.path}: ${d.error}`)
        worst = worst === 'failed' ? worst : 'warning'
        continue
      }
      const level = d.usedPercent! >= criticalPercent ? 'critical' : d.usedPercent! >= warningPercent ? 'warning' : 'ok'
      if (level === 'critical') worst = 'failed'
      else if (level === 'warning' && worst === 'ok') worst = 'warning'
      if (level !== 'ok') problems.push(`${d.path} is ${d.usedPercent}% full (${formatBytes(d.freeBytes!)} free)`)
      const summary = `Disk space usage of ${d.path} is ${d.usedPercent}%`
      alerts.push(
        { alertname: 'DiskSpaceWarning', severity: 'warning', labels: { path: d.path }, summary, firing: level === 'warning' },
        { alertname: 'DiskSpaceCritical', severity: 'critical', labels: { path: d.path }, summary, firing: level === 'critical' },
      )
    }
    if (!run.dryRun) await syncAlerts(config, alerts, run.recordAlert)
    const summary = disks.map((d) => (d.error ? `${d.path} ?` : `${d.path} ${d.usedPercent}%`)).join(', ')
    const data = { warningPercent, criticalPercent, disks, alertsWouldFire: run.dryRun ? alerts.filter((a) => a.firing).map((a) => a.alertname) : undefined }
    if (worst === 'ok') return { summary, data }
    return {
      status: worst,
      summary,
      data,
      error: { message: problems.join('; '), hint: 'free space: old logs, temp files, retention; `probe-ops capacity-report` says when it fills' },
    }
  },
}
