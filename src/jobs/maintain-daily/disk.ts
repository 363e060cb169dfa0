import type { StepDefinition } from '../../report/outcome.js'
import { syncAlerts, type AlertState } from '../../systems/alert-sync.js'
import { diskUsage, type DiskUsage } from '../../systems/host.js'
import { describeDisks, diskFindings, diskLevel, type DiskThresholds } from '../shared/disk-usage.js'
import type { MaintenanceContext } from './context.js'
import type { DiskData } from './data.js'

/**
 * The alerts that keep AlertManager in line with each measured path: DiskSpaceWarning and
 * DiskSpaceCritical, each firing at its own level and resolved otherwise. A path that could not
 * be measured neither fires nor resolves anything.
 */
export function diskAlerts(disks: readonly DiskUsage[], thresholds: DiskThresholds): AlertState[] {
  return disks.flatMap((disk): AlertState[] => {
    const level = diskLevel(disk, thresholds)
    if (level === 'unreadable') return []
    const summary = `Disk space usage of ${disk.path} is ${disk.usedPercent}%`
    return [
      { alertname: 'DiskSpaceWarning', severity: 'warning', labels: { path: disk.path }, summary, firing: level === 'warning' },
      { alertname: 'DiskSpaceCritical', severity: 'critical', labels: { path: disk.path }, summary, firing: level === 'critical' },
    ]
  })
}

/**
 * Disk usage of the configured paths against the warning and critical percents, pushed to
 * AlertManager through API v2 (the guide posts to the v1 endpoint, gone from current
 * AlertManager), and resolved there once usage is back under the threshold.
 */
export const disk: StepDefinition<MaintenanceContext, DiskData> = {
  async run({ config }, run) {
    const { warningPercent, criticalPercent } = config.disk
    const disks = await Promise.all(config.disk.paths.map((p) => diskUsage(p)))
    const alerts = diskAlerts(disks, config.disk)
    if (!run.dryRun) await syncAlerts(config, alerts, run.recordAlert)
    return {
      summary: describeDisks(disks),
      findings: diskFindings(disks, config.disk),
      data: { warningPercent, criticalPercent, disks, ...(run.dryRun ? { alertsWouldFire: alerts.filter((a) => a.firing).map((a) => a.alertname) } : {}) },
    }
  },
}
