/**
 * Disk usage against the configured warning and critical percents, rated the same in diagnose's
 * host step and maintain daily's disk step.
 */

import { formatSize } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'
import type { DiskUsage } from '../../systems/host.js'

export interface DiskThresholds {
  warningPercent: number
  criticalPercent: number
}

export type DiskLevel = 'ok' | 'warning' | 'critical' | 'unreadable'

export function diskLevel(disk: DiskUsage, thresholds: DiskThresholds): DiskLevel {
  if (disk.error !== undefined || disk.usedPercent === undefined) return 'unreadable'
  if (disk.usedPercent >= thresholds.criticalPercent) return 'critical'
  if (disk.usedPercent >= thresholds.warningPercent) return 'warning'
  return 'ok'
}

/**
 * A disk past its critical percent puts the platform's data at risk (PostgreSQL stops writing
 * when it is full); past the warning percent it is worth planning for. A path that could not be
 * measured is never called fine.
 */
export function diskFindings(disks: readonly DiskUsage[], thresholds: DiskThresholds): Finding[] {
  return disks.flatMap((disk): Finding[] => {
    const level = diskLevel(disk, thresholds)
    if (level === 'ok') return []
    if (level === 'unreadable')
      return [
        {
          id: `disk-unreadable:${disk.path}`,
          severity: 'medium',
          subject: disk.path,
          message: `disk path ${disk.path}: ${disk.error ?? 'not measured'}`,
          fix: 'fix disk.paths in the configuration',
        },
      ]
    const message = `disk ${disk.path} is ${disk.usedPercent}% full (${formatSize(disk.freeBytes ?? 0)} free)`
    return [
      level === 'critical'
        ? {
            id: `disk-full:${disk.path}`,
            severity: 'critical',
            subject: disk.path,
            message,
            fix: 'free space: `probe-ops maintain daily --only clean-logs,clean-temp,retention`; `probe-ops capacity-report` says what grows',
          }
        : { id: `disk-full:${disk.path}`, severity: 'medium', subject: disk.path, message, fix: '`probe-ops capacity-report` says when it fills' },
    ]
  })
}

/** "/var 41%, /data ?": each path's use in a few characters. */
export function describeDisks(disks: readonly DiskUsage[]): string {
  return disks.map((d) => (d.error ? `${d.path} ?` : `${d.path} ${d.usedPercent}%`)).join(', ')
}
